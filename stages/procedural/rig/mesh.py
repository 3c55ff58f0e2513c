"""The face mesh: dlib's 68 landmarks plus points on the forehead, eyelid creases, cheeks, neck and an
outer ring, triangulated once per reference.

Every point carries the weights the rig moves it by (head, jaw, neck, depth for nods and turns); the
outer ring never moves, so the warp fades to the identity outside the face. The triangulation is a
Delaunay triangulation of a *canonical* copy of the points in which a closed mouth and narrow eyes are
opened, then forced to contain the inner-lip and eye outlines as edges: the triangles inside those
outlines are the "holes" whose content the rig draws itself (mouth interior, eyes under the lids),
and no triangle ever spans a lip and the opening in front of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

# Extra lip points (indices 68-73, the first extras) make the lips bend smoothly near the corners:
# on the inner upper lip next to each corner, the inner lower lip next to each corner, and the outer
# lower lip next to each corner.
UPPER_CHAIN = (60, 68, 61, 62, 63, 69, 64)  # inner upper lip, corner to corner
LOWER_CHAIN = (64, 70, 65, 66, 67, 71, 60)  # inner lower lip, back again
OUTER_LOWER_EXTRA = (72, 73)  # between 48 and 59, and between 54 and 55
INNER_LIPS = UPPER_CHAIN + LOWER_CHAIN[1:-1]  # the mouth opening as a loop
OUTER_LIPS = tuple(range(48, 60))
RIGHT_EYE = tuple(range(36, 42))  # the subject's right eye: image left in a frontal portrait
LEFT_EYE = tuple(range(42, 48))
UPPER_LIDS = ((37, 38), (43, 44))
LOWER_LIDS = ((41, 40), (47, 46))
N_LANDMARKS = 68


@dataclass(frozen=True)
class FaceFrame:
    """A face-aligned frame: origin between the eyes, ``ex`` along the eye line, ``ey`` down the face,
    unit ``iod`` (inter-ocular distance) in reference pixels."""

    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    iod: float

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) face coordinates (units of iod) → reference pixels."""
        uv = np.atleast_2d(uv)
        return self.origin + self.iod * (uv[:, :1] * self.ex + uv[:, 1:2] * self.ey)

    def to_face(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) reference pixels → face coordinates."""
        d = (np.atleast_2d(xy) - self.origin) / self.iod
        return np.stack([d @ self.ex, d @ self.ey], axis=1)

    def vec(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """Displacements (N, 2) in reference pixels from face-unit components (broadcast)."""
        du, dv = np.broadcast_arrays(np.asarray(du, float), np.asarray(dv, float))
        return self.iod * (du[..., None] * self.ex + dv[..., None] * self.ey)


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """The face-aligned frame of 68 landmarks."""
    right, left = landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    d = left - right
    iod = float(np.linalg.norm(d))
    ex = d / max(iod, 1e-9)
    ey = np.array([-ex[1], ex[0]])
    return FaceFrame(origin=(right + left) / 2, ex=ex, ey=ey, iod=max(iod, 1e-6))


@dataclass(frozen=True)
class RigMesh:
    """Points (rest positions, reference pixels), triangles and per-point weights of one face."""

    points: np.ndarray  # (K, 2) float64
    triangles: np.ndarray  # (T, 3) int32
    frame: FaceFrame
    head: np.ndarray  # (K,) 0..1 how much the point follows head motion (0 on the outer ring)
    jaw: np.ndarray  # (K,) 0..1 how much the point follows the jaw drop
    depth: np.ndarray  # (K,) distance in front of the neck's rotation axis, in iod (nods and turns)
    crease: tuple[int, ...]  # indices of the eyelid crease points (right eye pair, left eye pair)
    fit: frozenset[str]  # what the landmarks support: "mouth", "eyes", "head"

    @property
    def hole_triangles(self) -> np.ndarray:
        """Bool (T,): triangles inside the inner-lip or eye outlines."""
        inner = set(INNER_LIPS)
        eyes = [set(RIGHT_EYE), set(LEFT_EYE)]
        return np.array([set(t) <= inner or any(set(t) <= e for e in eyes) for t in self.triangles.tolist()])


def _extra_points(f: FaceFrame, lm: np.ndarray) -> tuple[np.ndarray, dict[str, slice]]:
    """Forehead, crease, cheek, neck and ring points (reference pixels), with their groups."""
    uv = f.to_face(lm)
    chin_v = float(uv[8, 1])
    brow_v = float(uv[17:27, 1].min())
    groups: list[tuple[str, np.ndarray]] = []

    def mid(a: int, b: int, before: int, after: int) -> np.ndarray:  # Catmull-Rom point halfway from a to b
        return (-uv[before] + 9 * uv[a] + 9 * uv[b] - uv[after]) / 16.0

    lips = [mid(60, 61, 60, 62), mid(63, 64, 62, 64), mid(64, 65, 64, 66), mid(67, 60, 66, 60),
            mid(48, 59, 49, 58), mid(54, 55, 53, 56)]
    groups.append(("lips", np.array(lips)))
    # Eyelid creases: halfway between each upper lid and the brow above it.
    crease = []
    for (a, b), brow in (((37, 38), (19, 20)), ((43, 44), (23, 24))):
        for lid, br in zip((a, b), brow, strict=True):
            crease.append(0.5 * (uv[lid] + uv[br]))
    groups.append(("crease", np.array(crease)))
    # Forehead: above the brows, and the top of the head.
    fore_u = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    groups.append(("forehead", np.stack([fore_u, np.full(5, brow_v - 0.55)], axis=1)))
    groups.append(("crown", np.stack([np.array([-1.1, 0.0, 1.1]), np.array([brow_v - 1.15, brow_v - 1.45,
                                                                           brow_v - 1.15])], axis=1)))
    # Cheeks and ears: the jaw line pushed outwards from the face centre.
    centre = np.array([0.0, 0.5 * chin_v])
    jaw = uv[0:17:2]
    out = centre + (jaw - centre) * 1.22
    groups.append(("cheek", out))
    # Neck below the chin.
    neck = [(-0.55, chin_v + 0.45), (0.0, chin_v + 0.5), (0.55, chin_v + 0.45),
            (-0.7, chin_v + 1.15), (0.0, chin_v + 1.2), (0.7, chin_v + 1.15)]
    groups.append(("neck", np.array(neck)))
    # The outer ring (fixed): an ellipse around head, hair and neck.
    cy = 0.5 * (brow_v - 2.2 + chin_v + 1.7)
    ry = 0.5 * ((chin_v + 1.7) - (brow_v - 2.2))
    ang = np.linspace(0.0, 2 * np.pi, 20, endpoint=False)
    ring = np.stack([2.3 * np.cos(ang), cy + ry * np.sin(ang)], axis=1)
    groups.append(("ring", ring))
    pts, spans, n = [], {}, N_LANDMARKS
    for name, g in groups:
        spans[name] = slice(n, n + len(g))
        n += len(g)
        pts.append(f.to_image(g))
    return np.concatenate(pts), spans


def _weights(f: FaceFrame, lm: np.ndarray, spans: dict[str, slice], k: int) -> tuple[np.ndarray, ...]:
    head = np.ones(k)
    jaw = np.zeros(k)
    depth = np.full(k, 0.9)
    head[spans["ring"]] = 0.0
    head[spans["neck"]] = [0.45, 0.45, 0.45, 0.12, 0.12, 0.12]
    head[spans["crown"]] = 0.85
    head[spans["cheek"]] = 0.9
    # Jaw: the chin drops fully, the jaw line less towards the ears; the lower lip rides on the jaw.
    for idx, w in zip(range(17), (0, 0, 0.03, 0.1, 0.25, 0.5, 0.75, 0.92, 1.0, 0.92, 0.75, 0.5, 0.25, 0.1, 0.03, 0,
                                  0), strict=True):
        jaw[idx] = w
    cheek = np.arange(spans["cheek"].start, spans["cheek"].stop)
    jaw[cheek] = jaw[0:17:2] * 0.8
    jaw[spans["neck"]] = [0.55, 0.6, 0.55, 0.15, 0.18, 0.15]
    # Depth in front of the neck axis (iod): the nose tip most, the jaw ends and hair least.
    depth[27:36] = [1.0, 1.1, 1.2, 1.3, 1.1, 1.15, 1.2, 1.15, 1.1]
    depth[0:17] = [0.2, 0.3, 0.45, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.45, 0.3, 0.2]
    depth[48:68] = 1.0
    depth[spans["lips"]] = 1.0
    depth[spans["cheek"]] = 0.3
    depth[spans["crown"]] = 0.45
    depth[spans["forehead"]] = 0.8
    depth[spans["neck"]] = 0.35
    depth[spans["ring"]] = 0.0
    return head, jaw, depth


# A neutral, slightly open mouth (units of mouth width, from the mouth's centre, y down): the lips are
# triangulated in this shape so the triangulation never depends on how the photo's mouth is set.
MOUTH_TEMPLATE = {
    48: (-0.5, 0.0), 49: (-0.33, -0.1), 50: (-0.17, -0.17), 51: (0.0, -0.15), 52: (0.17, -0.17), 53: (0.33, -0.1),
    54: (0.5, 0.0), 55: (0.33, 0.15), 56: (0.17, 0.22), 57: (0.0, 0.24), 58: (-0.17, 0.22), 59: (-0.33, 0.15),
    60: (-0.42, 0.0), 61: (-0.17, -0.06), 62: (0.0, -0.06), 63: (0.17, -0.06), 64: (0.42, 0.0), 65: (0.17, 0.1),
    66: (0.0, 0.11), 67: (-0.17, 0.1), 68: (-0.3, -0.04), 69: (0.3, -0.04), 70: (0.3, 0.07), 71: (-0.3, 0.07),
    72: (-0.43, 0.08), 73: (0.43, 0.08),
}


def _canonical(f: FaceFrame, pts: np.ndarray) -> np.ndarray:
    """The points in face units with the mouth replaced by ``MOUTH_TEMPLATE`` and the eyes opened, so the
    lip and eye outlines triangulate cleanly whatever the photo's expression."""
    uv = f.to_face(pts)
    w = float(np.linalg.norm(uv[54] - uv[48]))
    centre = uv[48:68].mean(axis=0)
    for i, (x, y) in MOUTH_TEMPLATE.items():
        uv[i] = centre + w * np.array([x, y])
    for eye, (ua, ub), (la, lb) in ((RIGHT_EYE, UPPER_LIDS[0], LOWER_LIDS[0]), (LEFT_EYE, UPPER_LIDS[1],
                                                                              LOWER_LIDS[1])):
        e = list(eye)
        c = uv[e].mean(axis=0)
        width = abs(uv[e[3], 0] - uv[e[0], 0])
        for p in (ua, ub):
            uv[p, 1] = min(uv[p, 1], c[1] - 0.18 * width)
        for p in (la, lb):
            uv[p, 1] = max(uv[p, 1], c[1] + 0.18 * width)
    return uv


def _required_edges() -> list[tuple[int, int]]:
    edges = []
    for loop in (INNER_LIPS, RIGHT_EYE, LEFT_EYE):
        edges += [(loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))]
    edges += [(48, 60), (54, 64)]
    return edges


def _has_edge(tris: np.ndarray, a: int, b: int) -> bool:
    return bool(np.any(np.isin(tris, [a]).any(axis=1) & np.isin(tris, [b]).any(axis=1)))


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _force_edge(tris: list[list[int]], pts: np.ndarray, a: int, b: int, max_flips: int = 60) -> bool:
    """Flip edges crossing segment a–b until it is an edge of the triangulation (Lawson's method)."""
    for _ in range(max_flips):
        if any(a in t and b in t for t in tris):
            return True
        flipped = False
        for i, t in enumerate(tris):
            for k in range(3):
                c, d = t[k], t[(k + 1) % 3]
                if {c, d} & {a, b} or not _segments_cross(pts[a], pts[b], pts[c], pts[d]):
                    continue
                j = next((j for j, u in enumerate(tris) if j != i and c in u and d in u), None)
                if j is None:
                    continue
                e = next(v for v in t if v not in (c, d))
                g = next(v for v in tris[j] if v not in (c, d))
                # Flip only when the quad c-e-d-g is convex (the new edge e-g crosses c-d).
                if not _segments_cross(pts[e], pts[g], pts[c], pts[d]):
                    continue
                tris[i], tris[j] = [e, c, g], [e, g, d]
                flipped = True
                break
            if flipped:
                break
        if not flipped:
            return False
    return any(a in t and b in t for t in tris)


def _orient(pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def build_mesh(landmarks: np.ndarray) -> RigMesh:
    """The rig mesh of a face's 68 landmarks (reference pixels)."""
    from scipy.spatial import Delaunay

    lm = np.asarray(landmarks, dtype=np.float64)
    f = face_frame(lm)
    extra, spans = _extra_points(f, lm)
    pts = np.concatenate([lm, extra])
    canon = _canonical(f, pts)
    tris = Delaunay(canon).simplices.astype(np.int64).tolist()
    fit = {"mouth", "eyes", "head"}
    for a, b in _required_edges():
        if not _force_edge(tris, canon, a, b):
            fit.discard("eyes" if a < 48 else "mouth")
    t = np.array(tris, dtype=np.int32)
    # Consistent (counter-clockwise in face coordinates) orientation.
    flip = _orient(canon, t) < 0
    t[flip] = t[flip][:, [0, 2, 1]]
    fit &= _plausible(f, lm, pts, t)
    head, jaw, depth = _weights(f, lm, spans, len(pts))
    crease = tuple(range(spans["crease"].start, spans["crease"].stop))
    return RigMesh(points=pts, triangles=t, frame=f, head=head, jaw=jaw, depth=depth, crease=crease,
                   fit=frozenset(fit))


def _plausible(f: FaceFrame, lm: np.ndarray, pts: np.ndarray, tris: np.ndarray) -> set[str]:
    """What the landmarks support: a frontal-enough face keeps everything; folds in the rest mesh
    (a face in profile, landmarks fitted to something else) switch off the parts they touch."""
    ok = {"mouth", "eyes", "head"}
    uv = f.to_face(pts)
    area = _orient(uv, tris)
    hole = np.array([set(t) <= set(INNER_LIPS) or set(t) <= set(RIGHT_EYE) or set(t) <= set(LEFT_EYE)
                     for t in tris.tolist()])
    folded = (area < -1e-4) & ~hole
    if folded.any():
        touched = set(tris[folded].ravel().tolist())
        if touched & (set(range(48, 68)) | set(INNER_LIPS)) or touched & set(range(5, 12)):
            ok.discard("mouth")
        if touched & set(range(36, 48)):
            ok.discard("eyes")
        if len(touched & set(range(N_LANDMARKS))) > 12:
            ok.discard("head")
    # A face turned far to the side: the near half of the face is squeezed against the nose.
    nose = uv[30, 0]
    half_l, half_r = nose - uv[0, 0], uv[16, 0] - nose
    if min(half_l, half_r) < 0.35 * max(half_l, half_r, 1e-6):
        ok.discard("eyes")
        ok.discard("head")
    mw = float(np.linalg.norm(lm[54] - lm[48]))
    if not (0.5 * f.iod < mw < 2.0 * f.iod):
        ok.discard("mouth")
    return ok
