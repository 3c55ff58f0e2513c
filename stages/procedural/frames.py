"""One shot as a stream of frames: framing → camera path → layered warp with the face rig → captions →
per-frame grade, in I420.

``ShotFrames`` does all per-shot preparation up front (window, graded layers, camera track, beat
envelopes, caption plan, the face rig's states) and then makes frames one at a time, so memory is
bounded by a few frames plus the working-size layers, whatever the shot length. The shot's colour
grade is baked into its layers once; each frame then costs two perspective warps (background and
subject), the rig's remap of the face region, a caption blend, one RGB→I420 conversion and the
vignette/grain/lift on the planes — the encoder takes I420 directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from mvdirector.schemas import AudioAnalysis, ReferenceInfo, Shot, ShotPlan
from stages.render.camera_path import camera_track
from stages.render.framing import FrameWindow, frame_window, frontal_side

from .grade import FrameGrader, beat_envelopes, grade_for, template_grades
from .layers import Separation, ShotLayers, build_layers
from .options import ProceduralOptions
from .projection import apply_homography, plane_homography
from .rig import FaceRig, RigSetup

log = logging.getLogger(__name__)

MAX_FORWARD = 0.8  # the camera never comes closer than 0.2 subject distances to the subject plane
SOFT_BACKGROUND = ("extreme_close_up", "close_up")  # framings whose background layer is filmed at half size
MIN_PARALLAX_PX = 2.0  # below this the two layers barely move apart: render one flat layer (half the cost)


@dataclass(frozen=True)
class ShotInputs:
    """What ``ShotFrames`` needs: the plan, the shot, the song analysis and the reference."""

    plan: ShotPlan
    shot: Shot
    analysis: AudioAnalysis
    reference: ReferenceInfo
    image: np.ndarray  # the reference as load_image returns it (coordinates of ``reference``)
    separation: Separation | None
    rig: RigSetup | None = None  # the singer's face rig, None = no facial animation
    face_states: dict[str, np.ndarray] | None = None  # the performance sampled at this shot's frames
    caption_opacity: np.ndarray | None = None  # per frame 0..1 (fades at crossfades), None = always 1


class ShotFrames:
    """Iterable of exactly ``len(self)`` RGB uint8 frames of one shot."""

    def __init__(self, inputs: ShotInputs, options: ProceduralOptions) -> None:
        from models.camera import intrinsics

        plan, shot = inputs.plan, inputs.shot
        self.inputs = inputs
        self.options = options
        self.width, self.height, self.fps = plan.render.width, plan.render.height, plan.render.fps
        self.n = shot.n_frames(self.fps)
        img = inputs.image
        self.window: FrameWindow = frame_window(
            inputs.reference, shot.framing, self.width, self.height, image_rgb=img, side=frontal_side(shot)
        )
        self.track = camera_track(shot, self.n, self.window.fov_deg)
        self.c2w = self.track.c2w()
        if self.c2w[:, 2, 3].max() > MAX_FORWARD:
            # A long take of push-ins can walk the camera into the picture plane; stop short of it.
            log.warning("shot '%s': camera would pass %.2f of the way to the subject; held at %.2f",
                        shot.id, float(self.c2w[:, 2, 3].max()), MAX_FORWARD)
            self.c2w[:, 2, 3] = np.minimum(self.c2w[:, 2, 3], MAX_FORWARD)
        self.k_out = intrinsics(self.track.fov_deg, self.width, self.height)
        self.parallax_px = self._max_parallax_px(options.background_depth)
        sep = inputs.separation if options.parallax and self.parallax_px >= MIN_PARALLAX_PX else None
        grades = plan.render.grades if plan.render.grades is not None else template_grades(plan.render.style)
        grade = grade_for(plan.render.style, shot.section, {f"grade_{k}": v for k, v in options.grade}, grades)
        self.grader = FrameGrader(
            grade, self.width, self.height, seed=_seed(plan, shot), grain_scale=options.grain,
            vignette_scale=options.vignette,
        )
        self.layers: ShotLayers = build_layers(img, self.window, self.height, sep, grade=self.grader.bake)
        self.layered = self.layers.subject is not None
        self._subject_corners = _alpha_corners(self.layers.subject) if self.layered else None
        k_src = self.window.source_intrinsics()
        # Rays of working pixels: reference pixel = to_work⁻¹ · working pixel.
        self.k_src_inv = np.linalg.inv(k_src) @ np.linalg.inv(self.layers.to_work)
        start = shot.frame_range(self.fps)[0] / self.fps
        beat, down, energy = beat_envelopes(inputs.analysis, start, self.n, self.fps)
        self.zoom = 1.0 + options.beat_zoom * beat * (0.35 + 0.65 * energy)
        high = max(0.0, (shot.energy - 0.55) / 0.45)
        self.lift = options.downbeat_lift * down * high
        self.captions = None
        self.rig: FaceRig | None = None
        self._init_overlays()

    def _init_overlays(self) -> None:
        """The caption renderer and the face rig, when the shot calls for them."""
        shot, opts, inp = self.inputs.shot, self.options, self.inputs
        if opts.captions and shot.lyric is not None and shot.lyric.line.strip():
            from stages.render.captions import CaptionRenderer

            self.captions = CaptionRenderer(shot.lyric, self.width, self.height, avoid=self._face_rows())
        self.caption_opacity = inp.caption_opacity if inp.caption_opacity is not None else np.ones(self.n)
        if opts.rig and inp.rig is not None and inp.face_states is not None:
            layer = self.layers.subject if self.layered else self.layers.flat
            border = cv2.BORDER_CONSTANT if self.layered else cv2.BORDER_REPLICATE
            self.rig = FaceRig(inp.rig, inp.face_states, self.layers.to_work, layer, border, lip_sync=opts.mouth)
            if self.layered:  # the subject's box grows by whatever the rig may move
                r = self.rig.region
                box = np.concatenate([self._subject_corners, [[r.x0, r.y0], [r.x1, r.y1]]])
                x0, y0 = box.min(axis=0)
                x1, y1 = box.max(axis=0)
                self._subject_corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)

    def _max_parallax_px(self, depth: float) -> float:
        """Largest distance (output pixels) between where the subject and background planes put the same
        source point, over the shot, at the window's corners and centre."""
        win = self.window
        hw, hh = win.width / 2, win.height / 2
        pts = np.array([[0, 0], [-hw, -hh], [hw, -hh], [-hw, hh], [hw, hh]]) + np.array([win.cx, win.cy])
        k_inv = np.linalg.inv(win.source_intrinsics())
        worst = 0.0
        for i in range(self.n):
            a = apply_homography(plane_homography(self.k_out[i], self.c2w[i], k_inv, 1.0), pts)
            b = apply_homography(plane_homography(self.k_out[i], self.c2w[i], k_inv, depth), pts)
            worst = max(worst, float(np.abs(a - b).max()))
        return worst

    def __len__(self) -> int:
        return self.n

    def homography(self, i: int, depth: float) -> np.ndarray:
        """Working pixels → output pixels for frame ``i`` of a layer at ``depth``."""
        k = self.k_out[i].copy()
        k[0, 0] *= self.zoom[i]
        k[1, 1] *= self.zoom[i]
        return plane_homography(k, self.c2w[i], self.k_src_inv, depth)

    def face_homography(self, i: int) -> np.ndarray:
        """Reference pixels → output pixels for the subject plane (depth 1) at frame ``i``."""
        return self.homography(i, 1.0) @ self.layers.to_work

    def _buffers(self) -> dict[str, np.ndarray]:
        """Frame-sized work buffers, allocated once (fresh large arrays cost page faults every frame)."""
        if not hasattr(self, "_bufs"):
            shape = (self.height, self.width, 4)
            self._bufs = {k: np.empty(shape, np.uint8) for k in ("bg", "fg", "inv")}
            self._bufs["alpha"] = np.empty(shape[:2], np.uint8)  # views of these serve smaller regions
            self._bufs["bg_half"] = np.empty((self.height // 2, self.width // 2, 4), np.uint8)
        return self._bufs

    def camera_frame(self, i: int, rgbx: bool = False, rig: bool = True) -> np.ndarray:
        """Frame ``i`` after the camera and the face rig (graded layers; no captions, vignette or grain);
        RGB, or RGBX in a reused buffer. ``rig=False`` leaves the face as in the photo."""
        size = (self.width, self.height)
        b = self._buffers()
        h_fg = self.homography(i, 1.0)
        face = self.layers.subject if self.layered else self.layers.flat
        if rig and self.rig is not None:
            face = self.rig.layer(i, h_fg)
        if not self.layered:
            out = warp_plane(face, h_fg, size, b["bg"], cv2.BORDER_REPLICATE)
        else:
            h_bg = self.homography(i, self.options.background_depth)
            if self.inputs.shot.framing in SOFT_BACKGROUND:
                # Close framings film the background at half resolution: it reads as the lens' depth
                # of field behind the singer, and costs a quarter of the warp.
                half = (self.width // 2, self.height // 2)
                small = warp_plane(self.layers.background, np.diag([0.5, 0.5, 1.0]) @ h_bg, half, b["bg_half"],
                                   cv2.BORDER_REPLICATE)
                bg = cv2.resize(small, size, dst=b["bg"], interpolation=cv2.INTER_LINEAR)
            else:
                bg = warp_plane(self.layers.background, h_bg, size, b["bg"], cv2.BORDER_REPLICATE)
            x0, y0, x1, y1 = self._subject_box(h_fg)
            if x1 > x0 and y1 > y0:
                # Warp the subject only where it lands, then premultiplied "over": bg · (1 − α) + fg.
                shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
                bw, bh = x1 - x0, y1 - y0
                fg = warp_plane(face, shift @ h_fg, (bw, bh), b["fg"][:bh, :bw], cv2.BORDER_CONSTANT)
                alpha = cv2.extractChannel(fg, 3, dst=b["alpha"][:bh, :bw])
                cv2.bitwise_not(alpha, dst=alpha)
                inv = cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGBA, dst=b["inv"][:bh, :bw])
                roi = bg[y0:y1, x0:x1]
                cv2.multiply(roi, inv, dst=roi, scale=1.0 / 255.0)
                cv2.add(fg, roi, dst=roi)
            out = bg
        return out if rgbx else cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)

    def _subject_box(self, h: np.ndarray) -> tuple[int, int, int, int]:
        """Output-pixel box (x0, y0, x1, y1) that the subject layer covers under homography ``h``."""
        p = np.concatenate([self._subject_corners, np.ones((4, 1))], axis=1) @ h.T
        if np.any(p[:, 2] <= 1e-9):
            return 0, 0, self.width, self.height
        q = p[:, :2] / p[:, 2:3]
        x0, y0 = np.floor(q.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(q.max(axis=0)).astype(int) + 2
        return max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1)

    def frame_yuv(self, i: int) -> np.ndarray:
        """The finished frame ``i`` as a new (H·3/2, W) uint8 I420 array (what the encoder takes)."""
        out = self.camera_frame(i, rgbx=True)
        self.grader.bloom(out)
        if self.captions is not None and self.caption_opacity[i] > 0.004:
            self.captions.apply(out, i / self.fps, float(self.caption_opacity[i]))
        yuv = cv2.cvtColor(out, cv2.COLOR_RGBA2YUV_I420)
        return self.grader.finish_yuv(yuv, float(self.lift[i]), i)

    def frame(self, i: int) -> np.ndarray:
        """The finished frame ``i`` as a new (H, W, 3) uint8 RGB array (the I420 frame, converted back)."""
        return cv2.cvtColor(self.frame_yuv(i), cv2.COLOR_YUV2RGB_I420)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n):
            yield self.frame(i)

    def mouth_out(self, i: int) -> np.ndarray | None:
        """The outer lip outline (12, 2) in frame ``i`` as the rig drew it (the photo's without the rig)."""
        if self.rig is not None and self.rig.frames_rigged:
            return apply_homography(self.homography(i, 1.0), self.rig.dst[i][48:60])
        face = self.inputs.reference.primary_face
        if face is None or len(face.landmarks) < 68:
            return None
        return apply_homography(self.face_homography(i), np.asarray(face.landmarks, dtype=np.float64)[48:60])

    def _face_rows(self) -> tuple[tuple[float, float], ...]:
        """Rows of the output the singer's mouth may take during the shot (the photo's lips and the jaw's drop
        below them), then the rows of the eyes' centres (a caption may cover brows, not pupils), over the
        shot's first, middle and last frame."""
        face = self.inputs.reference.primary_face
        if face is None or len(face.landmarks) < 68:
            return ()
        lm = np.asarray(face.landmarks, dtype=np.float64)
        mouth = np.concatenate([lm[48:60], [lm[57] + 0.45 * (lm[8] - lm[57])]])  # down to where the lower lip drops
        eyes = np.stack([lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)])
        spans = []
        for pts in (mouth, eyes):
            ys = np.concatenate([apply_homography(self.face_homography(i), pts)[:, 1]
                                 for i in sorted({0, self.n // 2, self.n - 1})])
            spans.append((float(ys.min()), float(ys.max())))
        return tuple(spans)

    def face_box_out(self, i: int) -> np.ndarray | None:
        """The primary face's box corners mapped into frame ``i`` (4, 2), or None."""
        face = self.inputs.reference.primary_face
        if face is None:
            return None
        x0, y0, x1, y1 = face.box
        return apply_homography(self.face_homography(i), np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))


def warp_plane(src: np.ndarray, h: np.ndarray, size: tuple[int, int], dst: np.ndarray, border: int) -> np.ndarray:
    """``src`` seen through homography ``h`` (bilinear). A camera that does not rotate sees the plane
    through an affine map (no perspective row): then the ~4x cheaper affine warp gives the same pixels."""
    sh, sw = src.shape[:2]
    if (abs(h[2, 0]) * sw + abs(h[2, 1]) * sh) < 1e-5 * abs(h[2, 2]):
        return cv2.warpAffine(src, h[:2] / h[2, 2], size, dst=dst, flags=cv2.INTER_LINEAR, borderMode=border,
                              borderValue=0)
    return cv2.warpPerspective(src, h, size, dst=dst, flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def _alpha_corners(rgba: np.ndarray) -> np.ndarray:
    """Corners (4, 2) of the box around a layer's non-transparent pixels (the whole layer if none)."""
    ys = np.flatnonzero(rgba[:, :, 3].max(axis=1))
    xs = np.flatnonzero(rgba[:, :, 3].max(axis=0))
    h, w = rgba.shape[:2]
    x0, x1, y0, y1 = (xs[0], xs[-1] + 1, ys[0], ys[-1] + 1) if xs.size and ys.size else (0, w, 0, h)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _seed(plan: ShotPlan, shot: Shot) -> int:
    return (plan.render.seed * 1_000_003 + shot.seed) % (2**32)
