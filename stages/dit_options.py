"""Options of the ``dit`` renderer: a typed, validated dataclass; the per-shot subset; sampling defaults.

Sampling options left at ``None`` (``steps``, ``guidance_scale``, ``guidance_scale_2``, ``shift``,
``native_fps``) take the official defaults of the loaded checkpoint's family (see
:mod:`models.i2v_checkpoint`), resolved by :meth:`DitOptions.sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mvdirector.errors import InputError
from stages.render.options import GenerativeOptions, check_choice, check_range

CAMERA_MODES = ("auto", "guide", "adapter", "both", "none")
# Wan's own default negative prompt (wan/configs/shared_config.py, sample_neg_prompt), which its
# generate.py uses whenever none is given: garish colours, overexposed, static, blurry details,
# subtitles, worst quality, JPEG artefacts, deformed hands and faces, extra fingers, still frame,
# cluttered background, three legs, crowds, walking backwards.
DEFAULT_NEGATIVE = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)
# Options a shot's renderer_options may override; the rest belong to the loaded model.
PER_SHOT = (
    "camera",
    "guide_strength",
    "steps",
    "guidance_scale",
    "guidance_scale_2",
    "shift",
    "negative_prompt",
    "chain",
    "reference_tokens",
    "motion_frames",
    "captions",
    "window",
    "overlap",
    "window_shift",
    "window_max_shift",
    "min_last",
)


@dataclass(frozen=True)
class Sampling:
    """Resolved sampling settings of one shot."""

    steps: int
    guidance_scale: float
    guidance_scale_2: float | None
    shift: float | None
    native_fps: float


@dataclass(frozen=True)
class DitOptions(GenerativeOptions):
    """Options of the dit renderer (window lengths are in latent frames: 1 latent = 4 native frames).

    ``weights`` is a local diffusers Wan I2V checkpoint directory; the shared options (guide
    strength, negative prompt, captions, device policy) are :class:`GenerativeOptions`'.
    """

    RENDERER: ClassVar[str] = "dit"
    PER_SHOT: ClassVar[tuple[str, ...]] = PER_SHOT
    RUNTIME_ONLY: ClassVar[tuple[str, ...]] = (*GenerativeOptions.RUNTIME_ONLY, "adapter")

    negative_prompt: str = DEFAULT_NEGATIVE
    adapter: str | None = None  # camera adapter directory (config.json + camera_adapter.safetensors)
    camera: str = "auto"  # auto (adapter if loaded, else guide) | guide | adapter | both | none
    steps: int | None = None  # None: the checkpoint family's official default
    guidance_scale: float | None = None  # the (high-noise) transformer; None: official default
    guidance_scale_2: float | None = None  # the low-noise expert of Wan2.2 A14B; None: official default
    shift: float | None = None  # flow-matching shift; None: official default for the family and size
    native_fps: float | None = None  # fps the model generates at; None: the family's (16)
    chain: bool = True  # a continuing shot starts from the previous shot's last raw frame
    reference_tokens: bool = False  # opt-in: the reference latent as clean context tokens (untrained)
    motion_frames: bool = False  # opt-in: the previous shot's last latents as FramePack tokens (untrained)
    window: int = 21  # 81 native frames, Wan's training length
    overlap: int = 5
    window_shift: int = 1
    window_max_shift: int = 4
    min_last: int = 9
    max_sequence_length: int = 512

    def validate(self, where: str = "dit renderer option") -> None:
        """Raise InputError for out-of-range values."""
        super().validate(where)
        check_choice(where, "camera", self.camera, CAMERA_MODES)
        check_range(where, (
            ("steps", self.steps, 1, 1000),
            ("guidance_scale", self.guidance_scale, 0.0, 100.0),
            ("guidance_scale_2", self.guidance_scale_2, 0.0, 100.0),
            ("shift", self.shift, 1e-6, 100.0),
            ("native_fps", self.native_fps, 1e-6, 120.0),
            ("max_sequence_length", self.max_sequence_length, 1, 4096),
            ("window", self.window, 1, 1000),
            ("overlap", self.overlap, 0, 1000),
            ("window_shift", self.window_shift, 0, 1000),
            ("window_max_shift", self.window_max_shift, 0, 1000),
            ("min_last", self.min_last, 1, 1000),
        ))
        try:
            self.window_config()
        except ValueError as e:
            raise InputError(f"{where} windows: {e}") from e

    def window_config(self):
        """The :class:`models.windows.WindowConfig` of these options."""
        from models.windows import WindowConfig

        return WindowConfig(self.window, self.overlap, self.window_shift, self.window_max_shift, self.min_last)

    def sampling(self, defaults, width: int, height: int) -> Sampling:
        """Steps, guidance, shift and native fps: these options over ``defaults`` (a ``SamplingDefaults``)."""
        g1 = defaults.guidance_scale if self.guidance_scale is None else self.guidance_scale
        g2 = self.guidance_scale_2 if self.guidance_scale_2 is not None else defaults.guidance_scale_2
        return Sampling(
            steps=defaults.steps if self.steps is None else self.steps,
            guidance_scale=g1,
            guidance_scale_2=g2,
            shift=defaults.shift_for(width, height) if self.shift is None else self.shift,
            native_fps=defaults.fps if self.native_fps is None else self.native_fps,
        )
