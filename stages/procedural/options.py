"""Options of the procedural renderer: constructor defaults, overridable per shot."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from mvdirector.describe import suggest
from mvdirector.errors import InputError, PlanError
from mvdirector.media.video import CLIP_PRESET
from mvdirector.rules import check_grade
from stages.render.options import as_bool

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
BOUNDS: dict[str, tuple[float, float]] = {
    "background_depth": (1.0, 100.0),
    "beat_zoom": (0.0, 0.5),
    "downbeat_lift": (0.0, 1.0),
    "grain": (0.0, 10.0),
    "vignette": (0.0, 10.0),
    "crf": (0, 51),
}
"""The range of every numeric option."""


@dataclass(frozen=True)
class ProceduralOptions:
    """What the procedural renderer does; every field may be overridden by ``shot.renderer_options``.

    ``grade_<control>`` keys (``-O grade_saturation=0`` or a shot's ``renderer_options``) override
    single colour controls (`mvdirector.rules.GRADE_CONTROLS`); they are collected in ``grade``.
    """

    background_depth: float = 2.5  # depth of the background layer (subject at 1); larger = more parallax
    parallax: bool = True  # separate subject and background (GrabCut) for camera translations
    beat_zoom: float = 0.025  # zoom kick on each beat at full energy (fraction of the frame)
    downbeat_lift: float = 0.08  # brightness lift on downbeats in high-energy shots
    grain: float = 1.0  # multiplier of the style's film grain (0 = off)
    vignette: float = 1.0  # multiplier of the style's vignette (0 = off)
    captions: bool = True  # draw the shot's lyric line with word highlight
    rig: bool = True  # animate the singer's face: blinks, head motion, breathing and (with ``mouth``) lip sync
    mouth: bool = True  # lip sync: the face rig's mouth follows the voice and the lyric timings
    measure: bool = True  # measure identity and colour on sampled frames while rendering (clip metrics)
    crf: int = 18  # x264 quality
    preset: str = CLIP_PRESET  # x264 preset; another one makes the assembler re-encode the clips
    grade: tuple[tuple[str, float], ...] = ()  # grade_<control> overrides, sorted by control

    @classmethod
    def from_mapping(cls, values: dict[str, Any], base: ProceduralOptions | None = None,
                     where: str = "renderer option") -> ProceduralOptions:
        """Validate ``values`` (unknown names and wrong types are errors naming the key) onto ``base``."""
        base = base or cls()
        known = {f.name: f for f in fields(cls) if f.name != "grade"}
        err = PlanError if where.startswith("shot") else InputError
        changes: dict[str, Any] = {}
        grade = dict(base.grade)
        for key, value in values.items():
            if key.startswith("grade_"):
                try:
                    grade[key[6:]] = check_grade(key[6:], value, where)
                except ValueError as e:
                    raise err(str(e), "e.g. -O grade_saturation=0.5 (0 = monochrome)") from None
                continue
            if key not in known:
                raise err(f"{where}: '{key}' is not an option of the procedural renderer{suggest(key, known)}",
                          f"options: {', '.join(sorted(known))}, grade_<control>")
            default = getattr(base, key)
            changes[key] = _coerce(key, value, type(default), where)
        opts = replace(base, **changes, grade=tuple(sorted(grade.items())))
        if opts.preset not in PRESETS:
            raise err(f"{where} preset='{opts.preset}' is not an x264 preset", f"use one of {', '.join(PRESETS)}")
        for key, (lo, hi) in BOUNDS.items():
            value = getattr(opts, key)
            if not lo <= value <= hi:
                raise err(f"{where} {key}={value} is outside {lo:g}..{hi:g}", f"the default is {getattr(cls(), key)}")
        return opts


def _coerce(key: str, value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        try:
            return as_bool(value)
        except ValueError:
            pass
    elif kind in (int, float):
        try:
            if isinstance(value, bool):
                raise TypeError
            v = kind(value)
            if kind is int and float(value) != int(v):
                raise ValueError
            if not math.isfinite(v):
                raise ValueError
            return v
        except (TypeError, ValueError):
            pass
    elif kind is str and isinstance(value, str):
        return value
    err = PlanError if where.startswith("shot") else InputError
    raise err(f"{where} {key}={value!r} is not a valid {kind.__name__}", f"give {key} a finite {kind.__name__}")
