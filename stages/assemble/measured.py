"""Measurements a renderer took itself, and the report's mouth strip.

A renderer that knows where the singer is (the procedural one) measures identity and colour on
frames it already has and hands them over as ``ShotClip.metrics`` (``identity_*``, ``lab_*``; see
``stages.procedural.measure``). The assembler then decodes nothing for those shots but one thumbnail
frame. It also reports the mouth's box on frames spread over a sung line (``strip<k>_*``), from which
``mouth_strip`` cuts a strip of mouth crops for ``report.html``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mvdirector.schemas import ShotClip, ShotPlan
from stages.assemble.colour import LabStats, stats_from_metrics
from stages.assemble.consistency import Identity

STRIP_NAME = "mouth-strip.jpg"
STRIP_TILE = 128
STRIP_FRAMINGS = ("extreme_close_up", "close_up", "medium")


def from_metrics(metrics: dict[str, float]) -> tuple[LabStats | None, Identity | None]:
    """The colour statistics and identity a renderer measured itself (None for what it did not)."""
    stats = stats_from_metrics(metrics)
    ident = None
    if "identity_sampled" in metrics:
        ident = Identity(
            distance=metrics.get("identity_distance"),
            similarity=metrics.get("identity_similarity"),
            frames_with_face=int(metrics.get("identity_frames", 0)),
            frames_sampled=int(metrics["identity_sampled"]),
        )
    return stats, ident


def _strip_boxes(metrics: dict[str, float]) -> list[tuple[int, float, float, float]]:
    out = []
    k = 0
    while f"strip{k}_frame" in metrics:
        out.append((int(metrics[f"strip{k}_frame"]), metrics[f"strip{k}_cx"], metrics[f"strip{k}_cy"],
                    metrics[f"strip{k}_size"]))
        k += 1
    return out


def mouth_strip(plan: ShotPlan, clips: list[ShotClip], folder: Path) -> tuple[Path, str] | None:
    """Write ``folder/mouth-strip.jpg`` (mouth crops over one sung line, from the clip with the largest
    mouth in a close framing); return it with its caption, or None when no clip reported strip boxes."""
    from stages.assemble.concat import clip_index, decode_range

    best = None
    for shot, clip in zip(plan.shots, clips, strict=True):
        boxes = _strip_boxes(clip.metrics)
        if len(boxes) < 4 or shot.framing not in STRIP_FRAMINGS:
            continue
        size = float(np.median([b[3] for b in boxes]))
        if best is None or size > best[0]:
            best = (size, shot, clip, boxes)
    if best is None:
        return None
    _, shot, clip, boxes = best
    index = clip_index(clip.path)
    first, last = boxes[0][0], boxes[-1][0]
    frames = dict(zip(range(first, last + 1), decode_range(index, first, last - first + 1), strict=False))
    tiles = []
    for k, cx, cy, size in boxes:
        frame = frames.get(k)
        if frame is None:
            continue
        half = max(8, int(round(0.65 * size)))
        x0, y0 = int(round(cx)) - half, int(round(cy)) - half
        pad = cv2.copyMakeBorder(frame, half, half, half, half, cv2.BORDER_REPLICATE)
        crop = pad[y0 + half:y0 + 3 * half, x0 + half:x0 + 3 * half]
        tiles.append(cv2.resize(crop, (STRIP_TILE, STRIP_TILE), interpolation=cv2.INTER_AREA))
    if not tiles:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / STRIP_NAME
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        return None
    out.write_bytes(buf.tobytes())
    line = shot.lyric.line if shot.lyric is not None else ""
    return out, f"shot '{shot.id}': “{line}”"
