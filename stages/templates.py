"""Shot grammars: the ``ShotTemplate`` schema and loading styles from ``shot_templates/``.

A style is one YAML file. Its ``sections`` map a section label (or ``default``) to a
``SectionGrammar``: cut length in beats (scaled by tempo and energy), framing and camera-move
weights, move intensity tied to energy, transition weights and prompt fragments. Labels a
style leaves out fall back to its ``default`` grammar. A user adds a style by dropping a
``<name>.yaml`` into a directory passed as ``--templates DIR``; a file there with a built-in
name replaces the built-in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from mvdirector.errors import InputError
from mvdirector.rules import check_grades
from mvdirector.schemas import CAMERA_MOVES, FRAMINGS, SECTION_LABELS, Easing

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "shot_templates"
DEFAULT_STYLE = "cinematic"
TRANSITION_KINDS = ("cut", "crossfade", "flash", "whip")
MAX_WEIGHT = 1000.0
"""Largest weight of a framing, move or transition (only ratios matter)."""

FRAMING_PHRASES: dict[str, str] = {
    "extreme_close_up": "extreme close-up on the singer's eyes and mouth",
    "close_up": "close-up of the singer's face",
    "medium": "medium shot of the singer from the waist up",
    "wide": "wide shot of the singer in the scene",
    "extreme_wide": "extreme wide establishing shot, the singer small in a vast space",
}
MOVE_PHRASES: dict[str, str] = {
    "static": "locked-off camera",
    "push_in": "slow push-in",
    "pull_out": "slow pull-out",
    "pan": "lateral pan",
    "tilt": "gentle tilt",
    "orbit": "camera orbiting the singer",
    "crane": "crane move",
    "dolly_zoom": "dolly zoom",
    "handheld": "handheld camera",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _weights(v: dict[str, float], allowed: tuple[str, ...], what: str) -> dict[str, float]:
    """Check a name→weight map: known names, non-negative weights, at least one positive."""
    from mvdirector.describe import unknown

    for name, w in v.items():
        if name not in allowed:
            raise ValueError(unknown(what, name, allowed))
        if not 0 <= w <= MAX_WEIGHT:
            raise ValueError(f"{what} '{name}' has weight {w}; weights must lie in 0..{MAX_WEIGHT:g}")
    if sum(v.values()) <= 0:
        raise ValueError(f"{what} weights are empty or all zero; give at least one a positive weight")
    return v


class SectionGrammar(_Strict):
    """How one kind of section is shot. Unset fields inherit from the style's ``default``."""

    cut_beats: tuple[float, float] | None = Field(
        default=None, description="shortest and longest shot in beats at the reference tempo"
    )
    framings: dict[str, float] | None = Field(default=None, description="framing → weight")
    moves: dict[str, float] | None = Field(default=None, description="camera move → weight")
    intensity: tuple[float, float] | None = Field(
        default=None, description="move intensity at energy 0 and at energy 1"
    )
    easing: Easing | None = None
    transitions: dict[str, float] | None = Field(default=None, description="transition kind → weight")
    transition_beats: dict[str, float] | None = Field(
        default=None, description="length in beats of each non-cut transition"
    )
    take_chance: float | None = Field(
        default=None, ge=0, le=1, description="chance that a shot continues the previous shot's take"
    )
    max_take_shots: int | None = Field(default=None, ge=1, le=16)
    accelerate: float | None = Field(
        default=None, ge=0, le=1, description="build-up: how far the target length falls toward the shortest by the end"
    )
    prompt: str | None = Field(default=None, max_length=500, description="prompt fragment for this section")

    @field_validator("framings")
    @classmethod
    def _framings(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return None if v is None else _weights(v, FRAMINGS, "framing")

    @field_validator("moves")
    @classmethod
    def _moves(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return None if v is None else _weights(v, CAMERA_MOVES, "camera move")

    @field_validator("transitions")
    @classmethod
    def _transitions(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return None if v is None else _weights(v, TRANSITION_KINDS, "transition")

    @field_validator("transition_beats")
    @classmethod
    def _tbeats(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        for k, b in v.items():
            if k not in TRANSITION_KINDS or k == "cut":
                raise ValueError(f"transition_beats key '{k}' must be one of crossfade, flash, whip")
            if not (0 < b <= 8):
                raise ValueError(f"transition_beats '{k}' is {b}; it must be in (0, 8] beats")
        return v

    @field_validator("cut_beats")
    @classmethod
    def _cut(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (0 < v[0] <= v[1] <= 64):
            raise ValueError(f"cut_beats {list(v)} must satisfy 0 < shortest <= longest <= 64")
        return v

    @field_validator("intensity")
    @classmethod
    def _intensity(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not all(0 <= x <= 1 for x in v):
            raise ValueError(f"intensity {list(v)} must lie in 0..1")
        return v


class ResolvedGrammar(_Strict):
    """A section grammar with every field filled in (section over default over built-in)."""

    cut_beats: tuple[float, float]
    framings: dict[str, float]
    moves: dict[str, float]
    intensity: tuple[float, float]
    easing: Easing
    transitions: dict[str, float]
    transition_beats: dict[str, float]
    take_chance: float
    max_take_shots: int
    accelerate: float
    prompt: str


_BUILTIN_DEFAULT = ResolvedGrammar(
    cut_beats=(4.0, 8.0),
    framings={"close_up": 1.0, "medium": 1.0, "wide": 0.5},
    moves={"static": 1.0, "push_in": 1.0, "pull_out": 1.0},
    intensity=(0.2, 0.7),
    easing="ease_in_out",
    transitions={"cut": 1.0},
    transition_beats={"crossfade": 1.0, "flash": 0.5, "whip": 0.5},
    take_chance=0.0,
    max_take_shots=3,
    accelerate=0.0,
    prompt="",
)


class ShotTemplate(_Strict):
    """A style: shot grammar per section type, global limits and prompt wording."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=64)
    description: str = Field(default="", max_length=500)
    prompt: str = Field(default="", max_length=500, description="style prompt fragment that opens every shot's prompt")
    shot_s: tuple[float, float] = Field(default=(1.0, 8.0), description="shortest and longest shot in seconds")
    tempo_ref_bpm: float = Field(default=120.0, gt=0, le=1000)
    tempo_exponent: float = Field(
        default=0.5, ge=0, le=1, description="cut_beats scale as (bpm / tempo_ref_bpm) ** tempo_exponent"
    )
    captions: bool = Field(default=False, description="lyric lines are the point of the style")
    grades: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="section label (or default) → colour controls of the procedural renderer's grade "
        "(saturation, warmth, tint, contrast, lift, exposure, split, vignette, grain, bloom)",
    )
    framing_phrases: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict)
    move_phrases: dict[str, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict)
    sections: dict[str, SectionGrammar] = Field(default_factory=dict)
    source: str | None = Field(default=None, description="file the style was loaded from (set by the loader)")

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return check_grades(v, SECTION_LABELS, "grades")

    @field_validator("sections", "framing_phrases", "move_phrases")
    @classmethod
    def _known_keys(cls, v: dict, info: ValidationInfo) -> dict:
        allowed, what = {
            "sections": ((*SECTION_LABELS, "default"), "section"),
            "framing_phrases": (FRAMINGS, "framing_phrases key"),
            "move_phrases": (CAMERA_MOVES, "move_phrases key"),
        }[info.field_name]
        from mvdirector.describe import unknown

        for k in v:
            if k not in allowed:
                raise ValueError(unknown(what, k, allowed))
        return v

    @model_validator(mode="after")
    def _limits(self) -> ShotTemplate:
        lo, hi = self.shot_s
        if not (0 < lo <= hi <= 60):
            raise ValueError(f"shot_s {list(self.shot_s)} must satisfy 0 < shortest <= longest <= 60 s")
        return self

    def grammar(self, label: str) -> ResolvedGrammar:
        """The complete grammar for section ``label``: its own fields, then ``default``'s, then built-ins."""
        merged = _BUILTIN_DEFAULT.model_dump()
        for key in ("default", label):
            g = self.sections.get(key)
            if g is not None:
                merged.update({k: v for k, v in g.model_dump().items() if v is not None})
        return ResolvedGrammar.model_validate(merged)

    def tempo_scale(self, bpm: float) -> float:
        """Factor applied to ``cut_beats`` at tempo ``bpm`` (clamped to 0.5..2)."""
        return float(min(2.0, max(0.5, (bpm / self.tempo_ref_bpm) ** self.tempo_exponent)))

    def framing_phrase(self, framing: str) -> str:
        """Prompt words for a framing."""
        return self.framing_phrases.get(framing, FRAMING_PHRASES[framing])

    def move_phrase(self, move: str) -> str:
        """Prompt words for a camera move."""
        return self.move_phrases.get(move, MOVE_PHRASES[move])


def _template_files(templates_dir: str | Path | None) -> dict[str, Path]:
    """Style name → YAML file, built-ins first, then the user's directory overriding them."""
    files = {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.yaml"))}
    if templates_dir is not None:
        d = Path(templates_dir)
        if not d.is_dir():
            raise InputError(
                f"templates directory '{d}' does not exist or is not a directory",
                "pass a folder of <style>.yaml files with --templates",
            )
        for p in sorted([*d.glob("*.yaml"), *d.glob("*.yml")]):
            files[p.stem] = p
    return files


def load_template_file(path: str | Path) -> ShotTemplate:
    """Read and validate one style file; errors name the file, the field and the rule."""
    from mvdirector.loaders import load_yaml

    p = Path(path)
    data, _ = load_yaml(p, "style file")
    if not isinstance(data, dict):
        raise InputError(f"style file '{p}' must hold a mapping with at least 'name' and 'sections'")
    data.setdefault("name", p.stem)
    data["source"] = str(p)
    try:
        tpl = ShotTemplate.model_validate(data)
    except ValidationError as e:
        from mvdirector.describe import lines

        found = lines(e, ShotTemplate)
        raise InputError(
            f"style file '{p}': {found[0]}",
            f"fix it ({len(found)} problem(s) in all); see `mvdirector templates` for valid styles",
        ) from None
    if tpl.name != p.stem:
        raise InputError(
            f"style file '{p}' names itself '{tpl.name}' but the file is '{p.stem}.yaml'",
            f"rename the file to '{tpl.name}.yaml' or set name: {p.stem}",
        )
    return tpl


def list_templates(templates_dir: str | Path | None = None) -> list[ShotTemplate]:
    """Every available style (built-in and from ``templates_dir``), sorted by name."""
    return [load_template_file(p) for _, p in sorted(_template_files(templates_dir).items())]


def load_template(style: str = DEFAULT_STYLE, templates_dir: str | Path | None = None) -> ShotTemplate:
    """The style named ``style``; ``InputError`` listing the available names if there is none."""
    files = _template_files(templates_dir)
    if style not in files:
        raise InputError(
            f"style '{style}' is not a known shot template",
            f"use one of {', '.join(sorted(files))} or add {style}.yaml to a --templates directory",
        )
    return load_template_file(files[style])


def template_fingerprint(style: str = DEFAULT_STYLE, templates_dir: str | Path | None = None) -> str:
    """sha256 of the style's YAML file (for cache keys: editing a style re-plans)."""
    files = _template_files(templates_dir)
    if style not in files:
        load_template(style, templates_dir)  # raises the InputError naming the available styles
    return hashlib.sha256(files[style].read_bytes()).hexdigest()


TemplateSource = Literal["builtin", "user"]


def template_source(tpl: ShotTemplate) -> TemplateSource:
    """Whether a loaded style came from the built-in folder or a user's directory."""
    if tpl.source and Path(tpl.source).resolve().parent == BUILTIN_DIR:
        return "builtin"
    return "user"
