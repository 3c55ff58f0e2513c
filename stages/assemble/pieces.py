"""The assembler's pieces: which output frames are copied from a clip and which are re-encoded.

Frames a transition or a grade changes are decoded, composed and encoded again (``encode_piece``);
everything else is copied packet for packet. ``make_parts`` returns one file per piece, taking
re-encoded pieces from a cache when the same piece was made before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvdirector.errors import MvError
from mvdirector.media.video import VideoWriter
from mvdirector.rules import CODECS
from mvdirector.schemas import ShotClip, ShotPlan
from stages.assemble import colour as colour_mod
from stages.assemble import concat
from stages.assemble import memo as memo_mod
from stages.assemble.config import VERSION, AssembleConfig
from stages.assemble.timeline import Piece, TransitionWindow, edit_pieces
from stages.assemble.transitions import compose, opening_frame


@dataclass(frozen=True)
class Ctx:
    """One assembly: the plan, its clips and their frame ranges, transitions, grades and clip indexes."""

    plan: ShotPlan
    clips: list[ShotClip]
    ranges: list[tuple[int, int]]
    windows_in: dict[int, TransitionWindow]
    transforms: dict[int, colour_mod.ColourTransform]
    config: AssembleConfig
    indexes: list[concat.ClipIndex]


def _encoder_signature(plan: ShotPlan, config: AssembleConfig, folder: Path) -> concat.StreamSignature:
    """The stream signature our encoder produces at the plan's size and rate (a 2-frame probe)."""
    probe = folder / f"probe{CODECS[config.codec].segment_suffix}"
    frame = np.zeros((plan.render.height, plan.render.width, 3), np.uint8)
    with VideoWriter(
        probe,
        plan.render.width,
        plan.render.height,
        plan.render.fps,
        crf=config.crf,
        codec=config.codec,
        preset=config.preset,
    ) as w:
        w.write(frame)
        w.write(frame)
    return concat.stream_signature(probe)


def _graded(ctx: Ctx, i: int, frame: np.ndarray) -> np.ndarray:
    t = ctx.transforms.get(i)
    return frame if t is None else colour_mod.apply_transform(frame, t)


def _one_frame(ctx: Ctx, i: int, k: int) -> np.ndarray:
    frames = list(concat.decode_range(ctx.indexes[i], k, 1))
    if not frames:
        raise MvError(f"clip of shot '{ctx.plan.shots[i].id}' has no frame {k}", "re-render the shot")
    return _graded(ctx, i, frames[0])


def encode_piece(ctx: Ctx, piece: Piece, out: Path) -> int:
    """Decode global frames ``[piece.start, piece.end)`` from their clips, grade them, apply the
    transitions and encode them to ``out``; return the frames written."""
    plan, cfg = ctx.plan, ctx.config
    r = plan.render
    prev_last: tuple[int, np.ndarray] | None = None  # (shot, its graded last frame) when decoded here
    with VideoWriter(out, r.width, r.height, r.fps, crf=cfg.crf, codec=cfg.codec, preset=cfg.preset) as writer:
        for i, (first, end) in enumerate(ctx.ranges):
            lo, hi = max(first, piece.start), min(end, piece.end)
            if lo >= hi:
                continue
            w_in = ctx.windows_in.get(i)
            w_out = ctx.windows_in.get(i + 1)
            a_last: np.ndarray | None = None
            if i > 0 and w_in is not None and w_in.after and lo < w_in.end:
                if prev_last is not None and prev_last[0] == i - 1:
                    a_last = prev_last[1]
                else:
                    a_last = _one_frame(ctx, i - 1, ctx.ranges[i - 1][1] - ctx.ranges[i - 1][0] - 1)
            b_first = None
            if w_out is not None and w_out.before and hi > w_out.start:
                b_first = _one_frame(ctx, i + 1, 0)
            dir_in = plan.shots[i].camera.direction
            dir_out = plan.shots[i + 1].camera.direction if w_out is not None else 1
            written, frame = 0, None
            for k, raw in enumerate(concat.decode_range(ctx.indexes[i], lo - first, hi - lo)):
                g = lo + k
                frame = _graded(ctx, i, raw)
                out_frame = frame
                if w_in is not None and g < w_in.end:
                    a = a_last if a_last is not None else opening_frame(w_in.kind, frame)
                    out_frame = compose(w_in, g, a, frame, dir_in)
                elif w_out is not None and b_first is not None and g >= w_out.start:
                    out_frame = compose(w_out, g, frame, b_first, dir_out)
                writer.write(out_frame)
                written += 1
            if written != hi - lo:
                raise MvError(
                    f"clip of shot '{plan.shots[i].id}' decodes to too few frames "
                    f"({written} of {hi - lo} from frame {lo - first})",
                    "re-render the shot",
                )
            if hi == end and frame is not None:
                prev_last = (i, frame)
    return writer.frames


def plan_pieces(ctx: Ctx, windows: list[TransitionWindow], tmp: Path) -> list[Piece]:
    """Which output frames are copied from which clip and which are re-encoded."""
    plan, cfg = ctx.plan, ctx.config
    n = len(plan.shots)
    if cfg.codec != "h264" or cfg.reencode == "always":
        return [Piece(0, plan.n_frames)]
    enc = _encoder_signature(plan, cfg, tmp)
    redo = set(ctx.transforms) | {i for i, ix in enumerate(ctx.indexes) if not ix.signature.joinable(enc)}
    resumes = [ix.resumes for ix in ctx.indexes]
    cuts = [ix.cuts for ix in ctx.indexes]
    pieces = edit_pieces(ctx.ranges, windows, redo, resumes, cuts)
    if not any(p.copy for p in pieces) and n:
        return [Piece(0, plan.n_frames)]
    return pieces


def _piece_key(ctx: Ctx, piece: Piece, ids: memo_mod.ContentIds) -> str:
    """Everything that decides the frames of a re-encoded piece, hashed."""
    involved: set[int] = set()
    for i in memo_mod.shots_overlapping(ctx.ranges, piece.start, piece.end):
        involved.add(i)
        w_in, w_out = ctx.windows_in.get(i), ctx.windows_in.get(i + 1)
        if i > 0 and w_in is not None and w_in.after:
            involved.add(i - 1)
        if w_out is not None and w_out.before:
            involved.add(i + 1)
    r, cfg = ctx.plan.render, ctx.config
    return memo_mod.digest(
        {
            "version": VERSION,
            "piece": [piece.start, piece.end],
            "encoder": [cfg.codec, cfg.crf, cfg.preset, r.width, r.height, r.fps],
            "shots": {
                str(i): {
                    "clip": ids.of(ctx.indexes[i].path),
                    "range": ctx.ranges[i],
                    "window_in": ctx.windows_in.get(i),
                    "transform": ctx.transforms.get(i),
                    "direction": ctx.plan.shots[i].camera.direction,
                }
                for i in sorted(involved)
            },
            "window_after": ctx.windows_in.get(max(involved) + 1) if involved else None,
        }
    )


def part_ids(ctx: Ctx, pieces: list[Piece], ids: memo_mod.ContentIds) -> list[str]:
    """A content identity per piece: the clip and range it copies, or the key of its encode."""
    out = []
    for p in pieces:
        if p.shot is not None:
            first = ctx.ranges[p.shot][0]
            out.append(f"copy:{ids.of(ctx.indexes[p.shot].path)}:{p.start - first}:{p.end - first}")
        else:
            out.append(f"enc:{_piece_key(ctx, p, ids)}")
    return out


MAX_ENCODERS = 4
"""Pieces encoded side by side at most (each is a decoding thread and an x264 process)."""


def make_parts(
    ctx: Ctx,
    pieces: list[Piece],
    tmp: Path,
    step: Callable[[float, str], None],
    cache: memo_mod.PieceCache | None = None,
    ids: memo_mod.ContentIds | None = None,
) -> list[Path]:
    """One file per piece: the clip itself (or a remuxed part of it) when copied, else a new encode
    (taken from ``cache`` when the same piece was encoded before)."""
    ids = ids or memo_mod.ContentIds()
    parts: list[Path] = []
    todo: list[tuple[Piece, Path]] = []  # pieces to encode, side by side (decoding and x264 release the GIL)
    suffix = CODECS[ctx.config.codec].segment_suffix
    for k, piece in enumerate(pieces):
        if piece.shot is not None:
            ix = ctx.indexes[piece.shot]
            first = ctx.ranges[piece.shot][0]
            start, end = piece.start - first, piece.end - first
            if (start, end) == (0, ix.frames):
                parts.append(ix.path)
            else:
                part = tmp / f"part{k:04d}.mp4"
                concat.copy_range(ix, part, start, end)
                parts.append(part)
            continue
        seg = cache.path(_piece_key(ctx, piece, ids)) if cache is not None else tmp / f"part{k:04d}{suffix}"
        if (cache is None or not seg.is_file()) and all(seg != other for _, other in todo):
            todo.append((piece, seg))
        parts.append(seg)
    total = max(1, sum(p.end - p.start for p, _ in todo))
    done = 0
    workers = max(1, min(len(todo), os.cpu_count() or 1, MAX_ENCODERS))
    with ThreadPoolExecutor(workers, thread_name_prefix="piece") as pool:
        running = {pool.submit(encode_piece, ctx, piece, seg): piece for piece, seg in todo}
        for future in as_completed(running):
            future.result()
            piece = running[future]
            done += piece.end - piece.start
            step(done / total, f"re-encoded frames {piece.start}-{piece.end - 1}")
    step(1.0, "pieces ready")
    return parts
