"""Pinhole camera paths: keyframes, easing, slerp, intrinsics and Plücker ray embeddings.

Two frames of reference are used:

* the *human* frame of keyframes: +x right, +y up, +z forward toward the subject, in units
  of the subject's distance from the base camera (the subject sits at z = 1); yaw > 0 turns
  right, pitch > 0 looks up, roll > 0 rolls clockwise;
* the *OpenCV* frame of poses and rays: x right, y down, z forward. The world is the base
  camera's frame, so the base camera has the identity pose.

Nothing here knows about songs, shots or files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used, so CPU-only callers of the camera maths skip it
    import torch

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
DEFAULT_FOV_DEG = 40.0
# Moves whose path is curved are sampled into this many keyframes with the easing baked in.
_ARC_SAMPLES = 9


@dataclass(frozen=True)
class Keyframe:
    """A camera pose at time fraction ``t`` of a shot (human frame, see the module doc)."""

    t: float
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fov_deg: float = 0.0
    easing: str = "ease_in_out"


@dataclass(frozen=True)
class CameraTrack:
    """Per-frame camera: positions (human frame), rotations, angles and vertical fov."""

    position: np.ndarray  # (F, 3) human frame
    rotation: np.ndarray  # (F, 3, 3) camera-to-world rotation, OpenCV frame
    yaw_pitch_roll_deg: np.ndarray  # (F, 3)
    fov_deg: np.ndarray  # (F,)

    def __len__(self) -> int:
        return int(self.position.shape[0])

    def select(self, idx: np.ndarray) -> CameraTrack:
        """The frames at indices ``idx`` (e.g. a retiming), in that order."""
        return CameraTrack(self.position[idx], self.rotation[idx], self.yaw_pitch_roll_deg[idx], self.fov_deg[idx])

    def c2w(self) -> np.ndarray:
        """Camera-to-world 4x4 matrices in the OpenCV frame, shape (F, 4, 4)."""
        n = len(self)
        m = np.tile(np.eye(4), (n, 1, 1))
        m[:, :3, :3] = self.rotation
        m[:, :3, 3] = human_to_cv(self.position)
        return m


def human_to_cv(p: np.ndarray) -> np.ndarray:
    """Convert points from the human frame (y up) to the OpenCV frame (y down)."""
    q = np.array(p, dtype=np.float64, copy=True)
    q[..., 1] *= -1.0
    return q


def ease(u: np.ndarray | float, easing: str) -> np.ndarray | float:
    """Map progress ``u`` in 0..1 through an easing curve (cubic in/out, smoothstep)."""
    x = np.clip(u, 0.0, 1.0)
    if easing == "linear":
        y = x
    elif easing == "ease_in":
        y = x * x * x
    elif easing == "ease_out":
        y = 1.0 - (1.0 - x) ** 3
    elif easing == "ease_in_out":
        y = x * x * (3.0 - 2.0 * x)
    else:
        raise ValueError(f"unknown easing {easing!r}; use one of {', '.join(EASINGS)}")
    return float(y) if np.ndim(y) == 0 else y


def rotation_from_euler_deg(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation (OpenCV frame) for yaw/pitch/roll in degrees."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def quat_from_matrix(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix."""
    m = np.asarray(r, dtype=np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    qa = np.array(q)
    return qa / np.linalg.norm(qa)


def matrix_from_quat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def slerp(q0: np.ndarray, q1: np.ndarray, u: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions, shortest arc."""
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    dot = float(np.dot(a, b))
    if dot < 0:
        b, dot = -b, -dot
    if dot > 0.9995:
        q = a + u * (b - a)
        return q / np.linalg.norm(q)
    theta = math.acos(min(1.0, dot))
    s = math.sin(theta)
    return (math.sin((1 - u) * theta) / s) * a + (math.sin(u * theta) / s) * b


def interpolate(
    keyframes: Sequence[Keyframe], n_frames: int, base_fov_deg: float = DEFAULT_FOV_DEG
) -> CameraTrack:
    """Sample a keyframed camera at ``n_frames`` evenly spaced frames (first at t=0, last at t=1)."""
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    kfs = sorted(keyframes, key=lambda k: k.t) or [Keyframe(0.0), Keyframe(1.0)]
    if len(kfs) == 1:
        kfs = [kfs[0], Keyframe(1.0, kfs[0].position, kfs[0].rotation_deg, kfs[0].fov_deg, kfs[0].easing)]
    ts = np.array([k.t for k in kfs])
    quats = [quat_from_matrix(rotation_from_euler_deg(*k.rotation_deg)) for k in kfs]
    us = np.linspace(0.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    pos = np.zeros((n_frames, 3))
    rot = np.zeros((n_frames, 3, 3))
    ypr = np.zeros((n_frames, 3))
    fov = np.zeros(n_frames)
    for i, u in enumerate(us):
        k = int(np.clip(np.searchsorted(ts, u, side="right") - 1, 0, len(kfs) - 2))
        a, b = kfs[k], kfs[k + 1]
        span = b.t - a.t
        s = 0.0 if span <= 0 else float(ease((u - a.t) / span, a.easing))
        pos[i] = (1 - s) * np.array(a.position) + s * np.array(b.position)
        ypr[i] = (1 - s) * np.array(a.rotation_deg) + s * np.array(b.rotation_deg)
        fa = a.fov_deg or base_fov_deg
        fb = b.fov_deg or base_fov_deg
        fov[i] = (1 - s) * fa + s * fb
        rot[i] = matrix_from_quat(slerp(quats[k], quats[k + 1], s))
    return CameraTrack(position=pos, rotation=rot, yaw_pitch_roll_deg=ypr, fov_deg=fov)


def _sampled(fn, easing: str) -> list[Keyframe]:
    """Keyframes sampled from a pose function of eased progress, linear between samples."""
    out = []
    for i in range(_ARC_SAMPLES):
        t = i / (_ARC_SAMPLES - 1)
        pos, rot, fov = fn(float(ease(t, easing)))
        out.append(Keyframe(t, pos, rot, fov, "linear"))
    return out


def expand_move(
    move: str,
    intensity: float = 0.5,
    direction: int = 1,
    easing: str = "ease_in_out",
    duration_s: float = 2.0,
    seed: int = 0,
    base_fov_deg: float = DEFAULT_FOV_DEG,
) -> list[Keyframe]:
    """Expand a named camera move into explicit keyframes (first at t=0, last at t=1).

    ``intensity`` in 0..1 scales the move; ``direction`` (+1/-1) picks right/left for pan
    and orbit, up/down for tilt and crane. ``duration_s`` sets the shake rate of handheld.
    """
    i = float(np.clip(intensity, 0.0, 1.0))
    d = 1 if direction >= 0 else -1
    if move == "static":
        return [Keyframe(0.0, easing=easing), Keyframe(1.0, easing=easing)]
    if move == "push_in":
        return [Keyframe(0.0, easing=easing), Keyframe(1.0, (0.0, 0.0, 0.3 * i), easing=easing)]
    if move == "pull_out":
        return [Keyframe(0.0, (0.0, 0.0, 0.3 * i), easing=easing), Keyframe(1.0, easing=easing)]
    if move == "pan":
        a = 6.0 * i * d
        return [Keyframe(0.0, rotation_deg=(-a, 0, 0), easing=easing), Keyframe(1.0, rotation_deg=(a, 0, 0))]
    if move == "tilt":
        a = 4.0 * i * d
        return [Keyframe(0.0, rotation_deg=(0, -a, 0), easing=easing), Keyframe(1.0, rotation_deg=(0, a, 0))]
    if move == "orbit":
        theta_max = math.radians(14.0 * i) * d

        def orbit(s: float):
            th = -theta_max + 2 * theta_max * s
            return (-math.sin(th), 0.0, 1.0 - math.cos(th)), (math.degrees(th), 0.0, 0.0), 0.0

        return _sampled(orbit, easing)
    if move == "crane":
        h = 0.12 * i * d

        def crane(s: float):
            y = -h + 2 * h * s
            return (0.0, y, 0.0), (0.0, -math.degrees(math.atan(y)), 0.0), 0.0

        return _sampled(crane, easing)
    if move == "dolly_zoom":
        half = math.tan(math.radians(base_fov_deg) / 2)

        def dolly(s: float):
            z = 0.35 * i * s
            fov = math.degrees(2 * math.atan(half / (1.0 - z)))
            return (0.0, 0.0, z), (0.0, 0.0, 0.0), fov

        return _sampled(dolly, easing)
    if move == "handheld":
        rng = np.random.default_rng(seed)
        n = max(3, int(round(duration_s * 2.5)) + 1)
        kfs = []
        for k in range(n):
            t = k / (n - 1)
            p = rng.normal(0.0, 0.008 * i, 3)
            r = rng.normal(0.0, 0.5 * i, 3) * np.array([1.0, 1.0, 0.6])
            pos = (float(p[0]), float(p[1]), float(p[2]))
            rot = (float(r[0]), float(r[1]), float(r[2]))
            kfs.append(Keyframe(t, pos, rot, 0.0, "ease_in_out"))
        return kfs
    raise ValueError(f"unknown camera move {move!r}")


def intrinsics(fov_deg: np.ndarray | float, width: int, height: int) -> np.ndarray:
    """Pinhole intrinsics (F, 3, 3) in pixels for vertical fov(s), principal point at the centre."""
    f = np.atleast_1d(np.asarray(fov_deg, dtype=np.float64))
    fy = (height / 2.0) / np.tan(np.radians(f) / 2.0)
    k = np.zeros((f.shape[0], 3, 3))
    k[:, 0, 0] = fy
    k[:, 1, 1] = fy
    k[:, 0, 2] = width / 2.0
    k[:, 1, 2] = height / 2.0
    k[:, 2, 2] = 1.0
    return k


def plucker_rays(
    k: np.ndarray | torch.Tensor,
    c2w: np.ndarray | torch.Tensor,
    height: int,
    width: int,
    relative_to_first: bool = True,
) -> torch.Tensor:
    """Plücker embedding (F, 6, H, W): p = (o × d, d) with d = R·K⁻¹[u+½, v+½, 1]ᵀ normalised, o = t.

    ``k`` must be the intrinsics at the ``height`` x ``width`` resolution of the rays. With
    ``relative_to_first`` the poses are expressed relative to the first frame's camera.
    """
    import torch

    kt = torch.as_tensor(np.asarray(k), dtype=torch.float64)
    pose = torch.as_tensor(np.asarray(c2w), dtype=torch.float64)
    if relative_to_first:
        pose = torch.linalg.inv(pose[0]).unsqueeze(0) @ pose
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float64) + 0.5,
        torch.arange(width, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1).reshape(-1, 3)  # (HW, 3)
    cam = torch.einsum("fij,nj->fni", torch.linalg.inv(kt), pix)  # (F, HW, 3)
    d = torch.einsum("fij,fnj->fni", pose[:, :3, :3], cam)
    d = d / d.norm(dim=-1, keepdim=True)
    o = pose[:, :3, 3].unsqueeze(1).expand_as(d)
    m = torch.cross(o, d, dim=-1)
    p = torch.cat([m, d], dim=-1)  # (F, HW, 6)
    return p.reshape(-1, height, width, 6).permute(0, 3, 1, 2).to(torch.float32).contiguous()
