"""Options of the ``dit`` renderer: a typed, validated dataclass; the per-shot subset; sampling defaults.

Sampling options left at ``None`` (``steps``, ``guidance_scale``, ``guidance_scale_2``, ``shift``,
``native_fps``) take the official defaults of the loaded checkpoint's family (see
:mod:`models.i2v_checkpoint`), resolved by :meth:`DitOptions.sampling`.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from mvdirector.errors import InputError

CAMERA_MODES = ("auto", "guide", "adapter", "both", "none")
OFFLOADS = ("none", "model", "group")
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
# Options that change the pixels only through the device or speed (kept out of the cache key).
RUNTIME_ONLY = ("weights", "adapter", "device", "offload", "attention", "vae_tiling")


@dataclass(frozen=True)
class Sampling:
    """Resolved sampling settings of one shot."""

    steps: int
    guidance_scale: float
    guidance_scale_2: float | None
    shift: float | None
    native_fps: float


@dataclass(frozen=True)
class DitOptions:
    """Options of the dit renderer (window lengths are in latent frames: 1 latent = 4 native frames)."""

    weights: str | None = None  # local diffusers Wan I2V checkpoint directory
    adapter: str | None = None  # camera adapter directory (config.json + camera_adapter.safetensors)
    camera: str = "auto"  # auto (adapter if loaded, else guide) | guide | adapter | both | none
    guide_strength: float = 0.7  # noise level the procedural guide is taken to (1 = ignore the guide)
    steps: int | None = None  # None: the checkpoint family's official default
    guidance_scale: float | None = None  # the (high-noise) transformer; None: official default
    guidance_scale_2: float | None = None  # the low-noise expert of Wan2.2 A14B; None: official default
    shift: float | None = None  # flow-matching shift; None: official default for the family and size
    native_fps: float | None = None  # fps the model generates at; None: the family's (16)
    negative_prompt: str = DEFAULT_NEGATIVE
    chain: bool = True  # a continuing shot starts from the previous shot's last raw frame
    reference_tokens: bool = False  # opt-in: the reference latent as clean context tokens (untrained)
    motion_frames: bool = False  # opt-in: the previous shot's last latents as FramePack tokens (untrained)
    captions: bool = True  # draw the shot's lyric line over the generated frames
    window: int = 21  # 81 native frames, Wan's training length
    overlap: int = 5
    window_shift: int = 1
    window_max_shift: int = 4
    min_last: int = 9
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32
    device: str = "auto"
    offload: str = "none"  # none | model (each part on the GPU only while it runs) | group (stream weights)
    vae_tiling: bool = False
    attention: str | None = None  # diffusers attention backend, e.g. flash, sage, native
    max_sequence_length: int = 512

    @classmethod
    def from_mapping(
        cls, values: dict[str, Any], base: DitOptions | None = None, where: str = "dit renderer option"
    ) -> DitOptions:
        """Options from keyword values over ``base``, type-checked; unknown keys are an InputError.

        With a ``base`` (per-shot overrides) only the options in ``PER_SHOT`` may change.
        """
        per_shot = base is not None
        base = base or cls()
        hints = typing.get_type_hints(cls)
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in hints:
                from mvdirector.describe import unknown

                raise InputError(f"{where}: {unknown('option of the dit renderer', key, hints)}",
                                 f"options: {', '.join(sorted(hints))}")
            if per_shot and key not in PER_SHOT:
                raise InputError(
                    f"{where} '{key}' cannot change per shot", f"per-shot options: {', '.join(PER_SHOT)}"
                )
            changes[key] = _coerce(key, value, hints[key], where)
        opts = replace(base, **changes)
        opts.validate(where)
        return opts

    def validate(self, where: str = "dit renderer option") -> None:
        """Raise InputError for out-of-range values."""
        if self.camera not in CAMERA_MODES:
            raise InputError(f"{where} camera={self.camera!r} is not one of {', '.join(CAMERA_MODES)}")
        if self.offload not in OFFLOADS:
            raise InputError(f"{where} offload={self.offload!r} is not one of {', '.join(OFFLOADS)}")
        if not 0.0 < self.guide_strength <= 1.0:
            raise InputError(
                f"{where} guide_strength={self.guide_strength} is outside (0, 1]",
                "0.6–0.8 keeps the planned move and framing",
            )
        checks = (
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
        )
        for name, value, low, high in checks:
            if value is not None and not low <= value <= high:
                raise InputError(
                    f"{where} {name}={value} is outside {low:g}..{high:g}", "leave it unset for the default"
                )
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

    def fingerprint(self) -> dict[str, str]:
        """The options that change the pixels, as strings (they enter the shot cache key)."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name not in RUNTIME_ONLY}


def _coerce(key: str, value: Any, hint: Any, where: str) -> Any:
    """``value`` as the field's type (``X`` or ``X | None``); "auto"/"none" clear an optional number."""
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    kind = next(a for a in args if a is not type(None)) if optional else hint
    if isinstance(value, Path):
        value = str(value)
    if optional and (value is None or (kind is not str and str(value).lower() in ("auto", "none", "default"))):
        return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                return value.lower() in ("true", "1", "yes", "on")
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        if kind is float:
            if isinstance(value, bool) or not math.isfinite(float(value)):
                raise ValueError(value)
            return float(value)
        return str(value)
    except (TypeError, ValueError) as e:
        finite = "finite " if kind is float else ""
        raise InputError(f"{where} {key}={value!r} is not a {finite}{kind.__name__}") from e
