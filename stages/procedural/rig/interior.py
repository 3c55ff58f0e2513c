"""What the rig draws inside the openings it makes: the mouth interior and the eyes under the lids.

Colours come from the shot's own (graded) picture, so the interior always matches the grade: the
cavity is the lips' colour darkened, the tongue a lighter shade of it, and teeth are the photo's
where it shows them (they move with the skull, so an open smile keeps its teeth while the lower lip
moves). For a closed-mouth photo, upper teeth are drawn only when the photo has near-white tones to
take them from (the eyes' whites); otherwise the opening is a dark cavity with a soft falloff. Every
edge is anti-aliased and feathered; nothing is a flat fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .mesh import INNER_LIPS, LEFT_EYE, LOWER_CHAIN, RIGHT_EYE, UPPER_CHAIN, RigMesh
from .warp import affine_between, bounding_region

SKULL = (27, 31, 35, 39, 42)  # points that move with the head only (nose, inner eye corners)
OPEN_PHOTO = 0.06  # a photo whose inner-lip gap exceeds this share of the mouth width shows its teeth
_SHIFT = 3


@dataclass(frozen=True)
class InteriorLook:
    """Colours (RGB floats, graded) of one shot's mouth interior."""

    cavity: np.ndarray
    tongue: np.ndarray
    teeth: np.ndarray | None  # teeth colour (the photo's teeth, else its near-whites); None = draw no teeth
    photo_teeth: bool  # the photo's own interior is shown (open mouth in the photo)


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


def _poly_mask(shape: tuple[int, int], polys: list[np.ndarray], origin: tuple[float, float]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    pts = [np.round((p - origin) * (1 << _SHIFT)).astype(np.int32) for p in polys]
    cv2.fillPoly(m, pts, 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m


def look_from_layer(layer: np.ndarray, points_layer: np.ndarray, rest_gap_share: float) -> InteriorLook:
    """Measure lip, skin and near-white colours on the (graded) working layer at the rest landmarks."""
    h, w = layer.shape[:2]
    box = bounding_region(points_layer[:68], w, h, margin=2)
    if box.empty:
        grey = np.array([60.0, 40.0, 38.0])
        return InteriorLook(cavity=grey * 0.3, tongue=grey, teeth=None, photo_teeth=False)
    crop = layer[box.y0:box.y1, box.x0:box.x1, :3].reshape(-1, 3).astype(np.float32)
    origin = (box.x0, box.y0)
    shape = (box.y1 - box.y0, box.x1 - box.x0)

    def pixels(polys: list[np.ndarray], minus: list[np.ndarray] | None = None) -> np.ndarray:
        m = _poly_mask(shape, polys, origin) > 127
        if minus:
            m &= _poly_mask(shape, minus, origin) < 128
        return crop[m.ravel()]

    lips = pixels([points_layer[48:60]], [points_layer[60:68]])
    lip = np.median(lips, axis=0) if len(lips) >= 4 else np.array([150.0, 90.0, 85.0])
    cheeks = pixels([points_layer[[1, 2, 3, 31, 39]]]) if len(points_layer) > 39 else np.zeros((0, 3))
    skin = np.median(cheeks, axis=0) if len(cheeks) >= 4 else lip
    # Light bouncing inside the mouth takes the colour of what it bounces off: lips times skin, darkened.
    bounce = lip * skin / 255.0
    cavity = (bounce * 0.22).astype(np.float32)
    tongue = (0.45 * lip + 0.25 * bounce).astype(np.float32)
    photo_teeth = rest_gap_share > OPEN_PHOTO
    if photo_teeth:  # the photo's own teeth
        teeth = _near_white(pixels([points_layer[list(INNER_LIPS)]]), lip)
    else:  # the eyes' whites, darkened a little
        whites = np.concatenate([pixels([points_layer[list(RIGHT_EYE)]]), pixels([points_layer[list(LEFT_EYE)]])])
        teeth = _near_white(whites, lip)
    return InteriorLook(cavity=cavity, tongue=tongue, teeth=teeth, photo_teeth=photo_teeth)


def _near_white(pixels: np.ndarray, lip: np.ndarray) -> np.ndarray | None:
    """The photo's brightest unsaturated tone (the eyes' whites), as a teeth colour; None if too dark or few."""
    if len(pixels) < 6:
        return None
    lum = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = pixels.max(axis=1) - pixels.min(axis=1)
    pick = pixels[(lum >= np.quantile(lum, 0.75)) & (sat <= np.quantile(sat, 0.6))]
    if len(pick) < 3:
        return None
    white = np.median(pick, axis=0)
    if white.mean() < 1.15 * lip.mean() or white.mean() < 90:
        return None  # nothing near white: teeth would read as a grey smear
    return white * 0.86


class InteriorPainter:
    """Paints the mouth interior and, during blinks, the eyes under the lids into a frame buffer."""

    def __init__(self, mesh: RigMesh, look: InteriorLook, rest_gap_px: float, mouth_width_px: float) -> None:
        self.mesh = mesh
        self.look = look
        self.rest_gap = rest_gap_px
        self.width = mouth_width_px

    def skull_affine(self, dst_out: np.ndarray, src_layer: np.ndarray, idx: tuple[int, ...] = SKULL) -> np.ndarray:
        """2x3 output → layer affine of the points that move with the head only."""
        return affine_between(dst_out[list(idx)], src_layer[list(idx)])

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
        mask = _poly_mask(shape, [inner], o)
        if not mask.any():
            return
        # The soft edge stays inside the lips' outline (outside it the warped lips are already right).
        alpha = cv2.GaussianBlur(cv2.erode(mask, np.ones((2, 2), np.uint8)), (0, 0), 0.6).astype(np.float32) / 255.0
        if not self.look.photo_teeth:
            colour, _ = self._synthetic(shape, o, dst_out, None)
            # The photo's own sliver of an opening stays the photo's until the lips really part.
            mouth_w = float(np.linalg.norm(dst_out[54] - dst_out[48]))
            d = dst_out[64] - dst_out[60]
            ey = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
            gap = float(np.mean((dst_out[[67, 66, 65]] - dst_out[[61, 62, 63]]) @ ey))
            rest_gap = self.rest_gap * mouth_w / max(self.width, 1e-6)
            alpha *= float(np.clip((gap - rest_gap) / (0.03 * mouth_w), 0.0, 1.0))
        else:
            aff = self.skull_affine(dst_out, src_layer)
            shifted = aff.copy()
            shifted[:, 2] += aff[:, 0] * o[0] + aff[:, 1] * o[1]
            photo = cv2.warpAffine(layer, shifted, shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=border)[..., :3].astype(np.float32)
            # The skull-fixed photo down to its own lower inner lip (its teeth, and the upper lip's inner
            # edge where the lip rises); below that line the cavity the jaw opened is synthetic.
            inv = cv2.invertAffineTransform(aff)
            rest = src_layer @ inv[:, :2].T + inv[:, 2]
            lower = smooth_chain(rest[list(LOWER_CHAIN)], 4)
            synthetic, _ = self._synthetic(shape, o, dst_out, lower)
            lift = 3.0 * (rest[62] - rest[57])  # well above the upper lip
            above = _poly_mask(shape, [np.concatenate([lower, [rest[60] + lift, rest[64] + lift]])], o)
            above = cv2.dilate(above, np.ones((3, 3), np.uint8))
            w = 1.0 - cv2.GaussianBlur(above, (0, 0), 0.7).astype(np.float32)[..., None] / 255.0
            colour = photo * (1.0 - w) + synthetic * w
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
        _blend(buf[reg.y0:reg.y1, reg.x0:reg.x1], np.broadcast_to(self.look.cavity * 1.6, (*line.shape, 3)), a)

    def _synthetic(self, shape: tuple[int, int], o: tuple[int, int], dst_out: np.ndarray,
                   top: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Cavity, tongue and (for a closed-mouth photo) upper teeth, shaded in the mouth's
        own axes between ``top`` (the photo's teeth edge; default the displaced upper lip) and the lower lip.
        Also returns the weight (0..1) of being below ``top``, softened over a pixel."""
        ex = dst_out[42:48].mean(axis=0) - dst_out[36:42].mean(axis=0)
        ex /= max(np.linalg.norm(ex), 1e-9)
        ey = np.array([-ex[1], ex[0]])
        c = dst_out[list(INNER_LIPS)].mean(axis=0)
        ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
        qx, qy = xs + (o[0] - c[0]), ys + (o[1] - c[1])
        u = qx * ex[0] + qy * ex[1]
        v = qx * ey[0] + qy * ey[1]

        def line(points: np.ndarray) -> np.ndarray:
            rel = points - c
            pu, pv = rel @ ex, rel @ ey
            k = np.argsort(pu)
            return np.interp(u, pu[k], pv[k])

        v_up = line(dst_out[list(UPPER_CHAIN)] if top is None else top)
        v_lo = line(smooth_chain(dst_out[list(LOWER_CHAIN)], 4))
        pu = (dst_out - c) @ ex
        half = max(0.5 * (pu[64] - pu[60]), 1.0)
        un = np.clip(u / half, -1.0, 1.0)
        gap = np.maximum(v_lo - v_up, 1e-3)
        t = np.clip((v - v_up) / gap, 0.0, 1.0)
        mouth_w = float(np.linalg.norm(dst_out[54] - dst_out[48]))
        centre_gap = float(np.max(gap[np.abs(u) < 0.15 * half], initial=float(gap.max())))
        open_share = float(np.clip(centre_gap / max(mouth_w, 1.0), 0.0, 1.0))
        look = self.look
        # Cavity: dark, darkest deep in the middle and towards the corners, lighter just inside the lips.
        depth = np.sin(np.pi * t) ** 0.7 * np.sqrt(np.clip(1.0 - un**2, 0.0, 1.0))
        shade = (1.3 - 0.65 * depth) * (1.0 - 0.45 * np.abs(un) ** 3)
        col = look.cavity[None, None, :] * shade[..., None]
        # Tongue: a rounded form low in the middle of a well-open mouth, lit on top.
        v_tip = float(np.interp(0.0, np.sort(u[0]), v_lo[0][np.argsort(u[0])])) - 0.36 * centre_gap
        ry = 0.5 * centre_gap
        e = (u / (0.4 * half * 2)) ** 2 + ((v - (v_tip + ry)) / ry) ** 2
        tw = _smooth(1.05, 0.75, e) * _smooth(0.14, 0.3, open_share)
        lit = 0.55 + 0.4 * np.clip(1.0 - (v - v_tip) / (0.8 * ry), 0.0, 1.0) ** 2
        col = col * (1 - tw[..., None]) + look.tongue[None, None, :] * (tw * lit * (1 - 0.3 * np.abs(un)))[..., None]
        if look.teeth is not None and not look.photo_teeth:
            # Upper teeth under the upper lip, for a photo whose mouth is closed.
            teeth_h = np.minimum(0.1 * mouth_w, 0.42 * gap)
            below = v - v_up
            soft = np.maximum(0.2 * teeth_h, 0.8)
            tw = (1.0 - _smooth(teeth_h - soft, teeth_h + soft, below)) * (1.0 - 0.85 * np.abs(un) ** 4)
            tw *= _smooth(0.02, 0.08, open_share) * (below > -1.0)
            tshade = 0.7 + 0.3 * (1.0 - np.clip(below / np.maximum(teeth_h, 1.0), 0.0, 1.0))
            tshade *= 1.0 - 0.5 * np.abs(un) ** 2
            # Individual teeth: each a little convex, with soft gaps that open towards the biting edge.
            edges = np.array([0.0, 0.13, 0.235, 0.325, 0.4, 0.47]) * mouth_w
            au = np.abs(u)
            k = np.clip(np.searchsorted(edges, au) - 1, 0, len(edges) - 2)
            lo_e, hi_e = edges[k], edges[k + 1]
            x = np.clip((au - lo_e) / (hi_e - lo_e), 0.0, 1.0)
            along = np.clip(below / np.maximum(teeth_h, 1.0), 0.0, 1.0)
            notch = np.exp(-(((np.minimum(x, 1 - x) * (hi_e - lo_e)) / (0.5 + 1.2 * along)) ** 2))
            tshade *= (0.9 + 0.12 * np.sin(np.pi * x)) * (1.0 - 0.35 * notch * (0.3 + 0.7 * along))
            col = col * (1 - tw[..., None]) + look.teeth[None, None, :] * (tshade * tw)[..., None]
        return col, _smooth(v_up + 0.5, v_up + 2.0, v)

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


def _smooth(a: float | np.ndarray, b: float | np.ndarray, x: np.ndarray | float) -> np.ndarray:
    span = np.asarray(b, dtype=np.float64) - a
    span = np.where(np.abs(span) < 1e-6, 1e-6, span)
    t = np.clip((np.asarray(x) - a) / span, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _blend(roi: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """roi ← roi · (1 − α) + colour · α for RGB(X) uint8 ``roi``; an alpha channel goes to opaque."""
    a = alpha[..., None]
    rgb = roi[..., :3].astype(np.float32) * (1 - a) + colour * a
    roi[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    if roi.shape[2] == 4:
        roi[..., 3] = np.clip(roi[..., 3].astype(np.float32) * (1 - alpha) + 255.0 * alpha + 0.5, 0, 255).astype(
            np.uint8)


__all__ = ["InteriorLook", "InteriorPainter", "look_from_layer"]
