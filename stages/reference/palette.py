"""Bring every photo into the singer photo's palette, so cuts between looks and scenes do not jump in colour.

A partial Reinhard transfer in CIE L*a*b*: each channel of a photo is moved part of the way from
its own mean and spread to the singer photo's (``KIND_STRENGTH`` per kind and channel: the chroma
channels more than lightness, so a night scene stays dark while its colour cast joins the
singer's; looks more than scenes, since they must read as the same person under the same light).
A look with a face is matched by its face: the move is measured between the two faces' boxes and
applied to the whole photo, so the skin meets the singer's skin whatever the background (measured
over the whole photo, a magenta studio wall turned the face green).
The section grades of the renderer then act on photos that already share one palette. The singer's
own photo is never changed. `stages.assemble.colour` holds the statistics, the transfer and its
strengths (the assembler's ``--colour-match`` uses them too). The matched image is loaded with the
assembler's colour module only when a photo is matched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VERSION = "3"

Box = tuple[int, int, int, int]


def match_palette(
    image_rgb: np.ndarray, singer_rgb: np.ndarray, kind: str, faces: tuple[Box, Box] | None = None
) -> np.ndarray:
    """``image_rgb`` brought toward the palette of ``singer_rgb`` (RGB uint8 in, RGB uint8 out); with ``faces``
    (boxes x0, y0, x1, y1 of the photo's and the singer's main face) the move is measured between the faces."""
    from stages.assemble.colour import KIND_STRENGTH, apply_transform, lab_stats, partial_transfer

    if kind == "singer":
        return image_rgb
    own, singer = image_rgb, singer_rgb
    if faces is not None:
        own, singer = _crop(image_rgb, faces[0]), _crop(singer_rgb, faces[1])
    t = partial_transfer(lab_stats([own]), lab_stats([singer]), KIND_STRENGTH[kind])
    return apply_transform(image_rgb, t)


def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The part of ``image`` inside ``box`` (clipped to it; the whole image when nothing is left)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    return image[y0:y1, x0:x1] if x1 - x0 >= 4 and y1 - y0 >= 4 else image


def write_matched(photo: Path, singer: Path, kind: str, out: Path, faces: tuple[Box, Box] | None = None) -> Path:
    """Write ``photo`` matched to the palette of ``singer`` as a PNG at ``out`` (atomically); return ``out``."""
    import cv2

    from mvdirector.media.atomic import atomic_output
    from mvdirector.media.image import load_image

    matched = match_palette(load_image(photo), load_image(singer), kind, faces)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(matched, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB image
        raise RuntimeError(f"could not encode the palette-matched copy of {photo.name}")
    with atomic_output(out) as tmp:
        Path(tmp).write_bytes(buf.tobytes())
    return out
