"""The face rig of the procedural renderer: the singer sings, blinks, breathes and moves her head.

Set-up per reference (``rig_setup``, kept in memory and in the work directory's cache next to the
subject matte): the landmark mesh (``mesh``) and the photo's own mouth and eye geometry (``pose``).
Per song: the performance (``performance``: mouth from the voice, blinks, head motion), a pure
function of song time. Per shot: ``FaceRig`` samples the performance at the shot's frame times and,
per frame, warps the layer the camera films by the displaced mesh (``warp``) and paints the mouth
interior and the eyes under the lids (``interior``) — before the frame is graded and captioned.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvdirector.schemas import ReferenceInfo

from .interior import InteriorPainter, look_from_layer
from .mesh import OUTER_LOWER_EXTRA, RigMesh, build_mesh
from .pose import FaceState, MouthGeometry, displace
from .warp import EXACT_PIXELS, GRID_STEP, MeshWarp, bounding_region, project

__all__ = ["FaceRig", "RigSetup", "rig_setup", "VERSION"]

VERSION = "2"
MIN_IOD_PX = 9.0  # below this eye distance in the output the face is too small to animate
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RigSetup:
    """What the rig knows about one reference's singer."""

    mesh: RigMesh
    geometry: MouthGeometry


_SETUPS: dict[str, RigSetup | None] = {}
_WARNED: set[str] = set()
_LOCK = threading.Lock()


def rig_setup(reference: ReferenceInfo, cache_dir: Path | None = None) -> RigSetup | None:
    """The rig of a reference's primary face, or None (warned once) when there is nothing to fit."""
    face = reference.primary_face
    key = f"{VERSION}:{reference.sha256}:{reference.width}x{reference.height}:{None if face is None else face.box}"
    with _LOCK:
        if key in _SETUPS:
            return _SETUPS[key]
        setup = None
        if face is None or len(face.landmarks) < 68:
            _warn_once(reference, "no face with landmarks: the face rig is off (the picture still moves)")
        else:
            setup = _load(cache_dir, key) or _build(np.asarray(face.landmarks, dtype=np.float64), cache_dir, key)
            missing = {"mouth", "eyes", "head"} - setup.mesh.fit
            if missing:
                _warn_once(reference, f"the face rig animates only {', '.join(sorted(setup.mesh.fit)) or 'nothing'}: "
                                      f"the landmarks do not support {', '.join(sorted(missing))} (profile or "
                                      "an unusual face)")
        if len(reference.faces) > 1 and face is not None:
            _warn_once(reference, f"{len(reference.faces)} faces in the reference: only the singer's is animated",
                       suffix="faces")
        _SETUPS.clear() if len(_SETUPS) > 8 else None
        _SETUPS[key] = setup
        return setup


def _warn_once(reference: ReferenceInfo, message: str, suffix: str = "") -> None:
    tag = f"{reference.sha256}:{suffix}"
    if tag not in _WARNED:
        _WARNED.add(tag)
        log.warning("%s: %s", Path(reference.path).name, message)


def _disk(cache_dir: Path | None, key: str) -> Path | None:
    if cache_dir is None:
        return None
    return Path(cache_dir) / f"rig-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def _build(landmarks: np.ndarray, cache_dir: Path | None, key: str) -> RigSetup:
    mesh = build_mesh(landmarks)
    disk = _disk(cache_dir, key)
    if disk is not None:
        from mvdirector.media.atomic import atomic_output

        with atomic_output(disk) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, landmarks=landmarks, points=mesh.points, triangles=mesh.triangles, head=mesh.head,
                     jaw=mesh.jaw, depth=mesh.depth, crease=np.array(mesh.crease),
                     fit=np.array(sorted(mesh.fit)))
    return RigSetup(mesh=mesh, geometry=MouthGeometry.of(mesh))


def _load(cache_dir: Path | None, key: str) -> RigSetup | None:
    disk = _disk(cache_dir, key)
    if disk is None or not disk.is_file():
        return None
    from .mesh import face_frame

    try:
        with np.load(disk, allow_pickle=False) as z:
            mesh = RigMesh(points=z["points"], triangles=z["triangles"].astype(np.int32),
                           frame=face_frame(z["landmarks"]), head=z["head"], jaw=z["jaw"], depth=z["depth"],
                           crease=tuple(int(x) for x in z["crease"]),
                           fit=frozenset(str(x) for x in z["fit"]))
    except (OSError, KeyError, ValueError):
        return None
    return RigSetup(mesh=mesh, geometry=MouthGeometry.of(mesh))


class FaceRig:
    """Animates the singer's face in one shot: per frame, a rigged copy of the layer the camera films.

    Everything happens in the layer's own pixels (the working-size picture the camera warps), where
    the mesh's region is fixed for the whole shot: the displaced mesh of every frame is computed up
    front, the region covering all of them is found once, and per frame only that region of a
    working copy of the layer is re-sampled (``warp``) and painted (``interior``). The camera then
    films the copy as usual, so the rig composes with the 2.5D camera, the subject layer and grades.
    """

    def __init__(self, setup: RigSetup, states: dict[str, np.ndarray], to_work: np.ndarray, layer: np.ndarray,
                 border: int, lip_sync: bool = True) -> None:
        self.setup = setup
        self.mesh = setup.mesh
        self.n = len(states["blink"])
        rest = setup.geometry.rest_aperture / max(setup.geometry.width, 1e-6)
        gate = states["gate"] if lip_sync else np.zeros(self.n)
        self.aperture = gate * states["aperture_sing"] + (1.0 - gate) * rest
        self.states = states
        self.lip_sync = lip_sync
        self.to_work = to_work
        self.src = project(to_work, self.mesh.points)  # rest mesh in layer pixels
        self.base = layer
        self.plan()
        holes = self.mesh.hole_triangles
        order = np.concatenate([np.flatnonzero(holes), np.flatnonzero(~holes)])
        self.warp = MeshWarp(self.mesh.triangles, order=order, step=GRID_STEP)
        self.interp: int | None = None  # chosen at the first frame, from how much the camera enlarges the layer
        lips = set(range(48, 74))
        near = np.array([bool(set(t) & lips) for t in self.mesh.triangles.tolist()])
        self.lip_triangles = order[near[order]]  # drawn at full resolution around the mouth
        self.work = layer.copy()
        self.border = border
        self.painter = InteriorPainter(self.mesh, look_from_layer(layer, self.src, rest), setup.geometry.rest_aperture,
                                       setup.geometry.width)
        self.frames_rigged = 0
        self._dirty = False

    def plan(self) -> None:
        """Displace the mesh for every frame and find the layer region they all fit in (call again after
        changing ``states`` or ``aperture``)."""
        self.dst = np.stack([project(self.to_work, self.mesh.points + displace(self.mesh, self.setup.geometry,
                                                                                 self.state(i)))
                             for i in range(self.n)])  # (n, K, 2)
        h, w = self.base.shape[:2]
        self.region = bounding_region(np.concatenate([self.src, self.dst.reshape(-1, 2)]), w, h, margin=3)

    def _mouth_moves(self, i: int) -> bool:
        """Whether the lips are away from the photo's own pose (else the warped photo is the mouth)."""
        rest = self.setup.geometry.rest_aperture / max(self.setup.geometry.width, 1e-6)
        s = self.states
        return (abs(float(self.aperture[i]) - rest) > 0.01
                or (self.lip_sync and (abs(float(s["spread"][i])) > 0.05 or float(s["press"][i]) > 0.05)))

    def state(self, i: int) -> FaceState:
        """The face state at frame ``i`` of the shot."""
        s = self.states
        return FaceState(
            aperture=float(self.aperture[i]), spread=float(s["spread"][i]) if self.lip_sync else 0.0,
            press=float(s["press"][i]) if self.lip_sync else 0.0, blink=float(s["blink"][i]),
            roll_deg=float(s["roll_deg"][i]), pitch_deg=float(s["pitch_deg"][i]), yaw_deg=float(s["yaw_deg"][i]),
            breath=float(s["breath"][i]),
        )

    def visible(self, layer_to_out: np.ndarray) -> bool:
        """Whether the face is large enough in the output (eye distance) to be worth animating."""
        eyes = project(layer_to_out, np.stack([self.src[36:42].mean(axis=0), self.src[42:48].mean(axis=0)]))
        return float(np.linalg.norm(eyes[1] - eyes[0])) >= MIN_IOD_PX

    def layer(self, i: int, layer_to_out: np.ndarray) -> np.ndarray:
        """The layer to film at frame ``i``: the rigged working copy, or the untouched layer."""
        import cv2

        r = self.region
        if r.empty or not self.visible(layer_to_out):
            if self._dirty:
                self.work[r.y0:r.y1, r.x0:r.x1] = self.base[r.y0:r.y1, r.x0:r.x1]
                self._dirty = False
            return self.base
        dst = self.dst[i]
        detail = None
        if "mouth" in self.mesh.fit:
            lips = np.concatenate([dst[48:60], dst[list(OUTER_LOWER_EXTRA)]])
            detail = bounding_region(lips, r.x1, r.y1, margin=int(0.25 * np.linalg.norm(dst[54] - dst[48])) + 3)
        if self.interp is None:
            # The camera's own warp resamples again, and magnifies any error of the map. Where it
            # enlarges the layer a lot (close-ups of a small photo), the map is exact at every pixel and
            # bicubic keeps the face as sharp as the photo; elsewhere a coarse map and bilinear suffice.
            zoom = float(np.sqrt(abs(np.linalg.det(layer_to_out[:2, :2]))))
            w, h = r.size
            self.warp.step = 1 if zoom >= 2.0 and w * h <= EXACT_PIXELS else 2 if zoom >= 1.2 else GRID_STEP
            self.interp = cv2.INTER_CUBIC if zoom >= 2.0 else cv2.INTER_LINEAR
        if self.warp.step == 1:
            detail = None
        coords = self.warp.map(dst, self.src, None, r, detail, self.lip_triangles)
        view = self.work[r.y0:r.y1, r.x0:r.x1]
        cv2.remap(self.base, coords, None, self.interp, dst=view, borderMode=self.border, borderValue=0)
        if "mouth" in self.mesh.fit and self._mouth_moves(i):
            self.painter.mouth(self.work, (0, 0), dst, self.src, self.base, self.border)
        blink = float(self.states["blink"][i])
        if "eyes" in self.mesh.fit and blink > 0.02:
            for eye in (0, 1):
                self.painter.eye(self.work, (0, 0), dst, blink, eye)
        self._dirty = True
        self.frames_rigged += 1
        return self.work
