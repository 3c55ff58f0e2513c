"""Options of the ``s2v`` renderer: a typed, validated dataclass and the per-shot subset.

Sampling defaults are the official Wan2.2-S2V-14B ones (``wan/configs/wan_s2v_14B.py``): 40
steps, guidance 4.5, shift 3 and the S2V negative prompt; the shared options (weights, guide
strength, captions, device policy) are :class:`stages.render.options.GenerativeOptions`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mvdirector.errors import InputError
from stages.render.options import GenerativeOptions, check_choice, check_range

CAMERA_MODES = ("guide", "none")
# The official S2V negative prompt (wan_s2v_14B.py, sample_neg_prompt), used whenever none is given:
# blurry picture, worst quality, blurry details, violent emotion, fast shaking hands, subtitles, ugly,
# mutilated, extra fingers, badly drawn hands and face, deformed, disfigured limbs, fused fingers, still
# frame, cluttered background, three legs, crowds in the background, walking backwards.
S2V_NEGATIVE = (
    "画面模糊，最差质量，画面模糊，细节模糊不清，情绪激动剧烈，手快速抖动，字幕，丑陋的，残缺的，多余的手指，画得不好的手部，"
    "画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
PER_SHOT = ("camera", "guide_strength", "steps", "guidance_scale", "shift", "negative_prompt", "chain", "captions",
            "clip_frames")
CLIP_FRAMES = 80  # frames per generated clip in the official config (infer_frames), the most we allow


@dataclass(frozen=True)
class S2VOptions(GenerativeOptions):
    """Options of the s2v renderer. ``weights``: the Wan2.2-S2V-14B release directory as downloaded.

    ``offload``: ``none`` (all on the GPU), ``model`` (UMT5 and wav2vec2 in host memory, on the GPU
    only while they run), ``group`` (also stream the DiT's weights: GPUs smaller than ≈ 40 GB).
    """

    RENDERER: ClassVar[str] = "s2v"
    PER_SHOT: ClassVar[tuple[str, ...]] = PER_SHOT

    negative_prompt: str = S2V_NEGATIVE
    camera: str = "guide"  # guide: the planned move through the procedural render (noised start) | none
    steps: int = 40
    guidance_scale: float = 4.5  # classifier-free guidance; the negative pass has zeroed audio
    shift: float = 3.0  # flow-matching shift
    chain: bool = True  # a continuing shot's motion buffer starts from the previous shot's raw frames
    max_clips: int | None = None  # the most clips one shot may take (None: no limit)
    clip_frames: int | None = CLIP_FRAMES  # frames per clip, a multiple of 4; None: the fewest a one-clip shot needs

    def sampling(self, frames: int, motion: bool):  # noqa: ANN201 - models.s2v_pipeline.S2VSampling
        """The sampling settings of a shot of ``frames`` native frames (``motion``: it starts from earlier frames).

        ``clip_frames=None`` makes a shot that fits one clip generate only the frames it shows (the
        first clip's 3 cut frames included), rounded up to a multiple of 4: a 2-s shot costs a
        36-frame clip instead of an 80-frame one.
        """
        from models.s2v_pipeline import S2VSampling, audio_lead_frames

        clip = self.clip_frames
        if clip is None:
            clip = min(CLIP_FRAMES, -(-(frames + audio_lead_frames(motion)) // 4) * 4)
        return S2VSampling(steps=self.steps, guidance_scale=self.guidance_scale, shift=self.shift, infer_frames=clip)

    def validate(self, where: str = "s2v renderer option") -> None:
        """Raise InputError for out-of-range values."""
        super().validate(where)
        check_choice(where, "camera", self.camera, CAMERA_MODES)
        check_range(where, (
            ("steps", self.steps, 1, 1000),
            ("guidance_scale", self.guidance_scale, 0.0, 100.0),
            ("shift", self.shift, 1e-6, 100.0),
            ("max_clips", self.max_clips, 1, 1000),
            ("clip_frames", self.clip_frames, 4, CLIP_FRAMES),
        ))
        if self.clip_frames is not None and (self.clip_frames % 4 or self.clip_frames > CLIP_FRAMES):
            raise InputError(f"{where} clip_frames={self.clip_frames} is not a multiple of 4 up to {CLIP_FRAMES}",
                             "leave it unset for the official 80, or 'none' to fit short shots")
