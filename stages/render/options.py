"""Typed options of the generative backends (``dit``, ``s2v``): parsing, the per-shot subset, the cache fingerprint.

:class:`GenerativeOptions` holds what every generative backend takes — the weights, the camera
guide's strength, the negative prompt, captions and the device policy (dtype, device, offload,
VAE tiling, attention backend) — and the one way of reading options from the command line
(``-O key=value``) or a shot's ``renderer_options``: unknown keys and wrong types are one
InputError naming the key, ``"auto"``/``"none"`` clear an optional value, and per shot only the
backend's ``PER_SHOT`` options may change. A backend subclasses it (a frozen dataclass) and adds
its fields, its ``PER_SHOT`` and its checks in ``validate``.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from mvdirector.errors import InputError, ModelError

OFFLOADS = ("none", "model", "group")


@dataclass(frozen=True)
class GenerativeOptions:
    """Options shared by the generative backends; subclasses add theirs."""

    RENDERER: ClassVar[str] = "generative"
    PER_SHOT: ClassVar[tuple[str, ...]] = ()
    """Options a shot's ``renderer_options`` may override; the rest belong to the loaded model."""
    RUNTIME_ONLY: ClassVar[tuple[str, ...]] = ("weights", "device", "offload", "attention", "vae_tiling")
    """Options that change the pixels only through the device or speed (kept out of the cache key)."""

    weights: str | None = None  # the checkpoint directory (--weights)
    guide_strength: float = 0.7  # noise level the procedural camera guide is taken to (1 = ignore the guide)
    negative_prompt: str = ""
    captions: bool = True  # draw the shot's lyric line over the generated frames
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32
    device: str = "auto"
    offload: str = "none"  # none | model | group (see the backend's docs)
    vae_tiling: bool = False
    attention: str | None = None  # a diffusers attention backend, e.g. flash, sage, native

    @classmethod
    def from_mapping(cls, values: dict[str, Any], base: Any = None, where: str | None = None) -> Any:
        """Options from keyword values over ``base``, type-checked; unknown keys are an InputError.

        With a ``base`` (per-shot overrides) only the options in ``PER_SHOT`` may change.
        """
        where = where or f"{cls.RENDERER} renderer option"
        per_shot = base is not None
        base = base or cls()
        hints = typing.get_type_hints(cls)
        known = {f.name: hints[f.name] for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise InputError(f"{where} '{key}' is unknown", f"use one of {', '.join(sorted(known))}")
            if per_shot and key not in cls.PER_SHOT:
                raise InputError(
                    f"{where} '{key}' cannot change per shot", f"per-shot options: {', '.join(cls.PER_SHOT)}"
                )
            changes[key] = coerce(key, value, known[key], where)
        opts = replace(base, **changes)
        opts.validate(where)
        return opts

    def validate(self, where: str) -> None:
        """Raise InputError for out-of-range values (subclasses extend this)."""
        check_choice(where, "offload", self.offload, OFFLOADS)
        if not 0.0 < self.guide_strength <= 1.0:
            raise InputError(
                f"{where} guide_strength={self.guide_strength} is outside (0, 1]",
                "0.6–0.8 keeps the planned move and framing",
            )

    def fingerprint(self) -> dict[str, str]:
        """The options that change the pixels, as strings (they enter the shot cache key)."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name not in self.RUNTIME_ONLY}

    def weights_dir(self, hint: str) -> Path:
        """The checkpoint directory; ModelError (with ``hint``, what to pass) when none was given."""
        if self.weights is None:
            raise ModelError(f"the {self.RENDERER} renderer needs model weights", hint=hint)
        return Path(self.weights)

    def pipeline_options(self, **extra: Any):  # noqa: ANN201 - models.wan_runtime.PipelineOptions
        """The device policy as :class:`models.wan_runtime.PipelineOptions` (``extra``: its other fields)."""
        from models.wan_runtime import PipelineOptions

        return PipelineOptions(
            device=self.device, dtype=self.dtype, offload=self.offload,  # type: ignore[arg-type]
            vae_tiling=self.vae_tiling, attention=self.attention, **extra,
        )


def check_choice(where: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    """InputError when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise InputError(f"{where} {name}={value!r} is not one of {', '.join(choices)}")


def check_range(where: str, checks: tuple[tuple[str, float | int | None, float, float], ...]) -> None:
    """InputError for the first ``(name, value, low, high)`` whose value is set and outside ``low..high``."""
    for name, value, low, high in checks:
        if value is not None and not low <= value <= high:
            raise InputError(f"{where} {name}={value} is outside {low:g}..{high:g}", "leave it unset for the default")


def as_bool(value: Any) -> bool:
    """A switch as people write it: true/false, 1/0, yes/no, on/off (any case); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise ValueError(value)


def coerce(key: str, value: Any, hint: Any, where: str) -> Any:
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
            return as_bool(value)
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
