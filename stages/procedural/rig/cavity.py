"""The painted inside of an open mouth: a warm dark cavity, a tongue deeper in, and (for a photo whose
mouth is closed) upper teeth — shaded in the mouth's own axes between a top line (the photo's teeth edge,
or the upper lip) and the lower lip.

Light comes from the front and above: the cavity is darkest just under the teeth and towards the
corners, warmer and lighter low down where the tongue lies; the tongue's front is lit, its sides and
back fall into shadow; a thin shade runs along the lower lip's inner edge so the lip stays a lip.
Every colour is a shade of the lips' own (``InteriorLook``), so the interior takes the shot's grade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .look import InteriorLook
from .mesh import INNER_LIPS, LOWER_CHAIN, UPPER_CHAIN
from .outline import smooth_chain

TONGUE_FROM = 0.12  # the tongue shows from this opening (share of the mouth width) ...
TONGUE_FULL = 0.3  # ... and is fully there from this one


def smoothstep(a: float | np.ndarray, b: float | np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """0 below ``a``, 1 above ``b``, a smooth S between (``a > b`` runs the other way)."""
    span = np.asarray(b, dtype=np.float64) - a
    span = np.where(np.abs(span) < 1e-6, 1e-6, span)
    t = np.clip((np.asarray(x) - a) / span, 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class MouthAxes:
    """Per pixel of a region: position along the mouth (``u``, ``un`` in -1..1 corner to corner) and depth
    between the top line and the lower lip (``t``, 0..1), with the gap in pixels."""

    u: np.ndarray
    un: np.ndarray
    v: np.ndarray
    v_top: np.ndarray
    v_lo: np.ndarray
    t: np.ndarray
    gap: np.ndarray
    mouth_w: float
    open_share: float  # the opening in the middle over the mouth's width


def mouth_axes(shape: tuple[int, int], o: tuple[float, float], dst: np.ndarray,
               top: np.ndarray | None = None) -> MouthAxes:
    """The axes of the displaced mouth ``dst`` over a region of ``shape`` whose pixel (0, 0) is ``o``."""
    ex = dst[42:48].mean(axis=0) - dst[36:42].mean(axis=0)
    ex = ex / max(float(np.linalg.norm(ex)), 1e-9)
    ey = np.array([-ex[1], ex[0]])
    c = dst[list(INNER_LIPS)].mean(axis=0)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    qx, qy = xs + np.float32(o[0] - c[0]), ys + np.float32(o[1] - c[1])
    u = qx * np.float32(ex[0]) + qy * np.float32(ex[1])
    v = qx * np.float32(ey[0]) + qy * np.float32(ey[1])

    def line(points: np.ndarray) -> np.ndarray:
        rel = points - c
        pu, pv = rel @ ex, rel @ ey
        k = np.argsort(pu)
        return np.interp(u, pu[k], pv[k]).astype(np.float32)

    v_up = line(smooth_chain(dst[list(UPPER_CHAIN)], 4))
    v_top = v_up if top is None else np.maximum(line(top), v_up)
    v_lo = line(smooth_chain(dst[list(LOWER_CHAIN)], 4))
    pu = (dst - c) @ ex
    half = max(0.5 * float(pu[64] - pu[60]), 1.0)
    un = np.clip(u / half, -1.0, 1.0)
    gap = np.maximum(v_lo - v_top, 1e-3)
    t = np.clip((v - v_top) / gap, 0.0, 1.0)
    mouth_w = float(np.linalg.norm(dst[54] - dst[48]))
    middle = np.abs(u) < 0.15 * half
    centre_gap = float(np.max(np.maximum(v_lo - v_up, 0.0)[middle], initial=0.0))
    return MouthAxes(u=u, un=un, v=v, v_top=v_top, v_lo=v_lo, t=t, gap=gap, mouth_w=mouth_w,
                     open_share=float(np.clip(centre_gap / max(mouth_w, 1.0), 0.0, 1.0)))


def shade_cavity(ax: MouthAxes, look: InteriorLook) -> np.ndarray:
    """(h, w, 3) float32 colours of the cavity and the tongue."""
    t, un = ax.t, ax.un
    side = 1.0 - 0.5 * np.abs(un) ** 2.5  # the cheeks' inner sides are in shadow
    depth = smoothstep(0.0, 0.45, t)  # right under the teeth (or the upper lip) is darkest
    warm = smoothstep(0.3, 1.0, t)
    col = look.cavity[None, None, :] * (1.0 - warm[..., None]) + look.cavity_low[None, None, :] * warm[..., None]
    col = col * (side * (0.55 + 0.45 * depth))[..., None]
    # The tongue: a rounded hump low in the mouth, its top edge an arch, lit at the front (a soft highlight
    # towards the tip), its sides and back falling into shadow. More of it shows as the mouth opens.
    present = float(smoothstep(TONGUE_FROM, TONGUE_FULL, ax.open_share))
    if present > 0.0:
        top = 0.62 - 0.14 * present + 0.3 * un**2
        tw = smoothstep(top - 0.06, top + 0.14, t) * smoothstep(1.0, 0.8, np.abs(un)) * present
        front = smoothstep(top, 1.0, t)
        lit = (0.6 + 0.35 * front) * (1.0 - 0.45 * un**2)
        lit = lit + 0.18 * np.exp(-((un / 0.35) ** 2 + ((t - 0.8) / 0.12) ** 2))  # the wet highlight
        col = col * (1.0 - tw[..., None]) + look.tongue[None, None, :] * (tw * lit)[..., None]
    # Where the tongue meets the lower lip: a thin, soft shade, so the lip stays a lip.
    edge_px = np.maximum(ax.v_lo - ax.v, 0.0)
    rim = np.exp(-((edge_px / max(0.025 * ax.mouth_w, 1.0)) ** 2)) * (1.0 - 0.6 * un**2)
    col = col * (1.0 - 0.35 * smoothstep(0.05, 0.15, ax.open_share) * rim[..., None])
    return col.astype(np.float32)


def shade_upper_teeth(ax: MouthAxes, look: InteriorLook, col: np.ndarray) -> np.ndarray:
    """Upper teeth under the upper lip, for a photo whose mouth is closed (``look.teeth`` from its near-whites)."""
    if look.teeth is None:
        return col
    mouth_w = ax.mouth_w
    teeth_h = np.minimum(0.1 * mouth_w, 0.42 * ax.gap)
    below = ax.v - ax.v_top
    soft = np.maximum(0.2 * teeth_h, 0.8)
    tw = (1.0 - smoothstep(teeth_h - soft, teeth_h + soft, below)) * (1.0 - 0.85 * np.abs(ax.un) ** 4)
    tw *= smoothstep(0.02, 0.08, ax.open_share) * (below > -1.0)
    tshade = 0.7 + 0.3 * (1.0 - np.clip(below / np.maximum(teeth_h, 1.0), 0.0, 1.0))
    tshade *= 1.0 - 0.5 * np.abs(ax.un) ** 2
    # Individual teeth: each a little convex, with soft gaps that open towards the biting edge.
    edges = np.array([0.0, 0.13, 0.235, 0.325, 0.4, 0.47]) * mouth_w
    au = np.abs(ax.u)
    k = np.clip(np.searchsorted(edges, au) - 1, 0, len(edges) - 2)
    lo_e, hi_e = edges[k], edges[k + 1]
    x = np.clip((au - lo_e) / (hi_e - lo_e), 0.0, 1.0)
    along = np.clip(below / np.maximum(teeth_h, 1.0), 0.0, 1.0)
    notch = np.exp(-(((np.minimum(x, 1 - x) * (hi_e - lo_e)) / (0.5 + 1.2 * along)) ** 2))
    tshade *= (0.9 + 0.12 * np.sin(np.pi * x)) * (1.0 - 0.35 * notch * (0.3 + 0.7 * along))
    out = col * (1 - tw[..., None]) + look.teeth[None, None, :] * (tshade * tw)[..., None]
    return out.astype(np.float32)


def shadow_under(ax: MouthAxes, alpha: np.ndarray) -> np.ndarray:
    """How much to darken the cavity just under a row of teeth whose weight is ``alpha`` (0..1): a soft
    shadow the teeth cast, a few pixels deep, stronger in the middle."""
    import cv2

    reach = max(1.5, 0.035 * ax.mouth_w)
    a = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), reach)
    return np.clip(a * (1.0 - alpha) * 1.6, 0.0, 0.6)


__all__ = ["MouthAxes", "mouth_axes", "shade_cavity", "shade_upper_teeth", "shadow_under", "smoothstep"]
