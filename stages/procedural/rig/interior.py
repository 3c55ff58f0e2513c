"""What the rig draws inside the openings it makes: the mouth interior and the eyes under the lids.

The mouth (``InteriorPainter.mouth``), only inside the displaced inner-lip outline: the painted cavity
and tongue (``cavity``) in the shot's own colours (``look``); over them the photo's own teeth where it
shows them (``teeth``) — the lower row riding on the jaw, the upper row and the upper lip's inner edge
fixed to the skull, casting a soft shadow — or, for a closed-mouth photo, painted upper teeth. The lower
lip is never painted over: the opening ends at its inner edge. Where lips close over a photo's open mouth
a soft dark seam is drawn between them. Every edge is anti-aliased and feathered; nothing is a flat fill.
"""

from __future__ import annotations

import cv2
import numpy as np

from .cavity import mouth_axes, shade_cavity, shade_upper_teeth, shadow_under
from .look import InteriorLook, look_from_layer
from .mesh import LEFT_EYE, LOWER_CHAIN, RIGHT_EYE, UPPER_CHAIN, RigMesh
from .outline import inner_outline, poly_mask, smooth_chain
from .teeth import TeethMatte
from .warp import affine_between, bounding_region

SKULL = (27, 31, 35, 39, 42)  # points that move with the head only (nose, inner eye corners)
JAW = (70, 65, 66, 67, 71, 55, 56, 57, 58, 59)  # the lower lip: where the lower teeth ride
_SHIFT = 3


class InteriorPainter:
    """Paints the mouth interior and, during blinks, the eyes under the lids into a frame buffer."""

    def __init__(self, mesh: RigMesh, look: InteriorLook, rest_gap_px: float, mouth_width_px: float) -> None:
        self.mesh = mesh
        self.look = look
        self.rest_gap = rest_gap_px
        self.width = mouth_width_px

    def mouth(self, buf: np.ndarray, origin: tuple[int, int], dst_out: np.ndarray, src_layer: np.ndarray,
              layer: np.ndarray, border: int) -> None:
        """Draw the interior inside the displaced inner lips into ``buf`` (its pixel (0, 0) is ``origin``)."""
        bh, bw = buf.shape[:2]
        inner = inner_outline(dst_out)
        reg = bounding_region(inner - origin, bw, bh, margin=3)
        if reg.empty:
            return
        o = (origin[0] + reg.x0, origin[1] + reg.y0)
        shape = (reg.y1 - reg.y0, reg.x1 - reg.x0)
        self._seam(buf, origin, dst_out)
        mask = poly_mask(shape, [inner], o)
        if not mask.any():
            return
        # The soft edge stays inside the lips' outline (outside it the warped lips are already right).
        soft = max(0.6, 0.008 * float(np.linalg.norm(dst_out[54] - dst_out[48])))  # wider for a larger mouth
        alpha = cv2.GaussianBlur(cv2.erode(mask, np.ones((2, 2), np.uint8)), (0, 0), soft).astype(np.float32) / 255.0
        look = self.look
        if not look.photo_teeth:
            ax = mouth_axes(shape, o, dst_out)
            colour = shade_upper_teeth(ax, look, shade_cavity(ax, look))
            # The photo's own sliver of an opening stays the photo's until the lips really part.
            rest_gap = self.rest_gap * ax.mouth_w / max(self.width, 1e-6)
            alpha *= float(np.clip((ax.open_share * ax.mouth_w - rest_gap) / (0.03 * ax.mouth_w), 0.0, 1.0))
        else:
            aff = affine_between(dst_out[list(SKULL)], src_layer[list(SKULL)])
            inv = cv2.invertAffineTransform(aff)
            rest = src_layer @ inv[:, :2].T + inv[:, 2]  # the photo's lips where the skull now puts them
            # The cavity starts under the photo's teeth (its lower inner lip, fixed to the skull).
            ax = mouth_axes(shape, o, dst_out, top=smooth_chain(rest[list(LOWER_CHAIN)], 4))
            colour = shade_cavity(ax, look)
            photo = _warp(layer, aff, o, shape, border)[..., :3].astype(np.float32)
            matte = look.matte
            if matte is None:  # no teeth in the photo: its upper lip's inner edge only
                upper = _above(shape, o, rest)
            else:
                upper = np.maximum(_warp(matte.upper, aff, o, shape, cv2.BORDER_CONSTANT, matte.origin),
                                   _above(shape, o, rest))
                if matte.has_lower:
                    jaw = affine_between(dst_out[list(JAW)], src_layer[list(JAW)])
                    lower = _warp(matte.lower, jaw, o, shape, cv2.BORDER_CONSTANT, matte.origin)
                    teeth = _warp(layer, jaw, o, shape, border)[..., :3].astype(np.float32)
                    colour = colour * (1.0 - 0.5 * shadow_under(ax, upper)[..., None])
                    colour = colour * (1.0 - lower[..., None]) + teeth * lower[..., None]
            colour = colour * (1.0 - shadow_under(ax, upper)[..., None])
            colour = colour * (1.0 - upper[..., None]) + photo * upper[..., None]
        _blend(buf[reg.y0:reg.y1, reg.x0:reg.x1], colour, alpha)

    def _seam(self, buf: np.ndarray, origin: tuple[int, int], dst_out: np.ndarray) -> None:
        """Where the lips meet, the soft dark line between them (it also hides the photo's teeth edge)."""
        up = dst_out[list(UPPER_CHAIN)]
        lo = dst_out[list(LOWER_CHAIN)][::-1]
        mouth_w = float(np.linalg.norm(dst_out[54] - dst_out[48]))
        d = dst_out[64] - dst_out[60]
        ey = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
        gap = float(np.median((lo - up) @ ey))
        # Only lips closing over the photo's open mouth need it; a closed photo has its own line.
        rest_gap = self.rest_gap * mouth_w / max(self.width, 1e-6)
        strength = float(np.clip(1.0 - gap / (0.05 * mouth_w), 0.0, 1.0) * np.clip(rest_gap / (0.05 * mouth_w), 0, 1))
        if strength <= 0.01:
            return
        centre = smooth_chain(0.5 * (up + lo), 6)
        thick = max(1, int(round(0.03 * mouth_w)))
        sigma = max(0.6, 0.012 * mouth_w)
        bh, bw = buf.shape[:2]
        reg = bounding_region(centre - origin, bw, bh, margin=thick + int(3 * sigma) + 2)
        if reg.empty:
            return
        o = (origin[0] + reg.x0, origin[1] + reg.y0)
        line = np.zeros((reg.y1 - reg.y0, reg.x1 - reg.x0), np.uint8)
        pts = np.round((centre - o) * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(line, [pts], False, 255, thickness=thick, lineType=cv2.LINE_AA, shift=_SHIFT)
        a = cv2.GaussianBlur(line, (0, 0), sigma).astype(np.float32) / 255.0 * 0.85 * strength
        _blend(buf[reg.y0:reg.y1, reg.x0:reg.x1], np.broadcast_to(self.look.cavity, (*line.shape, 3)), a)

    def eye(self, buf: np.ndarray, origin: tuple[int, int], dst_out: np.ndarray, blink: float, eye: int) -> None:
        """Close the upper lid of eye ``eye`` (0 = image left) by ``blink`` (0..1), in place.

        Column by column across the eye (in the face's own axes), the skin between brow and lid
        margin — lashes included — stretches down so the margin lands on ``blink`` of the way to the
        lower lid, and below the margin the eye stays where it is, covered rather than squashed.
        The map is smooth, so the closed lid follows the curve of the lower lid."""
        idx = list(RIGHT_EYE if eye == 0 else LEFT_EYE)
        brow_idx = [17, 18, 19, 20, 21] if eye == 0 else [22, 23, 24, 25, 26]
        p = dst_out[idx]
        ex = p[3] - p[0]
        width = float(np.linalg.norm(ex))
        if width < 4.0:
            return
        ex /= width
        ey = np.array([-ex[1], ex[0]])
        c = 0.5 * (p[0] + p[3])

        def to_uv(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            d = q - c
            return d @ ex, d @ ey

        uu, uv_ = to_uv(p[[0, 1, 2, 3]])
        lu, lv = to_uv(p[[0, 5, 4, 3]])
        bu, bv = to_uv(dst_out[brow_idx])
        upper_fit = np.polyfit(uu, uv_, 2)  # lids as parabolas: smooth, and closed lids follow one arc
        lower_fit = np.polyfit(lu, lv, 2)
        bh, bw = buf.shape[:2]
        top = c + ey * float(min(bv.min(), uv_.min() - 0.3 * width))
        lv = np.polyval(lower_fit, np.array([0.0]))
        corners = np.array([top - 0.6 * width * ex, top + 0.6 * width * ex, c + ey * (lv.max() + 0.15 * width)
                            + 0.6 * width * ex, c + ey * (lv.max() + 0.15 * width) - 0.6 * width * ex])
        reg = bounding_region(corners - origin, bw, bh, margin=1)
        if reg.empty:
            return
        ys, xs = np.mgrid[reg.y0:reg.y1, reg.x0:reg.x1].astype(np.float32)
        qx, qy = xs + origin[0] - c[0], ys + origin[1] - c[1]
        u = qx * ex[0] + qy * ex[1]
        v = qx * ey[0] + qy * ey[1]
        half = 0.5 * width
        uc = np.clip(u, -half, half)
        up = np.polyval(upper_fit, uc)
        lo = np.polyval(lower_fit, uc)
        gap = np.maximum(lo - up, 0.0)
        brow_line = np.interp(u, bu[np.argsort(bu)], bv[np.argsort(bu)])
        brow = np.minimum(up - 0.55 * (up - brow_line), up - 0.2 * width)  # the brow hair itself stays
        cheek = lo + 0.45 * width
        inside = (np.abs(u) < half).astype(np.float32)
        # The lids meet a little below the middle: the upper travels 3/4 of the way, the lower 1/4.
        m_up = up + inside * blink * (0.76 * gap + 0.04 * width)
        m_lo = lo - inside * blink * 0.24 * gap
        v_src = v.copy()
        above = (v >= brow) & (v < m_up)
        v_src[above] = (brow + (v - brow) * (up - brow) / np.maximum(m_up - brow, 1e-3))[above]
        below = (v > m_lo) & (v <= cheek)
        lo_src = lo + inside * blink * 0.2 * gap  # past the lower lid line: no sliver of white stays
        v_src[below] = (cheek - (cheek - v) * (cheek - lo_src) / np.maximum(cheek - m_lo, 1e-3))[below]
        dv = cv2.GaussianBlur((v_src - v).astype(np.float32), (0, 0), 0.7)
        if not np.any(np.abs(dv) > 0.05):
            return
        roi = buf[reg.y0:reg.y1, reg.x0:reg.x1]
        src = roi.copy()
        mx = (xs - reg.x0 + dv * np.float32(ey[0])).astype(np.float32)
        my = (ys - reg.y0 + dv * np.float32(ey[1])).astype(np.float32)
        cv2.remap(src, mx, my, cv2.INTER_LINEAR, dst=roi, borderMode=cv2.BORDER_REPLICATE)


def _warp(src: np.ndarray, aff: np.ndarray, o: tuple[float, float], shape: tuple[int, int], border: int,
          src_origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``src`` (whose pixel (0, 0) is layer pixel ``src_origin``) seen through ``aff`` (region → layer
    pixels), over a region of ``shape`` whose pixel (0, 0) is ``o``."""
    m = aff.copy()
    m[:, 2] += aff[:, 0] * o[0] + aff[:, 1] * o[1] - np.asarray(src_origin, np.float64)
    return cv2.warpAffine(src, m, shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border,
                          borderValue=0)


def _above(shape: tuple[int, int], o: tuple[float, float], rest: np.ndarray) -> np.ndarray:
    """Weight 0..1 of being above the photo's upper inner lip (``rest``: the photo's points where the skull
    now puts them), softened over a pixel."""
    upper = smooth_chain(rest[list(UPPER_CHAIN)], 4)
    lift = 3.0 * (rest[62] - rest[57])  # well above the upper lip
    m = poly_mask(shape, [np.concatenate([upper, [rest[64] + lift, rest[60] + lift]])], o)
    return cv2.GaussianBlur(m, (0, 0), 0.7).astype(np.float32) / 255.0


def _blend(roi: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """roi ← roi · (1 − α) + colour · α for RGB(X) uint8 ``roi``; an alpha channel goes to opaque."""
    a = alpha[..., None]
    rgb = roi[..., :3].astype(np.float32) * (1 - a) + colour * a
    roi[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    if roi.shape[2] == 4:
        roi[..., 3] = np.clip(roi[..., 3].astype(np.float32) * (1 - alpha) + 255.0 * alpha + 0.5, 0, 255).astype(
            np.uint8)


__all__ = ["InteriorLook", "InteriorPainter", "TeethMatte", "look_from_layer"]
