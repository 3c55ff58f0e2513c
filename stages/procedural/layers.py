"""Subject/background separation and the padded layers the virtual camera films.

The singer is cut out with GrabCut seeded from the face (sure foreground: the landmark hull)
and a body box below it (probable foreground), with the top and side borders as sure
background. Without a face the seed is the salient region. The background behind the
singer is inpainted (Telea) at a small size, where only its colours matter. Both are made
once per reference at ``ANALYSIS_SIDE`` and warped to each shot's working window.

``ShotLayers`` holds, for one shot, the image region the camera can see, at the working
scale: the flat image, the background with the subject removed, the premultiplied subject
(RGBA) and the affine map from reference pixels to working pixels. Where the window looks
past the image, the picture is extended with a blurred mirror that fades to dark
(edge-aware padding), so pull-outs and wide framings never show hard black borders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mvdirector.schemas import ReferenceInfo
from stages.render.framing import FrameWindow, saliency_centre

log = logging.getLogger(__name__)

ANALYSIS_SIDE = 480
"""Long side (pixels) at which the matte and the inpainted background are computed."""
PAD_FADE = 0.35
"""Brightness the mirrored padding fades to at one window-size away from the image."""


@dataclass(frozen=True)
class Separation:
    """A subject matte and a subject-free background, both at analysis size."""

    scale: float  # analysis pixels per reference pixel
    matte: np.ndarray  # (h, w) float32 0..1, 1 = subject
    background: np.ndarray  # (h, w, 3) uint8, subject inpainted away
    coverage: float  # fraction of the image that is subject

    @property
    def usable(self) -> bool:
        """A matte covering 2–70 % of the image; anything else is treated as 'no subject'."""
        return 0.02 <= self.coverage <= 0.7


def save_separation(sep: Separation, path: Path) -> None:
    """Keep a separation on disk (atomically) so another process can skip GrabCut and inpainting."""
    from mvdirector.media.atomic import atomic_output

    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, scale=sep.scale, matte=sep.matte, background=sep.background, coverage=sep.coverage)


def load_separation(path: Path) -> Separation | None:
    """A separation saved by `save_separation`, or None when missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return Separation(
                scale=float(z["scale"]),
                matte=z["matte"].astype(np.float32),
                background=z["background"].astype(np.uint8),
                coverage=float(z["coverage"]),
            )
    except (OSError, KeyError, ValueError):
        return None


def separate(image_rgb: np.ndarray, reference: ReferenceInfo, iterations: int = 4) -> Separation:
    """Cut the subject from the background (GrabCut) and inpaint the background behind it."""
    h, w = image_rgb.shape[:2]
    s = min(1.0, ANALYSIS_SIDE / max(h, w))
    small = cv2.resize(image_rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    mask = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    face = reference.primary_face
    if face is not None:
        x0, y0, x1, y1 = (v * s for v in face.box)
        fw, fh = x1 - x0, y1 - y0
        cx = (x0 + x1) / 2
        # Probable subject: head (with hair) and a body widening below the face.
        _fill(mask, cx - 0.9 * fw, y0 - 0.7 * fh, cx + 0.9 * fw, y1 + 0.3 * fh, cv2.GC_PR_FGD)
        _fill(mask, cx - 1.7 * fw, y1 + 0.3 * fh, cx + 1.7 * fw, sh, cv2.GC_PR_FGD)
        # Portrait prior: the neck and the torso core right under the face are the singer.
        _fill(mask, cx - 0.4 * fw, y1 - 0.1 * fh, cx + 0.4 * fw, y1 + 0.7 * fh, cv2.GC_FGD)
        torso = np.array([[cx - 0.9 * fw, y1 + 0.6 * fh], [cx + 0.9 * fw, y1 + 0.6 * fh],
                          [cx + 1.3 * fw, y1 + 1.5 * fh], [cx + 1.3 * fw, y1 + 4.0 * fh],
                          [cx - 1.3 * fw, y1 + 4.0 * fh], [cx - 1.3 * fw, y1 + 1.5 * fh]])
        cv2.fillPoly(mask, [np.round(torso).astype(np.int32)], cv2.GC_FGD)
        if len(face.landmarks) >= 68:
            hull = cv2.convexHull((np.asarray(face.landmarks) * s).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, cv2.GC_FGD)
        else:
            _fill(mask, x0 + 0.2 * fw, y0 + 0.2 * fh, x1 - 0.2 * fw, y1 - 0.1 * fh, cv2.GC_FGD)
        # Far from the singer is surely background.
        band = max(2, round(0.02 * min(sh, sw)))
        mask[:band, :][mask[:band, :] == cv2.GC_PR_BGD] = cv2.GC_BGD
        side = np.zeros_like(mask, dtype=bool)
        side[:, :band] = True
        side[:, sw - band:] = True
        mask[side & (mask == cv2.GC_PR_BGD)] = cv2.GC_BGD
    else:
        cx, cy = saliency_centre(small)
        r = 0.22 * min(sh, sw)
        _fill(mask, cx - r, cy - 1.3 * r, cx + r, cy + 1.6 * r, cv2.GC_PR_FGD)
    try:
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)
        cv2.grabCut(small, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
        hard = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error as e:  # degenerate images (flat colour) make GrabCut's GMM fail
        log.info("GrabCut failed (%s); no subject layer", e)
        hard = np.zeros((sh, sw), np.uint8)
    hard = _fill_holes(_largest_components(hard))
    coverage = float(hard.mean())
    k = max(1.0, 0.006 * max(sh, sw))
    # Edge-aware soft matte: the guided filter lets the cut follow hair and shoulders in the picture.
    matte = guided_filter(small, hard.astype(np.float32), radius=max(2, round(2 * k)), eps=2e-3)
    matte = cv2.GaussianBlur(np.clip(matte, 0.0, 1.0), (0, 0), 0.5 * k)
    hole = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)), iterations=2)
    if coverage > 0:
        background = _inpaint_behind(small, hole, max(3.0, 0.02 * max(sh, sw)))
        filled = cv2.GaussianBlur(background, (0, 0), 1.5 * k)
        soft = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), k)[..., None]
        background = (background * (1 - soft) + filled * soft).astype(np.uint8)
    else:
        background = small.copy()
    return Separation(scale=s, matte=matte, background=background, coverage=coverage)


INPAINT_SIDE = 240  # the background behind the subject is inpainted at most this large, then enlarged


def _inpaint_behind(image: np.ndarray, hole: np.ndarray, radius: float) -> np.ndarray:
    """``image`` with the ``hole`` (uint8 0/1) filled by Telea inpainting. Its cost grows with the hole's
    pixels times the radius squared, and the fill is blurred afterwards anyway, so a large picture is
    inpainted at a smaller size and only the hole takes the enlarged result."""
    h, w = image.shape[:2]
    f = min(1.0, INPAINT_SIDE / max(h, w))
    if f > 0.75:
        return cv2.inpaint(image, hole * 255, radius, cv2.INPAINT_TELEA)
    size = (max(8, round(w * f)), max(8, round(h * f)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST) | cv2.resize(
        hole, size, interpolation=cv2.INTER_AREA)
    filled = cv2.inpaint(small, small_hole * 255, max(2.0, radius * f), cv2.INPAINT_TELEA)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None].astype(bool), up, image)


def guided_filter(guide_rgb: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide: smooths ``src`` while keeping the guide's edges."""
    i = cv2.cvtColor(guide_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    p = src.astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(i), box(p)
    var_i = box(i * i) - mean_i * mean_i
    cov_ip = box(i * p) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * i + box(b)


def _fill(mask: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: int) -> None:
    h, w = mask.shape
    a, b = int(np.clip(round(x0), 0, w)), int(np.clip(round(x1), 0, w))
    c, d = int(np.clip(round(y0), 0, h)), int(np.clip(round(y1), 0, h))
    if b > a and d > c:
        mask[c:d, a:b] = value


def _fill_holes(binary: np.ndarray) -> np.ndarray:
    """Fill background regions fully enclosed by the subject (a dark collar, a shadow on the chest)."""
    h, w = binary.shape
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flood[1:-1, 1:-1] = binary
    outside = flood.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    holes = outside[1:-1, 1:-1] == 0
    out = binary.copy()
    out[holes] = 1
    return out


def _largest_components(binary: np.ndarray, keep_fraction: float = 0.15) -> np.ndarray:
    """Drop specks: keep connected components at least ``keep_fraction`` of the largest."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 2:
        return binary
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= keep_fraction * areas.max()) + 1
    return np.isin(labels, keep).astype(np.uint8)


@dataclass(frozen=True)
class ShotLayers:
    """What one shot's camera films, at working scale (see the module doc)."""

    to_work: np.ndarray  # 3x3 affine: reference pixels -> working pixels
    flat: np.ndarray  # (h, w, 4) uint8 the whole picture (RGBX: 4 channels warp faster than 3)
    background: np.ndarray | None  # (h, w, 4) uint8 subject removed, or None without a subject layer
    subject: np.ndarray | None  # (h, w, 4) uint8 premultiplied RGB + alpha


def working_region(window: FrameWindow, image_w: int, image_h: int, margin: float = 0.5) -> tuple[float, ...]:
    """Reference-pixel box (x0, y0, x1, y1) the camera may see: the window grown by ``margin`` each side."""
    x0 = window.cx - (0.5 + margin) * window.width
    x1 = window.cx + (0.5 + margin) * window.width
    y0 = window.cy - (0.5 + margin) * window.height
    y1 = window.cy + (0.5 + margin) * window.height
    return x0, y0, x1, y1


def build_layers(
    image_rgb: np.ndarray,
    window: FrameWindow,
    out_height: int,
    separation: Separation | None,
    oversample: float = 1.3,
    grade: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ShotLayers:
    """Crop, scale and pad the reference (and its layers) to what this shot's camera can see.

    ``grade`` (in place, uint8 RGB) is applied to the pictures before they are layered, so a shot's
    per-shot colour grade is paid once instead of on every frame."""
    ih, iw = image_rgb.shape[:2]
    x0, y0, x1, y1 = working_region(window, iw, ih)
    s = min(1.0, oversample * out_height / window.height)
    wx, wy = round((x1 - x0) * s), round((y1 - y0) * s)
    to_work = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s], [0.0, 0.0, 1.0]])
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    flat = _affine(image_rgb, to_work, (wx, wy), interp, cv2.BORDER_REFLECT_101)
    outside = _outside_fade(to_work, iw, ih, (wx, wy), window.height * s)
    flat = _pad_blend(flat, outside)
    if grade is not None:
        flat = grade(np.ascontiguousarray(flat))
    if separation is None or not separation.usable:
        return ShotLayers(to_work=to_work, flat=_rgbx(flat), background=None, subject=None)
    from_small = to_work @ np.diag([1 / separation.scale, 1 / separation.scale, 1.0])
    alpha = _affine(separation.matte, from_small, (wx, wy), cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    alpha = np.clip(alpha, 0.0, 1.0)
    fill = _affine(separation.background, from_small, (wx, wy), cv2.INTER_LINEAR, cv2.BORDER_REFLECT_101)
    if grade is not None:
        fill = grade(fill)
    # The inpainted colours replace the subject (and a rim around it) in the background layer.
    rim = cv2.dilate(alpha, np.ones((3, 3), np.uint8), iterations=max(1, round(4 * s)))
    background = cv2.blendLinear(flat, fill, 1.0 - rim, rim)
    background = _pad_blend(background, outside)
    a8 = np.round(alpha * 255).astype(np.uint8)
    premult = cv2.multiply(flat, cv2.cvtColor(a8, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)
    subject = cv2.merge([*cv2.split(premult), a8])
    return ShotLayers(to_work=to_work, flat=_rgbx(flat), background=_rgbx(background), subject=subject)


def _rgbx(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)


def _affine(img: np.ndarray, m: np.ndarray, size: tuple[int, int], interp: int, border: int) -> np.ndarray:
    return cv2.warpAffine(img, m[:2], size, flags=interp, borderMode=border)


def _outside_fade(to_work: np.ndarray, iw: int, ih: int, size: tuple[int, int], window_h: float) -> np.ndarray | None:
    """Per working pixel: 1 inside the image, fading towards ``PAD_FADE`` outside; None if all inside."""
    wx, wy = size
    inv = np.linalg.inv(to_work)
    xs = inv[0, 0] * (np.arange(wx) + 0.5) + inv[0, 2]
    ys = inv[1, 1] * (np.arange(wy) + 0.5) + inv[1, 2]
    dx = np.maximum(0.0, np.maximum(-xs, xs - iw)) * to_work[0, 0]
    dy = np.maximum(0.0, np.maximum(-ys, ys - ih)) * to_work[1, 1]
    if dx.max() <= 0 and dy.max() <= 0:
        return None
    d = np.sqrt(dx[None, :] ** 2 + dy[:, None] ** 2)
    return (1.0 - (1.0 - PAD_FADE) * np.clip(d / max(1.0, 0.5 * window_h), 0.0, 1.0)).astype(np.float32)


def _pad_blend(img: np.ndarray, fade: np.ndarray | None) -> np.ndarray:
    """Blur and darken the mirrored padding outside the image (``fade`` < 1 there)."""
    if fade is None:
        return img
    h, w = img.shape[:2]
    # A wide blur, done at 1/4 size: the padding only needs to carry colours, not detail.
    small = cv2.resize(img, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(1.0, 0.004 * max(h, w)))
    blurred = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    f8 = np.round(fade * 255).astype(np.uint8)
    dark = cv2.multiply(blurred, cv2.cvtColor(f8, cv2.COLOR_GRAY2RGB), scale=1.0 / 255.0)
    out = img.copy()
    cv2.copyTo(dark, (f8 < 255).astype(np.uint8), out)  # much faster than boolean-mask indexing
    return out
