"""The photo's own teeth: how far down its open mouth the photo is kept, and which part rides on the jaw.

Measured once per shot on the (graded) layer at the rest landmarks, column by column across the mouth.
The photo is kept, fixed to the skull, from the upper lip down to the teeth's biting edge — found near the
landmarks' lower inner lip as the sharpest fall from bright teeth to the darker lip, to a fraction of a
pixel — so no rim of the lower lip stays behind when the jaw drops. Where the photo shows both rows, the
lower row is what lies below the darkest line between them: it moves with the jaw. The rest of the
opening is left to the painted interior.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mesh import INNER_LIPS, LOWER_CHAIN, UPPER_CHAIN
from .warp import bounding_region

SEARCH_UP, SEARCH_DOWN = 3.0, 1.5  # where to look for the biting edge around the lower inner lip (layer px)
_SHIFT = 3


@dataclass(frozen=True)
class TeethMatte:
    """Upper (skull) and lower (jaw) weights 0..1 of the photo over a patch of the layer at ``origin`` (x, y)."""

    origin: tuple[int, int]
    upper: np.ndarray  # (h, w) float32: the photo from the upper lip down to the upper teeth's biting edge
    lower: np.ndarray  # (h, w) float32: the lower row of teeth, if the photo shows one
    has_lower: bool


def _smooth(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a if abs(b - a) > 1e-6 else 1e-6), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _curve_v(points: np.ndarray, c: np.ndarray, ex: np.ndarray, ey: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A lip line (chain of points) as v(u) in the mouth's axes (piecewise linear, ends held)."""
    rel = points - c
    pu, pv = rel @ ex, rel @ ey
    k = np.argsort(pu)
    return np.interp(u, pu[k], pv[k])


def teeth_matte(layer: np.ndarray, pts: np.ndarray, lip_lab: np.ndarray) -> TeethMatte | None:
    """Where the photo's open mouth is kept (``pts``: the rest mesh in layer pixels; ``lip_lab``: the lips'
    median L*a*b*), or None for a mouth too small to measure."""
    h, w = layer.shape[:2]
    box = bounding_region(pts[list(INNER_LIPS)], w, h, margin=5)
    if box.empty or min(box.size) < 4:
        return None
    crop = np.ascontiguousarray(layer[box.y0:box.y1, box.x0:box.x1, :3]).astype(np.float32) / 255.0
    lum = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)[..., 0]
    shape = crop.shape[:2]
    ex = pts[64] - pts[60]
    ex = ex / max(float(np.linalg.norm(ex)), 1e-9)
    ey = np.array([-ex[1], ex[0]])
    c = pts[list(INNER_LIPS)].mean(axis=0)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    qx, qy = xs + box.x0 - c[0], ys + box.y0 - c[1]
    u = qx * ex[0] + qy * ex[1]
    v = qx * ey[0] + qy * ey[1]
    v_up = _curve_v(pts[list(UPPER_CHAIN)], c, ex, ey, u)
    v_lo = _curve_v(pts[list(LOWER_CHAIN)], c, ex, ey, u)
    cols = np.round(u).astype(int)
    c0 = int(cols.min())
    cols -= c0
    n_cols = int(cols.max()) + 1
    lip_l = float(lip_lab[0])
    edge = np.full(n_cols, np.nan)
    split = np.full(n_cols, np.nan)
    for k in range(n_cols):
        col = cols == k
        lo = float(np.median(v_lo[col]))
        up = float(np.median(v_up[col]))
        order = np.argsort(v[col])
        vv, ll = v[col][order], lum[col][order]
        edge[k] = _biting_edge(vv, ll, lo)
        split[k] = _row_gap(vv, ll, up, lo, lip_l)
    edge = _fill(edge)
    has_lower = int(np.isfinite(split).sum()) >= max(3.0, 0.25 * float(np.linalg.norm(pts[64] - pts[60])))
    if has_lower:
        edge = np.where(np.isfinite(split), split, edge)
    edge = _smooth_edge(edge)
    upper = 1.0 - _smooth(-0.5, 0.5, v - edge[cols])
    upper = np.maximum(upper, _smooth(0.5, -1.0, v - v_up))  # the photo above the upper inner lip stays
    lower = np.zeros_like(upper)
    if has_lower:
        lower = _smooth(-0.5, 0.5, v - edge[cols]) * (1.0 - _smooth(-0.5, 1.0, v - v_lo))
    return TeethMatte(origin=(box.x0, box.y0), upper=upper.astype(np.float32), lower=lower.astype(np.float32),
                      has_lower=bool(has_lower))


def _biting_edge(v: np.ndarray, lum: np.ndarray, lip_v: float) -> float:
    """In one column (pixels sorted by ``v``), the sharpest fall of brightness near the lower inner lip
    ``lip_v`` — bright teeth above, darker lip below — to a fraction of a pixel; just above the lip line when
    there is no clear fall (a dark opening, or teeth as dark as the lip)."""
    near = (v >= lip_v - SEARCH_UP) & (v <= lip_v + SEARCH_DOWN)
    if near.sum() < 3:
        return lip_v - 0.5
    vv, ll = v[near], lum[near]
    drop = ll[:-1] - ll[1:]
    j = int(np.argmax(drop))
    if drop[j] < 6.0:  # less than 6 L* units: no edge worth following
        return lip_v - 0.5
    # Sub-pixel: the centre of the fall, weighted by the neighbouring falls.
    w = np.clip(drop[max(0, j - 1):j + 2], 0.0, None)
    mids = 0.5 * (vv[max(0, j - 1):j + 2][:len(w)] + vv[max(1, j):j + 3][:len(w)])
    return float((w * mids).sum() / max(w.sum(), 1e-6))


def _row_gap(v: np.ndarray, lum: np.ndarray, up: float, lo: float, lip_l: float) -> float:
    """The v of a dark line between an upper and a lower row of teeth in one column, or NaN where the
    column shows one row (or none): the darkest point of the opening's middle, clearly darker than the lips,
    with something brighter than the lips on both sides."""
    gap = lo - up
    if gap < 4.0:
        return np.nan
    mid = (v > up + 0.2 * gap) & (v < lo - 0.2 * gap)
    if mid.sum() < 2:
        return np.nan
    j = np.flatnonzero(mid)[int(np.argmin(lum[mid]))]
    if lum[j] > 0.75 * lip_l:
        return np.nan
    above = lum[(v < v[j] - 0.5) & (v > up)]
    below = lum[(v > v[j] + 0.5) & (v < lo)]
    if above.size and below.size and above.max() > lip_l + 10 and below.max() > lip_l + 10:
        return float(v[j])
    return np.nan


def _fill(edge: np.ndarray) -> np.ndarray:
    """NaN columns take their neighbours' values."""
    ok = np.isfinite(edge)
    if not ok.any():
        return np.zeros_like(edge)
    k = np.arange(len(edge))
    return np.interp(k, k[ok], edge[ok])


def _smooth_edge(edge: np.ndarray) -> np.ndarray:
    """A biting edge without single-column spikes: a 3-median, then a light blur along the row."""
    from scipy.ndimage import gaussian_filter1d, median_filter

    return gaussian_filter1d(median_filter(edge, size=3, mode="nearest"), 0.8, mode="nearest")
