"""Plane homographies: how a flat layer at some depth looks from a posed pinhole camera.

The reference image is a plane seen by the base camera (identity pose). A layer of it placed
at depth ``Z`` maps source pixel ``p`` to the world point ``X = Z · K_src⁻¹ p``; a camera with
camera-to-world pose ``(R, t)`` and intrinsics ``K`` sees it at ``K Rᵀ (X − t)``. Since the
third coordinate of ``K_src⁻¹ p`` is 1, that is the homography ``K Rᵀ (Z K_src⁻¹ − t e₃ᵀ)``.
At the base pose every depth gives the same picture; camera translation moves near layers
more than far ones, which is the parallax.
"""

from __future__ import annotations

import numpy as np

_E3 = np.array([0.0, 0.0, 1.0])


def plane_homography(k_out: np.ndarray, c2w: np.ndarray, k_src_inv: np.ndarray, depth: float) -> np.ndarray:
    """3x3 homography from source pixels of a layer at ``depth`` to output pixels."""
    r = c2w[:3, :3]
    t = c2w[:3, 3]
    m = depth * k_src_inv - np.outer(t, _E3)
    h = k_out @ r.T @ m
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


def apply_homography(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 3x3 homography."""
    p = np.concatenate([np.asarray(pts, dtype=np.float64), np.ones((len(pts), 1))], axis=1) @ h.T
    return p[:, :2] / p[:, 2:3]


def translate(dx: float, dy: float) -> np.ndarray:
    """3x3 translation matrix."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scale(s: float) -> np.ndarray:
    """3x3 uniform scale matrix about the origin."""
    return np.array([[s, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, 1.0]])
