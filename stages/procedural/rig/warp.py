"""The piecewise-affine warp of a picture by the displaced face mesh.

Per frame the displaced triangles are rasterised (their ids) on a grid over the face's region, every
grid node gets the affine map of its triangle back to where that point is in the rest mesh, and the
picture is sampled once through that map with ``cv2.remap``. The grid is every pixel where precision
matters (the rig uses it when the camera magnifies the layer) or a coarse one, upsampled — the map is
continuous across triangle edges, so bilinear upsampling errs only by a fraction of a pixel — with the
lips always exact, since closed lips make the map jump. Everything outside the mesh is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..projection import apply_homography

GRID_STEP = 4  # pixels between nodes of the coarse map
EXACT_PIXELS = 150_000  # regions up to this size get the exact map at every pixel
_SHIFT = 4  # fixed-point bits for sub-pixel polygon rasterisation


@dataclass(frozen=True)
class Region:
    """An output-pixel box ``[x0, x1) × [y0, y1)``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def empty(self) -> bool:
        """True when the box has no pixels."""
        return self.x1 <= self.x0 or self.y1 <= self.y0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.x1 - self.x0, self.y1 - self.y0


def bounding_region(points: np.ndarray, width: int, height: int, margin: int = 2) -> Region:
    """Output box around ``points`` (N, 2), grown by ``margin`` and clipped to the frame."""
    lo = np.floor(points.min(axis=0)).astype(int) - margin
    hi = np.ceil(points.max(axis=0)).astype(int) + margin + 1
    return Region(max(0, int(lo[0])), max(0, int(lo[1])), min(width, int(hi[0])), min(height, int(hi[1])))


def triangle_affines(dst: np.ndarray, src: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T, 2, 3) affine maps taking each ``dst`` triangle onto its ``src`` triangle.

    Degenerate destination triangles (collapsed holes) get a pure translation: they cover no pixels
    of their own, and the grid nodes that rasterisation may still give them stay close to their
    neighbours."""
    t = dst[triangles]  # (T, 3, 2)
    s = src[triangles]
    tm = np.concatenate([t.transpose(0, 2, 1), np.ones((len(t), 1, 3))], axis=1)  # (T, 3, 3)
    det = np.linalg.det(tm)
    ok = np.abs(det) > 1e-6
    out = np.zeros((len(t), 2, 3))
    if ok.any():
        out[ok] = s[ok].transpose(0, 2, 1) @ np.linalg.inv(tm[ok])
    shift = (s - t).mean(axis=1)
    out[~ok, 0, 0] = out[~ok, 1, 1] = 1.0
    out[~ok, :, 2] = shift[~ok]
    return out


class MeshWarp:
    """Warps a layer by a face mesh: ``map`` builds the per-frame layer coordinates of a region."""

    def __init__(self, triangles: np.ndarray, order: np.ndarray | None = None, step: int = GRID_STEP) -> None:
        self.triangles = np.asarray(triangles, dtype=np.int32)
        # Holes are drawn last so that, where a collapsed hole shares pixels with a lip, the lip wins.
        self.order = np.arange(len(self.triangles)) if order is None else np.asarray(order)
        self.step = step

    def ids(self, dst_out: np.ndarray, region: Region, step: int | None = None,
            only: np.ndarray | None = None) -> np.ndarray:
        """Triangle id of every grid node of ``region`` at ``step`` (len(triangles) where no triangle is);
        ``only`` limits drawing to those triangles."""
        g = step or self.step
        nx = (region.x1 - 1 - region.x0) // g + 2
        ny = (region.y1 - 1 - region.y0) // g + 2
        ids = np.full((ny, nx), len(self.triangles), np.uint16)
        coarse = np.round((dst_out - (region.x0, region.y0)) / g * (1 << _SHIFT)).astype(np.int32)
        tri_pts = coarse[self.triangles]
        for j in (self.order if only is None else only):
            cv2.fillConvexPoly(ids, tri_pts[j], int(j), lineType=cv2.LINE_8, shift=_SHIFT)
        return ids

    @staticmethod
    def _grid(aff: np.ndarray, ids: np.ndarray, region: Region, g: int, out_to_layer: np.ndarray | None) -> np.ndarray:
        ny, nx = ids.shape
        xs = (region.x0 + g * np.arange(nx, dtype=np.float32))[None, :]
        ys = (region.y0 + g * np.arange(ny, dtype=np.float32))[:, None]
        if len(aff) <= 256:  # a mesh's usual size: each coefficient by table lookup, 3x faster than gathering
            ids8 = ids.astype(np.uint8)
            table = np.zeros((256, 6), np.float32)
            table[: len(aff)] = aff.reshape(len(aff), 6)
            c = [cv2.LUT(ids8, np.ascontiguousarray(table[:, k])) for k in range(6)]
            gx = np.repeat(xs, ny, axis=0)
            gy = np.repeat(ys, nx, axis=1)
            sx = cv2.add(cv2.add(cv2.multiply(c[0], gx), cv2.multiply(c[1], gy)), c[2])
            sy = cv2.add(cv2.add(cv2.multiply(c[3], gx), cv2.multiply(c[4], gy)), c[5])
        else:
            a = aff.reshape(len(aff), 6)[ids]  # (ny, nx, 6) float32
            sx = a[..., 0] * xs + a[..., 1] * ys + a[..., 2]
            sy = a[..., 3] * xs + a[..., 4] * ys + a[..., 5]
        if out_to_layer is None:
            return cv2.merge([np.ascontiguousarray(sx, np.float32), np.ascontiguousarray(sy, np.float32)])
        out = np.empty((ny, nx, 2), np.float32)
        h = out_to_layer.astype(np.float32)
        w = h[2, 0] * sx + h[2, 1] * sy + h[2, 2]
        out[..., 0] = (h[0, 0] * sx + h[0, 1] * sy + h[0, 2]) / w
        out[..., 1] = (h[1, 0] * sx + h[1, 1] * sy + h[1, 2]) / w
        return out

    def map(self, dst_out: np.ndarray, src_out: np.ndarray, out_to_layer: np.ndarray | None, region: Region,
            detail: Region | None = None, detail_triangles: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 2) float32 source coordinates for every pixel of ``region``.

        ``dst_out``/``src_out``: displaced and rest mesh points; ``out_to_layer``: a homography applied to
        the result (None for none). Inside ``detail`` (the lips, where the map jumps across a closed
        mouth) the map is evaluated at every pixel instead of upsampled, drawing ``detail_triangles``."""
        g = self.step
        aff = triangle_affines(dst_out, src_out, self.triangles)
        aff = np.concatenate([aff, np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])], axis=0).astype(np.float32)
        if g == 1:  # small regions: exact at every pixel
            w, h = region.size
            return self._grid(aff, self.ids(dst_out, region), region, 1, out_to_layer)[:h, :w]
        coarse = self._grid(aff, self.ids(dst_out, region), region, g, out_to_layer)
        up = np.array([[1.0 / g, 0.0, 0.0], [0.0, 1.0 / g, 0.0]])
        full = cv2.warpAffine(coarse, up, region.size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        if detail is not None:
            d = Region(max(detail.x0, region.x0), max(detail.y0, region.y0), min(detail.x1, region.x1),
                       min(detail.y1, region.y1))
            if not d.empty:
                ids = self.ids(dst_out, d, 1, detail_triangles)
                fine = self._grid(aff, ids, d, 1, out_to_layer)
                w, h = d.size
                # Only the drawn triangles: the rest of the box keeps the coarse map (not the identity).
                drawn = ids[:h, :w] < len(self.triangles)
                view = full[d.y0 - region.y0:d.y1 - region.y0, d.x0 - region.x0:d.x1 - region.x0]
                view[drawn] = fine[:h, :w][drawn]
        return full


def affine_between(dst_pts: np.ndarray, src_pts: np.ndarray) -> np.ndarray:
    """2x3 affine taking three ``dst_pts`` onto three ``src_pts`` (a least-squares fit for more)."""
    d = np.concatenate([dst_pts, np.ones((len(dst_pts), 1))], axis=1)
    sol, *_ = np.linalg.lstsq(d, src_pts, rcond=None)
    return sol.T


def project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points through a homography (a thin alias kept here so rig modules import one place)."""
    return apply_homography(h, pts)
