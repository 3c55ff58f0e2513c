"""Named camera moves → explicit plan keyframes, with a continuous camera across a take."""

from __future__ import annotations

import math

from mvdirector.schemas import Camera, CameraKeyframe

_DIGITS = 5


def _r(x: float) -> float:
    return round(float(x), _DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def expand_camera(camera: Camera, duration_s: float, seed: int, after: CameraKeyframe | None = None) -> Camera:
    """``camera`` with ``keyframes`` expanded from its move (``models.camera.expand_move``).

    With ``after`` (the last keyframe of the shot this one continues), the move starts
    from that pose: its offsets from its own first pose are turned by the pose's yaw and
    added to it, so the take's camera is continuous across the cut.
    """
    from models.camera import expand_move  # lazy: models imports torch

    kfs = expand_move(
        camera.move,
        intensity=camera.intensity,
        direction=camera.direction,
        easing=camera.easing,
        duration_s=duration_s,
        seed=seed,
    )
    p0, r0 = kfs[0].position, kfs[0].rotation_deg
    out = []
    for k in kfs:
        pos, rot, fov = k.position, k.rotation_deg, k.fov_deg
        if after is not None:
            dx, dy, dz = (pos[i] - p0[i] for i in range(3))
            yaw = math.radians(after.rotation_deg[0])
            # yaw > 0 turns right: the camera's forward (0,0,1) becomes (sin, 0, cos)
            wx = dx * math.cos(yaw) + dz * math.sin(yaw)
            wz = -dx * math.sin(yaw) + dz * math.cos(yaw)
            pos = (after.position[0] + wx, after.position[1] + dy, after.position[2] + wz)
            rot = tuple(after.rotation_deg[i] + rot[i] - r0[i] for i in range(3))
            fov = fov or after.fov_deg
        out.append(
            CameraKeyframe(
                t=_r(k.t),
                position=tuple(_r(v) for v in pos),
                rotation_deg=tuple(_r(v) for v in rot),
                fov_deg=_r(fov),
                easing=k.easing,
            )
        )
    return camera.model_copy(update={"keyframes": out})
