"""Smooth lip outlines from landmark chains, and anti-aliased polygon masks of them."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .mesh import LOWER_CHAIN, UPPER_CHAIN

_SHIFT = 3  # fixed-point bits for sub-pixel polygon rasterisation


@lru_cache(maxsize=16)
def _cr_basis(n_points: int, per_segment: int) -> np.ndarray:
    """Matrix taking an open chain of ``n_points`` to its Catmull-Rom curve (ends reflected)."""
    eye = np.eye(n_points)
    ext = np.concatenate([2 * eye[:1] - eye[1:2], eye, 2 * eye[-1:] - eye[-2:-1]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    rows = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        rows.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                           + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    rows.append(eye[-1:])
    return np.concatenate(rows)


def smooth_chain(points: np.ndarray, per_segment: int = 6) -> np.ndarray:
    """A Catmull-Rom curve through an open chain of points (ends kept), ``per_segment`` samples per span."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return p
    return _cr_basis(len(p), per_segment) @ p


def inner_outline(pts: np.ndarray) -> np.ndarray:
    """The inner-lip opening as a smooth closed outline (upper curve 60→64, lower curve back), with the
    lower curve never above the upper one: lips pressed past each other leave no opening."""
    upper = smooth_chain(pts[list(UPPER_CHAIN)], 4)
    lower = smooth_chain(pts[list(LOWER_CHAIN[::-1])], 4)  # 60 → 64, like the upper curve
    d = pts[64] - pts[60]
    ey = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
    overlap = np.minimum((lower - upper) @ ey, 0.0)
    lower = lower - overlap[:, None] * ey
    return np.concatenate([upper, lower[::-1][1:-1]])


def poly_mask(shape: tuple[int, int], polys: list[np.ndarray], origin: tuple[float, float]) -> np.ndarray:
    """uint8 (0/255, anti-aliased) mask of ``polys`` (points in a frame whose pixel (0, 0) of ``shape`` is
    ``origin``)."""
    m = np.zeros(shape, np.uint8)
    pts = [np.round((p - origin) * (1 << _SHIFT)).astype(np.int32) for p in polys]
    cv2.fillPoly(m, pts, 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m
