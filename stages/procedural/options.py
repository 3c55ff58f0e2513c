"""Options of the procedural renderer: constructor defaults, overridable per shot."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from mvdirector.errors import InputError, PlanError
from mvdirector.media.video import CLIP_PRESET

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")


@dataclass(frozen=True)
class ProceduralOptions:
    """What the procedural renderer does; every field may be overridden by ``shot.renderer_options``.

    ``grade_<control>`` keys in ``shot.renderer_options`` override single colour controls
    (see ``grade.Grade``) and are not fields here.
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

    @classmethod
    def from_mapping(cls, values: dict[str, Any], base: ProceduralOptions | None = None,
                     where: str = "renderer option") -> ProceduralOptions:
        """Validate ``values`` (unknown names and wrong types are errors naming the key) onto ``base``."""
        base = base or cls()
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key.startswith("grade_"):
                continue
            if key not in known:
                err = PlanError if where.startswith("shot") else InputError
                raise err(
                    f"{where} '{key}' is not an option of the procedural renderer",
                    f"use one of {', '.join(sorted(known))} or grade_<control>",
                )
            default = getattr(base, key)
            changes[key] = _coerce(key, value, type(default), where)
        opts = replace(base, **changes)
        if opts.preset not in PRESETS:
            raise InputError(
                f"{where} preset='{opts.preset}' is not an x264 preset", f"use one of {', '.join(PRESETS)}"
            )
        if not (0 <= opts.crf <= 51):
            raise InputError(f"{where} crf={opts.crf} is outside 0..51", "18 is visually lossless, 23 the x264 default")
        if not (1.0 <= opts.background_depth <= 100.0):
            raise InputError(f"{where} background_depth={opts.background_depth} must be in 1..100", "2.5 is typical")
        return opts


def _coerce(key: str, value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
    elif kind in (int, float):
        try:
            if isinstance(value, bool):
                raise TypeError
            v = kind(value)
            if kind is int and float(value) != int(v):
                raise ValueError
            return v
        except (TypeError, ValueError):
            pass
    elif kind is str and isinstance(value, str):
        return value
    raise InputError(f"{where} {key}={value!r} is not a valid {kind.__name__}", f"give {key} a {kind.__name__}")
