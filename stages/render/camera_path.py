"""A shot's planned camera path, as every renderer backend follows it.

The plan gives a named move (expanded here with ``models.camera.expand_move``) or explicit
keyframes; ``camera_track`` turns either into one pose and field of view per frame.
"""

from __future__ import annotations

from mvdirector.schemas import Shot
from stages.render.framing import BASE_FOV_DEG


def camera_keyframes(shot: Shot, base_fov_deg: float = BASE_FOV_DEG) -> list:
    """The shot's explicit keyframes, or its named move expanded (``models.camera.Keyframe`` list)."""
    from models.camera import Keyframe, expand_move

    if shot.camera.keyframes:
        return [
            Keyframe(k.t, tuple(k.position), tuple(k.rotation_deg), k.fov_deg, k.easing) for k in shot.camera.keyframes
        ]
    cam = shot.camera
    return expand_move(
        cam.move, cam.intensity, cam.direction, cam.easing, shot.duration_s, seed=shot.seed, base_fov_deg=base_fov_deg
    )


def camera_track(shot: Shot, n_frames: int, base_fov_deg: float = BASE_FOV_DEG):  # noqa: ANN201 - CameraTrack
    """The shot's camera for each of ``n_frames`` frames (``models.camera.CameraTrack``)."""
    from models.camera import interpolate

    return interpolate(camera_keyframes(shot, base_fov_deg), n_frames, base_fov_deg)
