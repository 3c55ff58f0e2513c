"""Picture of the transitions: crossfade, flash (to white and back) and whip (directional blur).

Every function maps one frame of a ``TransitionWindow`` to an output frame from the
outgoing frame ``a`` and the incoming frame ``b`` at the same position. Clips carry no
handles, so inside the window the side that has run out of frames is held on its edge
frame (the outgoing shot's last frame after the cut, the incoming shot's first frame
before it) — the usual freeze-frame transition of an editor without handles.

Weights: with ``k`` the frame's offset in its half, the outgoing half runs
``(k + 1) / (before + 1)`` and the incoming half ``1 - k / after``, so the cut frame (the
incoming shot's first frame) carries the full effect: pure white for a flash, the fastest
blur for a whip, and a crossfade passes through one half exactly at the cut.
"""

from __future__ import annotations

import cv2
import numpy as np

from stages.assemble.timeline import TransitionWindow

WHIP_MAX_SHIFT = 0.5
"""Largest whip translation as a fraction of the frame width (at the cut)."""
WHIP_MAX_BLUR = 0.2
"""Longest whip blur kernel as a fraction of the frame width (at the cut)."""


def effect_weight(w: TransitionWindow, frame: int) -> float:
    """Strength 0..1 of the flash/whip at global ``frame``; 1 on the cut frame, 0 outside the window."""
    if frame < w.start or frame >= w.end:
        return 0.0
    if frame < w.cut:
        return (frame - w.start + 1) / (w.before + 1)
    return 1.0 - (frame - w.cut) / w.after


def crossfade_alpha(w: TransitionWindow, frame: int) -> float:
    """Weight 0..1 of the incoming shot at global ``frame`` (0.5 at the cut for a centred fade)."""
    if frame < w.start:
        return 0.0
    if frame >= w.end:
        return 1.0
    return (frame - w.start + 0.5) / w.length if w.before else (frame - w.cut + 1) / (w.after + 1)


def crossfade(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha)·a + alpha·b`` as uint8."""
    return cv2.addWeighted(a, 1.0 - alpha, b, alpha, 0.0)


def flash(frame: np.ndarray, weight: float) -> np.ndarray:
    """Blend ``frame`` towards white by ``weight`` (1 = pure white)."""
    return cv2.addWeighted(frame, 1.0 - weight, np.full_like(frame, 255), weight, 0.0)


def whip(frame: np.ndarray, weight: float, shift_sign: int) -> np.ndarray:
    """Translate ``frame`` horizontally by ``shift_sign·weight²·WHIP_MAX_SHIFT·W`` and blur it along x."""
    h, wd = frame.shape[:2]
    shift = shift_sign * (weight**2) * WHIP_MAX_SHIFT * wd
    m = np.array([[1.0, 0.0, shift], [0.0, 1.0, 0.0]], dtype=np.float32)
    out = cv2.warpAffine(frame, m, (wd, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    k = int(round(weight * WHIP_MAX_BLUR * wd))
    if k >= 2:
        out = cv2.blur(out, (k, 1), borderType=cv2.BORDER_REFLECT101)
    return out


def compose(w: TransitionWindow, frame: int, a: np.ndarray, b: np.ndarray, direction: int = 1) -> np.ndarray:
    """The output frame at global ``frame`` inside window ``w`` from outgoing ``a`` and incoming ``b``.

    ``direction`` +1 whips to the right (the picture moves left), -1 to the left.
    """
    if w.kind == "crossfade":
        return crossfade(a, b, crossfade_alpha(w, frame))
    weight = effect_weight(w, frame)
    side = a if frame < w.cut else b
    if w.kind == "flash":
        return flash(side, weight)
    if w.kind == "whip":
        # The outgoing picture leaves towards -direction; the incoming one arrives from +direction.
        sign = -direction if frame < w.cut else direction
        return whip(side, weight, sign)
    raise ValueError(f"unknown transition kind '{w.kind}'")


def opening_frame(kind: str, like: np.ndarray) -> np.ndarray:
    """The virtual outgoing frame of a transition into the first shot: white for a flash, else black."""
    return np.full_like(like, 255 if kind == "flash" else 0)
