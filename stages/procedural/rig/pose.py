"""Face state → how far every mesh point moves (reference pixels).

A ``FaceState`` is what the performance asks of the face at one instant: the inner-lip aperture
(a fraction of the mouth's width), a spread/round lip shape, pressed lips, a blink, a head pose (roll,
nod, turn, in degrees) and breathing. ``displace`` turns it into per-point displacements of a
``RigMesh``: the lips open around the photo's own aperture (so an open smile can close and a closed
mouth can open), the jaw line, chin and upper neck follow the lower lip, a blink pulls the brows down a
touch (the lids themselves are drawn by ``interior``), and the whole head turns about the neck while
the outer ring stays put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh import LOWER_LIDS, UPPER_LIDS, RigMesh

# Share of an aperture change taken by the lower lip (the rest by the upper lip), opening / closing.
LOWER_SHARE_OPEN, LOWER_SHARE_CLOSE = 0.75, 0.8
# How much of the lower lip's travel the jaw (chin) follows, opening / closing.
JAW_FOLLOW_OPEN, JAW_FOLLOW_CLOSE = 0.9, 0.3
SPREAD = 0.07  # mouth corners move out this fraction of the mouth width at full spread
ROUND = 0.19  # and in this much at full rounding (an open smile narrows to an 'oo')
CLOSE_OVERLAP = 0.015  # closed lips overlap by this share of the mouth width


@dataclass(frozen=True)
class FaceState:
    """What the face does at one instant."""

    aperture: float = -1.0  # inner-lip opening / mouth width; < 0 means "as in the photo"
    spread: float = 0.0  # +1 wide (ee), -1 rounded (oo)
    press: float = 0.0  # lips pressed together (m, b, p)
    blink: float = 0.0  # 0 open .. 1 closed
    roll_deg: float = 0.0  # head tilt, + clockwise in the image
    pitch_deg: float = 0.0  # nod, + chin down
    yaw_deg: float = 0.0  # turn, + towards image right
    breath: float = 0.0  # -1 exhaled .. +1 inhaled


@dataclass(frozen=True)
class MouthGeometry:
    """The photo's own mouth and eyes, measured once per mesh."""

    width: float  # mouth corner to corner, pixels
    rest_aperture: float  # inner-lip gap of the photo, pixels (>= 0)
    lid_gaps: tuple[float, float]  # upper to lower lid distance per eye, pixels

    @classmethod
    def of(cls, mesh: RigMesh) -> MouthGeometry:
        p, f = mesh.points, mesh.frame
        width = float(np.linalg.norm(p[54] - p[48]))
        gap = float(np.mean([(p[lo] - p[up]) @ f.ey for up, lo in ((61, 67), (62, 66), (63, 65))]))
        lids = tuple(
            float(max(0.0, np.mean([(p[lo] - p[up]) @ f.ey for up, lo in zip(u, low, strict=True)])))
            for u, low in zip(UPPER_LIDS, LOWER_LIDS, strict=True)
        )
        return cls(width=width, rest_aperture=max(0.0, gap), lid_gaps=lids)  # type: ignore[arg-type]


def displace(mesh: RigMesh, geo: MouthGeometry, s: FaceState) -> np.ndarray:
    """(K, 2) displacement of every mesh point, reference pixels."""
    f = mesh.frame
    k = len(mesh.points)
    du = np.zeros(k)  # along the eye line, pixels
    dv = np.zeros(k)  # down the face, pixels
    if "mouth" in mesh.fit:
        _mouth(mesh, geo, s, du, dv)
    if "eyes" in mesh.fit and s.blink > 0:
        _lids(mesh, geo, s.blink, dv)
    d = du[:, None] * f.ex + dv[:, None] * f.ey
    if "head" in mesh.fit:
        d += _head(mesh, s, d)
    return d


def _mouth(mesh: RigMesh, geo: MouthGeometry, s: FaceState, du: np.ndarray, dv: np.ndarray) -> None:
    w = geo.width
    if s.aperture < 0:
        target = geo.rest_aperture
    else:  # lips that close meet a little past each other, so no sliver of the photo's teeth stays
        target = w * (s.aperture - CLOSE_OVERLAP * max(0.0, 1.0 - s.aperture / 0.08))
    target = target * (1.0 - s.press) - CLOSE_OVERLAP * w * s.press
    delta = target - geo.rest_aperture
    lower_share = (LOWER_SHARE_OPEN if geo.rest_aperture < 0.06 * w else 0.95) if delta > 0 else LOWER_SHARE_CLOSE
    low, up = lower_share * delta, -(1.0 - lower_share) * delta
    # Vertical travel per lip point as a share of its lip's travel: full in the middle, less towards the
    # corners, so the opening is a rounded lens rather than a wedge.
    upper_prof = {68: 0.5, 61: 0.85, 62: 1.0, 63: 0.85, 69: 0.5, 49: 0.45, 50: 0.8, 51: 0.85, 52: 0.8, 53: 0.45}
    lower_prof = {70: 0.93, 65: 1.0, 66: 1.0, 67: 1.0, 71: 0.93, 72: 0.75, 59: 0.93, 58: 1.0, 57: 1.0, 56: 1.0,
                  55: 0.93, 73: 0.75}
    for i, wgt in upper_prof.items():
        dv[i] += up * wgt
    for i, wgt in lower_prof.items():
        dv[i] += low * wgt
    rd = max(-s.spread, 0.0)
    for i in (48, 54, 60, 64):  # rounded lips open at the corners too: an oval, not a wedge
        dv[i] += (0.3 + 0.15 * rd) * low + 0.5 * up
    jaw = (JAW_FOLLOW_OPEN if delta > 0 else JAW_FOLLOW_CLOSE) * low
    dv += mesh.jaw * jaw
    # The jaw narrows a little as it opens (the cheeks follow the bone).
    centre_u = mesh.frame.to_face(mesh.points[[8]])[0, 0]
    uu = mesh.frame.to_face(mesh.points)[:, 0] - centre_u
    du -= 0.04 * max(jaw, 0.0) / max(w, 1e-6) * uu * mesh.frame.iod * mesh.jaw
    # A wide-open jaw draws the corners in a little.
    narrow = 0.12 * max(low, 0.0)
    for i, sgn in {48: 1, 60: 1, 54: -1, 64: -1, 49: 0.5, 59: 0.5, 53: -0.5, 55: -0.5, 68: 0.7, 71: 0.7, 72: 0.7,
                   69: -0.7, 70: -0.7, 73: -0.7}.items():
        du[i] += sgn * narrow
    # Lip shapes: spread pulls the corners out and up and flattens the lips; rounding pulls them in.
    sp = max(s.spread, 0.0)
    side = {48: -1, 60: -1, 54: 1, 64: 1, 49: -0.6, 59: -0.6, 53: 0.6, 55: 0.6, 61: -0.35, 67: -0.35, 63: 0.35,
            65: 0.35, 68: -0.6, 71: -0.6, 72: -0.7, 69: 0.6, 70: 0.6, 73: 0.7}
    for i, sgn in side.items():
        du[i] += sgn * w * (SPREAD * sp - ROUND * rd)
    for i in (48, 54, 60, 64):  # spread lifts the corners; rounding lets a smile's corners down
        dv[i] += -0.025 * w * sp + 0.03 * w * rd
    # Rounded lips push forward: the outer lip lines part a little (fuller lips), the inner ones do not.
    for i, wgt in ((50, 0.8), (51, 1.0), (52, 0.8), (49, 0.5), (53, 0.5)):
        dv[i] += wgt * (0.02 * w * sp - 0.035 * w * rd + 0.012 * w * s.press)
    for i, wgt in ((56, 0.8), (57, 1.0), (58, 0.8), (55, 0.5), (59, 0.5)):
        dv[i] -= wgt * (0.02 * w * sp - 0.035 * w * rd + 0.012 * w * s.press)


def _lids(mesh: RigMesh, geo: MouthGeometry, blink: float, dv: np.ndarray) -> None:
    """A blink pulls the brows and the skin under them down a touch (the lid itself: ``InteriorPainter.eye``)."""
    for eye in (0, 1):
        for i in mesh.crease[2 * eye: 2 * eye + 2]:
            dv[i] += 0.1 * blink * geo.lid_gaps[eye]
    dv[17:27] += 0.05 * blink * float(np.mean(geo.lid_gaps))


def _head(mesh: RigMesh, s: FaceState, d: np.ndarray) -> np.ndarray:
    """Head motion: roll about the upper neck, nod and turn as shifts proportional to depth, breathing."""
    f = mesh.frame
    p = mesh.points + d
    uv = f.to_face(mesh.points)
    chin_v = float(uv[8, 1])
    pivot = f.to_image(np.array([[0.0, chin_v + 0.6]]))[0]
    a = np.radians(s.roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    rolled = (p - pivot) @ rot.T + pivot - p
    nod = np.radians(s.pitch_deg) * f.iod * mesh.depth
    turn = np.radians(s.yaw_deg) * f.iod * mesh.depth
    lift = -0.03 * f.iod * s.breath
    out = rolled + nod[:, None] * f.ey + turn[:, None] * f.ex + lift * f.ey
    # Nodding foreshortens the face a little: points far from the eyes move more.
    out += (np.radians(s.pitch_deg) * 0.15 * (uv[:, 1:2]) * f.iod) * f.ey
    return out * mesh.head[:, None]
