"""Framing: where the base camera looks in the reference image for each named framing.

A framing is a crop window in reference-image pixels (centre and height; the width follows
the output aspect). With a face, the window size follows the face size and places the eye
line on the upper third with look room on the side the face turns away from; without a face
it is centred on the image's most salient region (spectral-residual saliency).

The window becomes a pinhole camera: the reference image is a plane at depth 1 in front of
the base camera, seen with the framing's vertical field of view. ``source_intrinsics`` maps
a source pixel to its ray, so every later camera pose is a homography of that plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mvdirector.schemas import Face, ReferenceInfo, Shot

# Frame size as a multiple of the face-box height, measured on the frame's shorter side.
FACE_MULTIPLE: dict[str, float] = {
    "extreme_close_up": 0.9,
    "close_up": 2.3,
    "medium": 4.2,
    "wide": 7.5,
    "extreme_wide": 13.0,
}
# Without a face: frame short side as a fraction of the image's short side.
SALIENCY_FRACTION: dict[str, float] = {
    "extreme_close_up": 0.3,
    "close_up": 0.45,
    "medium": 0.65,
    "wide": 0.9,
    "extreme_wide": 1.15,
}
# How far past the image a framing may look (frame short side / image cover size).
MAX_COVER: dict[str, float] = {
    "extreme_close_up": 1.0,
    "close_up": 1.0,
    "medium": 1.05,
    "wide": 1.3,
    "extreme_wide": 1.7,
}
BASE_FOV_DEG = 40.0
"""Base vertical fov of every framing; equals ``models.camera.DEFAULT_FOV_DEG`` so plans expanded
by the director (dolly-zoom fovs are absolute) match. Framing size comes from the window, not the lens."""
EYE_LINE = 1.0 / 3.0  # eye line at the upper third of the frame
THIRDS_OFFSET = 1.0 / 6.0  # a third line sits 1/6 of the width from the centre


@dataclass(frozen=True)
class FrameWindow:
    """The base camera's view of the reference: centre, size (pixels) and vertical fov."""

    cx: float
    cy: float
    width: float
    height: float
    fov_deg: float
    face_centred: bool

    def source_intrinsics(self) -> np.ndarray:
        """3x3 pinhole matrix of the base camera in reference-image pixels (plane at depth 1)."""
        f = (self.height / 2.0) / np.tan(np.radians(self.fov_deg) / 2.0)
        return np.array([[f, 0.0, self.cx], [0.0, f, self.cy], [0.0, 0.0, 1.0]])


def face_turn(face: Face) -> float:
    """Horizontal head turn in -1..1 from landmarks: > 0 when the nose points to image right."""
    if len(face.landmarks) < 68:
        return 0.0
    pts = np.asarray(face.landmarks)
    left, right = pts[0], pts[16]  # jaw ends
    nose = pts[30]
    width = max(1e-6, right[0] - left[0])
    return float(np.clip(((nose[0] - left[0]) / width - 0.5) * 4.0, -1.0, 1.0))


def eye_point(face: Face) -> tuple[float, float]:
    """Midpoint between the eyes (landmarks 36-47), or the upper box third without landmarks."""
    if len(face.landmarks) >= 68:
        pts = np.asarray(face.landmarks)
        e = pts[36:48].mean(axis=0)
        return float(e[0]), float(e[1])
    x0, y0, x1, y1 = face.box
    return (x0 + x1) / 2.0, y0 + 0.38 * (y1 - y0)


def mouth_point(face: Face) -> tuple[float, float]:
    """Centre of the mouth (landmarks 48-67), or the lower box part without landmarks."""
    if len(face.landmarks) >= 68:
        m = np.asarray(face.landmarks)[48:68].mean(axis=0)
        return float(m[0]), float(m[1])
    x0, y0, x1, y1 = face.box
    return (x0 + x1) / 2.0, y0 + 0.8 * (y1 - y0)


def saliency_centre(image_rgb: np.ndarray) -> tuple[float, float]:
    """Centre of the most salient region (spectral residual, Hou & Zhang 2007) in image pixels."""
    h, w = image_rgb.shape[:2]
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-6)
    phase = np.angle(spec)
    residual = log_amp - cv2.blur(log_amp.astype(np.float32), (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 2.5)
    # Weight towards the centre a little: photographers rarely put the subject in a corner.
    yy, xx = np.mgrid[0:64, 0:64]
    sal *= np.exp(-(((xx - 31.5) / 40.0) ** 2 + ((yy - 31.5) / 40.0) ** 2))
    thr = np.quantile(sal, 0.9)
    weights = np.where(sal >= thr, sal, 0.0)
    total = float(weights.sum())
    if total <= 0:
        return w / 2.0, h / 2.0
    cy = float((weights * yy).sum() / total + 0.5) * h / 64.0
    cx = float((weights * xx).sum() / total + 0.5) * w / 64.0
    return cx, cy


def _clamp_axis(centre: float, size: float, extent: float) -> float:
    """Keep a window of ``size`` inside 0..extent if it fits, else centre it on the image."""
    if size >= extent:
        return extent / 2.0
    return float(np.clip(centre, size / 2.0, extent - size / 2.0))


def frame_window(
    reference: ReferenceInfo,
    framing: str,
    out_width: int,
    out_height: int,
    image_rgb: np.ndarray | None = None,
    side: int = 0,
) -> FrameWindow:
    """The base camera window for ``framing`` on a reference image, for an output of the given size.

    ``side`` (-1, 0, +1) pushes a frontal face onto the left/right third in medium and wider
    framings (the director passes it for variety); a turned face always gets look room.
    ``image_rgb`` is needed only for saliency framing when the reference has no face.
    """
    aspect = out_width / out_height
    iw, ih = float(reference.width), float(reference.height)
    fov = BASE_FOV_DEG
    face = reference.primary_face
    # Largest window (height) that still mostly looks at the image.
    max_h = MAX_COVER[framing] * (ih if iw / ih >= aspect else iw / aspect)
    if face is not None:
        fh = float(face.box[3] - face.box[1])
        short = FACE_MULTIPLE[framing] * fh
        height = short if aspect >= 1.0 else short / aspect
        height = min(height, max(max_h, 8.0))
        width = height * aspect
        ex, ey = eye_point(face)
        if framing == "extreme_close_up":
            mx, my = mouth_point(face)
            cx, cy = (ex + mx) / 2.0, (ey + my) / 2.0
        else:
            cy = ey + (0.5 - EYE_LINE) * height
            turn = face_turn(face)
            # Look room: a face turned right goes on the left third, and vice versa.
            shift = -np.sign(turn) if abs(turn) > 0.25 else float(np.sign(side))
            if framing == "close_up" or aspect < 0.9:
                shift *= 0.5  # a tight or vertical frame has little room beside the face
            cx = ex - shift * THIRDS_OFFSET * width  # the window moves opposite to where the face should sit
        centred = True
    else:
        if image_rgb is None:
            cx, cy = iw / 2.0, ih / 2.0
        else:
            cx, cy = saliency_centre(image_rgb)
        short = SALIENCY_FRACTION[framing] * min(iw, ih)
        height = short if aspect >= 1.0 else short / aspect
        height = min(height, max(max_h, 8.0))
        width = height * aspect
        centred = False
    cx = _clamp_axis(cx, width, iw)
    cy = _clamp_axis(cy, height, ih)
    return FrameWindow(cx=cx, cy=cy, width=width, height=height, fov_deg=fov, face_centred=centred)


def frontal_side(shot: Shot) -> int:
    """Which third a frontal face goes on in medium and wider framings (alternates by seed)."""
    if shot.framing in ("extreme_close_up", "close_up"):
        return 0
    return (-1, 0, 1)[shot.seed % 3]
