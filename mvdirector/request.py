"""What a render is asked to do (`RenderRequest`) and the one check of it before any work (`preflight`).

`render`, `plan` and `batch` (``--check`` too) build a request and call ``preflight()``: every
option and input is checked in seconds — codec and container, frame rate and size, renderer,
its options and weights, style, lyrics, vocal stem, language, a ``--plan`` and the flags that
conflict with it — and the first problem is raised as one line, before the work directory is
touched or the song analysed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mvdirector.errors import InputError, MvError, PlanError
from mvdirector.rules import (
    AspectFormat,
    CodecName,
    ForceStage,
    Formats,
    Fps,
    Height,
    Language,
    Width,
    check_container,
    fitting_size,
    parse_format,
    split_formats,
)
from mvdirector.schemas import RendererName, ShotPlan

OptionValue = str | int | float | bool | None

FLAGS = {
    "width": "--size", "height": "--size", "fps": "--fps", "seed": "--seed", "codec": "--codec", "crf": "--crf",
    "force": "--force", "jobs": "--jobs", "language": "--language", "renderer": "--renderer", "beats": "--beats",
    "asr": "--asr", "style": "--style", "renderer_options": "-O", "captions": "--captions", "formats": "--formats",
}
"""The command-line flag of each request field, for messages."""

PLAN_FLAGS = ("width", "height", "fps", "seed", "renderer")
"""Request fields a given ``--plan`` takes over: the plan is re-sized, re-timed, re-seeded or re-rendered."""
SIDECARS = (".srt", ".vtt", ".lrc")
"""Lyric files written beside the video (named after ``-o``), one set whatever the formats."""


@dataclass(frozen=True)
class Delivery:
    """One video a request delivers: its format (None for the plain single output), size and file."""

    aspect: AspectFormat | None
    width: int
    height: int
    video: Path

    @property
    def tag(self) -> str | None:
        """The format's file-system-safe tag (``9x16``), None for the plain output."""
        return self.aspect.tag if self.aspect is not None else None

    @property
    def cover(self) -> Path:
        """The cover image beside the video: ``<video stem>.jpg``."""
        return self.video.with_suffix(".jpg")


class RenderRequest(BaseModel):
    """Everything a render was asked to do, typed; fields a person did not set keep their defaults.

    Which fields were set explicitly (``model_fields_set``) matters with ``plan``: a set size, fps,
    seed or renderer is applied to the plan, a set style or templates folder is refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    song: Path
    reference: Path
    out: Path | None = None
    workdir: Path | None = None
    plan: Path | None = None
    lyrics: Path | None = None
    vocals: Path | None = None
    language: Language | None = None
    style: str = "cinematic"
    templates_dir: Path | None = None
    renderer: RendererName = "procedural"
    renderer_options: dict[str, OptionValue] = Field(default_factory=dict)
    width: Width = 1280
    height: Height = 720
    fps: Fps = 24.0
    seed: int = Field(default=0, ge=0)
    beats: Literal["madmom", "librosa"] = "madmom"
    asr: str = "auto"
    asr_model: str | None = None
    codec: CodecName = "h264"
    crf: int = Field(default=18, ge=0, le=51)
    colour_match: bool = False
    force: tuple[ForceStage, ...] = ()
    jobs: int = Field(default=1, ge=1, le=256)
    captions: Literal["burn", "soft", "both", "none"] = "burn"
    formats: Formats = ()

    _split_formats = field_validator("formats", mode="before")(split_formats)

    @classmethod
    def create(cls, **fields: Any) -> RenderRequest:
        """A request from command-line values; a bad value is one InputError naming its flag."""
        try:
            return cls(**fields)
        except ValidationError as e:
            raise InputError(*describe(e.errors()[0])) from None

    def resolved_workdir(self) -> Path:
        """The work directory: --workdir, else `<song>.mvd` beside the song."""
        return self.workdir or self.song.with_suffix(".mvd")

    def resolved_out(self) -> Path:
        """The final video path: -o, else `<workdir>/<song stem>.mp4`."""
        return self.out or self.resolved_workdir() / f"{self.song.stem}.mp4"

    @property
    def container(self) -> str:
        """The output's container, from its suffix (``mp4``, ``mov``, ``mkv``, ``m4v``)."""
        return self.resolved_out().suffix.lower().lstrip(".")

    # ------------------------------------------------------------------ deliverables

    def deliveries(self, base: tuple[int, int] | None = None) -> list[Delivery]:
        """The videos to deliver: ``-o`` itself, or one ``<out stem>.<tag><suffix>`` per ``--formats`` entry.

        ``base`` is the size 16:9 takes by default (the plan's; default: ``--size``).
        """
        out = self.resolved_out()
        base = base or (self.width, self.height)
        if not self.formats:
            return [Delivery(None, base[0], base[1], out)]
        found = []
        for text in self.formats:
            spec = parse_format(text)
            try:
                w, h = spec.resolved_size(base)
            except ValueError as e:
                raise InputError(str(e), "or change --size") from None
            found.append(Delivery(spec.aspect, w, h, out.with_name(f"{out.stem}.{spec.aspect.tag}{out.suffix}")))
        return found

    def sidecars(self) -> dict[str, Path]:
        """The lyric files beside the video, by suffix: ``<out stem>.srt``, ``.vtt`` and ``.lrc``."""
        out = self.resolved_out()
        return {suffix: out.with_suffix(suffix) for suffix in SIDECARS}

    def inputs(self) -> list[Path]:
        """Every file the request reads."""
        return [p for p in (self.song, self.reference, self.lyrics, self.vocals, self.plan) if p is not None]

    def outputs(self) -> list[Path]:
        """Every file a render may write outside its work directory: the videos, their covers, the lyric files.

        The one list of deliverables: the check that no output lands on an input or on another output reads it.
        """
        videos = [d.video for d in self.deliveries()]
        return [*videos, *(v.with_suffix(".jpg") for v in videos), *self.sidecars().values()]

    def check_outputs(self) -> None:
        """InputError when an output would overwrite an input or another output."""
        inputs = {_real(p): p for p in self.inputs()}
        seen: dict[Path, Path] = {}
        for p in self.outputs():
            real = _real(p)
            if real in inputs:
                raise InputError(
                    f"the output '{p}' would overwrite the input '{inputs[real]}'",
                    "name the video differently with -o (the lyric files and cover are named after it)",
                )
            if real in seen:
                raise InputError(f"two outputs would both be written to '{p}'", "name the video differently with -o")
            seen[real] = p

    def forced(self, stage: str) -> bool:
        """Whether ``--force`` asks to recompute ``stage``."""
        return stage in self.force or "all" in self.force

    # ------------------------------------------------------------------ the plan

    def user_plan(self, song_s: float) -> tuple[ShotPlan, list[str]]:
        """The ``--plan`` file, checked against the song (``song_s`` seconds) and the flags; with warnings.

        A set size, fps, seed or renderer is applied to the plan (a new fps re-times its cuts);
        a set style or templates folder is refused, since they only shape a plan being made.
        """
        from mvdirector.planio import load_plan, with_render

        if self.plan is None:
            raise InputError("no --plan was given")
        plan, warnings = load_plan(self.plan)
        given = self.model_fields_set
        if "style" in given and self.style != plan.render.style:
            _conflict("--style", self.style, f"the plan was directed in style '{plan.render.style}'")
        if "templates_dir" in given and self.templates_dir is not None:
            _conflict("--templates", self.templates_dir, "styles only shape a plan being made")
        changes = {k: getattr(self, k) for k in PLAN_FLAGS if k in self.model_fields_set}
        changes = {k: v for k, v in changes.items() if getattr(plan.render, k) != v}
        if changes:
            old = plan.render
            plan = with_render(plan, **changes)
            said = []
            if "width" in changes or "height" in changes:
                said.append(f"--size {plan.render.width}x{plan.render.height} (plan: {old.width}x{old.height})")
            if "fps" in changes:
                said.append(f"--fps {plan.render.fps:g} (plan: {old.fps:g}; cuts moved to the new frame grid)")
            said += [f"--{k} {changes[k]} (plan: {getattr(old, k)})" for k in ("seed", "renderer") if k in changes]
            warnings.append(f"rendering {self.plan.name} with {', '.join(said)}")
        if abs(plan.song.duration_s - song_s) > 1.0 / plan.render.fps:
            raise PlanError(
                f"the plan is for a song of {plan.song.duration_s:.3f} s but '{self.song}' is {song_s:.3f} s",
                "re-plan with `mvdirector plan` for this song",
            )
        return plan, warnings

    # ------------------------------------------------------------------ preflight

    def preflight(self, video: bool = True) -> None:
        """Check every option and input before any work; raise the first problem as an MvError.

        ``video=False`` checks for a run that stops at the plan: the renderer's name, options and
        size rules still count, its weights and the output video do not.
        """
        from mvdirector.media.audio import audio_info
        from mvdirector.media.image import load_image
        from stages.analyze import check_config
        from stages.direct import DirectConfig
        from stages.render import RENDERERS, make_renderer, renderer_spec

        song_s = audio_info(self.song).duration_s
        load_image(self.reference)
        if self.plan is not None:
            plan, _ = self.user_plan(song_s)
            fps, width, height = plan.render.fps, plan.render.width, plan.render.height
            renderer = plan.render.renderer
            used = {renderer, *(s.renderer for s in plan.shots if s.renderer)}
        else:
            plan = None
            _config(DirectConfig, style=self.style, templates_dir=_str(self.templates_dir))
            fps, width, height, renderer, used = self.fps, self.width, self.height, self.renderer, {self.renderer}
        check_config(self.analyze_config())
        if self.vocals is not None:
            check_vocals(self.vocals, song_s, fps)
        sizes = [(d.width, d.height, d.aspect) for d in self.deliveries((width, height))] if video else []
        for name in sorted(used):
            spec = renderer_spec(name)
            for w, h, aspect in sizes:
                if aspect is not None:
                    try:
                        spec.check_size(w, h)
                    except InputError as e:
                        fw, fh = fitting_size(aspect, w, spec.size_multiple)
                        raise InputError(f"format {aspect.name}: {e.message}",
                                         f"give it another size, e.g. --formats {aspect.name}={fw}x{fh}") from None
            options = dict(self.renderer_options) if name == renderer else {}
            if "weights" in options and not spec.weights:
                takes = [s.name for s in RENDERERS.values() if s.weights]
                raise InputError(f"--weights does not apply to the {name} renderer", f"it is for {', '.join(takes)}")
            spec.check_size(width, height)
            base = spec.parse_options(options)
            for shot in plan.shots if plan is not None else ():
                if (shot.renderer or renderer) == name and shot.renderer_options:
                    spec.parse_options(shot.renderer_options, base=base, where=f"shot '{shot.id}' renderer_options")
            if video:
                make_renderer(name, **options)  # a missing or incomplete checkpoint fails here
        if not video:
            return
        out = self.resolved_out()
        try:
            check_container(self.codec, out)
        except ValueError as e:
            raise InputError(str(e), "or pick another --codec") from None
        self.check_outputs()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create output directory '{out.parent}': {e.strerror or e}") from None

    def analyze_config(self):  # noqa: ANN201 - stages.analyze.AnalyzeConfig
        """The analyze stage's config for this request."""
        from stages.analyze import AnalyzeConfig

        return _config(
            AnalyzeConfig, beats=self.beats, asr=self.asr, asr_model=self.asr_model, lyrics=_str(self.lyrics),
            language=self.language, vocals=_str(self.vocals),
        )

    def direct_config(self):  # noqa: ANN201 - stages.direct.DirectConfig
        """The director's config for this request."""
        from stages.direct import DirectConfig

        return _config(
            DirectConfig, style=self.style, templates_dir=_str(self.templates_dir), width=self.width,
            height=self.height, fps=self.fps, seed=self.seed, renderer=self.renderer,
        )

    def assemble_config(self):  # noqa: ANN201 - stages.assemble.AssembleConfig
        """The assembler's config for this request (the work directory's memos are added by the pipeline)."""
        from stages.assemble import AssembleConfig

        return _config(AssembleConfig, codec=self.codec, crf=self.crf, colour_match=self.colour_match)


def check_vocals(vocals: Path, song_s: float, fps: float) -> None:
    """A vocal stem must be readable audio lasting as long as the song, within one frame at ``fps``."""
    from mvdirector.media.audio import audio_info

    try:
        stem_s = audio_info(vocals).duration_s
    except MvError as e:
        raise InputError(f"--vocals: {e.message}", e.hint) from None
    if abs(stem_s - song_s) > 1.0 / fps:
        raise InputError(
            f"the vocal stem '{vocals.name}' lasts {stem_s:.3f} s but the song {song_s:.3f} s "
            f"(more than one frame at {fps:g} fps apart)",
            "export the stem from the same session, with the same start and length as the song",
        )


def describe(err: Any) -> tuple[str, str]:
    """(message, hint) of one pydantic error of a request, naming the flag."""
    field = str(err["loc"][0]) if err["loc"] else ""
    flag = FLAGS.get(field, f"--{field.replace('_', '-')}")
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, "), f"check {flag}"
    return f"{flag} {err.get('input')!r}: {err['msg']}", f"see `mvdirector render --help` for {flag}"


def _conflict(flag: str, value: object, why: str) -> None:
    raise InputError(
        f"{flag} {value} conflicts with --plan: {why}",
        f"drop {flag}, or make a new plan with `mvdirector plan {flag} {value}`",
    )


def _config(cls: type[BaseModel], **fields: Any) -> Any:
    """A stage's config from request values; a value the stage refuses is one InputError naming its flag."""
    try:
        return cls(**fields)
    except ValidationError as e:
        raise InputError(*describe(e.errors()[0])) from None


def _real(p: Path) -> Path:
    return p.expanduser().resolve()


def _str(p: Path | None) -> str | None:
    return None if p is None else str(p)
