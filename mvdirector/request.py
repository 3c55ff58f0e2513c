"""What a render is asked to do (`RenderRequest`) and the one check of it before any work (`preflight`).

`render`, `plan` and `batch` (``--check`` too) build a request and call ``preflight()``: every
option and input is checked in seconds — that no output can overwrite an input or another
output and every output can be written (`RenderRequest.files`, `mvdirector.outputs`), codec
and container, frame rate and size, renderer, its options and weights, style, lyrics, vocal
stem, language, a ``--plan`` and the flags that conflict with it, and the free disk space —
and the first problem is raised as one line, before the work directory is touched or the song
analysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mvdirector.errors import InputError, MvError, PlanError
from mvdirector.rules import (
    IMAGE_SUFFIXES,
    AspectFormat,
    CodecName,
    ForceStage,
    Formats,
    Fps,
    Height,
    Language,
    Width,
    check_container,
    check_reference_count,
    fitting_size,
    parse_format,
    reference_ids,
    split_formats,
    video_bytes,
)
from mvdirector.schemas import RendererName, ShotPlan
from mvdirector.schemas.base import Seed

if TYPE_CHECKING:
    from mvdirector.outputs import Files

OptionValue = str | int | float | bool | None

FLAGS = {
    "width": "--size", "height": "--size", "fps": "--fps", "seed": "--seed", "codec": "--codec", "crf": "--crf",
    "force": "--force", "jobs": "--jobs", "language": "--language", "renderer": "--renderer", "beats": "--beats",
    "asr": "--asr", "style": "--style", "renderer_options": "-O", "reference": "--ref", "references": "--ref",
    "singer": "--singer", "allow_others": "--allow-others", "captions": "--captions", "formats": "--formats",
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


def format_video(out: Path, aspect: AspectFormat) -> Path:
    """The video of one ``--formats`` entry: ``<out stem>.<tag><suffix>`` (``song.9x16.mp4``)."""
    return out.with_name(f"{out.stem}.{aspect.tag}{out.suffix}")


class RenderRequest(BaseModel):
    """Everything a render was asked to do, typed; fields a person did not set keep their defaults.

    Which fields were set explicitly (``model_fields_set``) matters with ``plan``: a set size, fps,
    seed or renderer is applied to the plan, a set style or templates folder is refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    song: Path
    reference: Path
    """The first ``--ref``: a photo, or a folder of photos."""
    references: tuple[Path, ...] = ()
    """Further ``--ref`` photos or folders: more looks of the singer, and scenes."""
    singer: Path | None = None
    """``--singer``: the singer's photo when it is not the first (added to the photos when not among them)."""
    allow_others: bool = False
    """``--allow-others``: a photo of another person is used as a scene instead of refused."""
    out: Path | None = None
    workdir: Path | None = None
    plan: Path | None = None
    lyrics: Path | None = None
    vocals: Path | None = None
    language: Language | None = None
    style: str = Field(default="cinematic", max_length=64)
    templates_dir: Path | None = None
    renderer: RendererName = "procedural"
    renderer_options: dict[str, OptionValue] = Field(default_factory=dict, max_length=64)
    width: Width = 1280
    height: Height = 720
    fps: Fps = 24.0
    seed: Seed = 0
    beats: Literal["madmom", "librosa"] = "madmom"
    asr: str = Field(default="auto", max_length=64)
    asr_model: str | None = None
    codec: CodecName = "h264"
    crf: int = Field(default=18, ge=0, le=51)
    colour_match: bool = False
    force: tuple[ForceStage, ...] = ()
    jobs: int | None = Field(default=None, ge=1, le=256)
    """Shots rendered side by side; None is ``auto`` (`mvdirector.executors.shot_executor`)."""
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

    def photos(self) -> list[Path]:
        """Every photo of the render, the singer's first: ``--ref`` files and folders' images (by name), once each.

        A photo found again through a folder or ``--singer`` counts once; InputError for a path that does
        not exist, a folder without images, a file given twice with --ref, or too many photos.
        """
        found: list[Path] = []
        files = [g.resolve() for g in (self.reference, *self.references) if g.is_file()]
        if twice := next((g for g in (self.reference, *self.references) if files.count(g.resolve()) > 1), None):
            raise InputError(f"photo '{twice}' is given twice with --ref", "give each photo once")
        for given in (self.reference, *self.references):
            if given.is_dir():
                inside = sorted(p for p in given.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                                and not p.name.startswith(".") and p.is_file())
                if not inside:
                    raise InputError(f"--ref folder '{given}' holds no photo ({', '.join(IMAGE_SUFFIXES)})",
                                     "put the singer's photos in it, or give the files")
                found += inside
            elif given.exists():
                found.append(given)
            else:
                raise InputError(f"reference image '{given}' does not exist", "check the path given to --ref")
        if self.singer is not None:
            if not self.singer.is_file():
                raise InputError(f"singer's photo '{self.singer}' does not exist", "check the path given to --singer")
            found.insert(0, self.singer)
        seen: set[Path] = set()
        photos = [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]
        try:
            check_reference_count(len(photos))
        except ValueError as e:
            raise InputError(str(e), "check --ref") from None
        return photos

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
            found.append(Delivery(spec.aspect, w, h, format_video(out, spec.aspect)))
        return found

    def sidecars(self) -> dict[str, Path]:
        """The lyric files beside the video, by suffix: ``<out stem>.srt``, ``.vtt`` and ``.lrc``."""
        out = self.resolved_out()
        return {suffix: out.with_suffix(suffix) for suffix in SIDECARS}

    def outputs(self) -> list[Path]:
        """Every file a render may write outside its work directory: the videos, their covers, the lyric files.

        The one list of deliverables: `files` enters each, and `Files.check` refuses any that would land on
        an input or on another output.
        """
        out = self.resolved_out()
        videos = [format_video(out, parse_format(t).aspect) for t in self.formats] or [out]
        return [*videos, *(v.with_suffix(".jpg") for v in videos), *self.sidecars().values()]

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

    def files(self, video: bool = True) -> Files:
        """Every file this request reads and writes, by the flag a person knows it by (`mvdirector.outputs`).

        A new input or output of a render is one line here; ``preflight`` checks them all.
        """
        from mvdirector.outputs import COVER, VIDEO, Files
        from mvdirector.workdir import FILES

        weights = self.renderer_options.get("weights")
        files = Files()
        for photo in (self.reference, *self.references):
            files.read("--ref", photo)
        files = (
            files
            .read("the song", self.song)
            .read("--singer", self.singer)
            .read("--lyrics", self.lyrics)
            .read("--vocals", self.vocals)
            .read("--plan", self.plan)
            .read_dir("--templates", self.templates_dir, ("*.yaml", "*.yml"))
            .read("--asr-model", self.asr_model)
            .read("--weights", weights if isinstance(weights, str) and weights else None)
            .workdir(self.resolved_workdir(), [n for n in FILES if not (self.plan and n == "plan.json")])
        )
        if video:
            out = self.resolved_out()
            lyric_files = set(self.sidecars().values())  # never refused: one that is not ours is kept (`deliver`)
            for path in self.outputs():
                if path not in lyric_files:
                    kind = VIDEO if path.suffix.lower() == out.suffix.lower() else COVER
                    files.write("-o" if kind is VIDEO else f"-o's {kind.what}", path, kind)
        return files

    def preflight(self, video: bool = True, also: Files | None = None) -> None:
        """Check every option and input before any work; raise the first problem as an MvError.

        ``video=False`` checks for a run that stops at the plan: the renderer's name, options and
        size rules still count, its weights and the output video do not. ``also`` adds a command's
        own outputs (``plan -o``) to the files checked against the request's.
        """
        from mvdirector.media.audio import audio_info
        from mvdirector.media.image import load_image
        from stages.analyze import check_config
        from stages.direct import DirectConfig, list_templates
        from stages.reference import check_photos

        files = self.files(video)
        if also is not None:
            files.merge(also)
        files.check()
        song_s = audio_info(self.song).duration_s
        photos = self.photos()
        for photo in photos:
            load_image(photo)  # each names its file when it cannot be read
        check_distinct(photos)
        if self.plan is not None:
            plan, _ = self.user_plan(song_s)
            check_plan_photos(plan, self.plan, photos)
            fps, width, height, renderer = plan.render.fps, plan.render.width, plan.render.height, plan.render.renderer
        else:
            plan = None
            _config(DirectConfig, style=self.style, templates_dir=_str(self.templates_dir))
            if self.templates_dir is not None:  # every style in the folder a person named, not only the one used
                list_templates(self.templates_dir)
            fps, width, height, renderer = self.fps, self.width, self.height, self.renderer
        check_config(self.analyze_config(), song_s)
        if self.vocals is not None:
            check_vocals(self.vocals, song_s, fps)
        deliveries = self.deliveries((width, height)) if video else []
        check_format_sizes(plan, renderer, deliveries)
        check_renderers(plan, renderer, self.renderer_options, video, (width, height))
        if video:
            try:
                check_container(self.codec, self.resolved_out())
            except ValueError as e:
                raise InputError(str(e), "or pick another --codec") from None
        # last, as the slowest check (faces found and compared): another person is refused before any work
        if len(photos) > 1 or self.singer is not None:
            sorted_photos = check_photos(photos, self.allow_others)
            if self.singer is not None and sorted_photos.singer.primary_face is None:
                raise InputError(f"the singer's photo '{self.singer.name}' (--singer) shows no face",
                                 "name a photo in which the singer's face is visible")
        if not video:
            return
        nbytes = sum(video_bytes(d.width, d.height, fps, song_s) for d in deliveries)
        files.reserve(self.resolved_workdir(), nbytes, "the shot clips")
        files.reserve(self.resolved_out(), nbytes, "the video")
        files.check_space()

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


def check_renderers(
    plan: ShotPlan | None, renderer: str, options: Mapping[str, Any], video: bool,
    size: tuple[int, int] | None = None,
) -> None:
    """What `render` checks about the renderers a run uses — `validate` calls this too, so both accept the same.

    Each renderer the plan (or the run) uses must exist and suit the size; the run's options
    (``-O``) and each shot's ``renderer_options`` must parse (`RendererSpec.parse_options`); with
    ``video`` the renderer is built, so missing weights fail here.
    """
    from stages.render import RENDERERS, make_renderer, renderer_spec

    width, height = size or ((plan.render.width, plan.render.height) if plan is not None else (1280, 720))
    for name in sorted(renderers_used(plan, renderer)):
        spec = renderer_spec(name)
        opts = dict(options) if name == renderer else {}
        if "weights" in opts and not spec.weights:
            takes = [s.name for s in RENDERERS.values() if s.weights]
            raise InputError(f"--weights does not apply to the {name} renderer", f"it is for {', '.join(takes)}")
        spec.check_size(width, height)
        base = spec.parse_options(opts)
        for shot in plan.shots if plan is not None else ():
            if (shot.renderer or renderer) == name and shot.renderer_options:
                spec.parse_options(shot.renderer_options, base=base, where=f"shot '{shot.id}' renderer_options")
        if video:
            make_renderer(name, **opts)  # a missing or incomplete checkpoint fails here


def renderers_used(plan: ShotPlan | None, renderer: str) -> set[str]:
    """The renderers a run draws with: ``renderer`` (the plan's or the run's) and any a shot names."""
    return {renderer, *(s.renderer for s in plan.shots if s.renderer)} if plan is not None else {renderer}


def check_format_sizes(plan: ShotPlan | None, renderer: str, deliveries: list[Delivery]) -> None:
    """Each ``--formats`` size must suit every renderer the run uses (e.g. the 16-pixel grid of dit)."""
    from stages.render import renderer_spec

    for name in sorted(renderers_used(plan, renderer)):
        spec = renderer_spec(name)
        for d in (d for d in deliveries if d.aspect is not None):
            try:
                spec.check_size(d.width, d.height)
            except InputError as e:
                fw, fh = fitting_size(d.aspect, d.width, spec.size_multiple)
                raise InputError(f"format {d.aspect.name}: {e.message}",
                                 f"give it another size, e.g. --formats {d.aspect.name}={fw}x{fh}") from None


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


def check_distinct(photos: list[Path]) -> None:
    """Two files with the same picture (the same content) are refused: each photo is given once."""
    from mvdirector.media.atomic import file_sha256

    first: dict[str, Path] = {}
    for p in photos:
        if (other := first.setdefault(file_sha256(p), p)) is not p:
            raise InputError(f"photos '{other.name}' and '{p.name}' are the same picture", "give each photo once")


def check_plan_photos(plan: ShotPlan, plan_path: Path, photos: list[Path]) -> None:
    """Every shot of a ``--plan`` must show one of the photos given (ids are the photos' file names)."""
    ids = reference_ids([p.stem for p in photos])
    for shot in plan.shots:
        if plan.photo_for(shot, ids) is None:
            raise PlanError(
                f"shot '{shot.id}' of {plan_path.name} shows photo '{shot.reference}' but the photos given are "
                f"{', '.join(ids)}",
                f"add its file to --ref (named {shot.reference}.png or .jpg), or change the shot's reference",
            )


def describe(err: Any) -> tuple[str, str]:
    """(message, hint) of one pydantic error of a request, naming the flag."""
    from mvdirector.describe import shown

    field = str(err["loc"][0]) if err["loc"] else ""
    flag = FLAGS.get(field, f"--{field.replace('_', '-')}")
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, "), f"check {flag}"
    if err["type"] == "finite_number":
        return f"{flag} {shown(err.get('input'))}: must be a finite number", f"give {flag} a number"
    return f"{flag} {shown(err.get('input'))}: {err['msg']}", f"see `mvdirector render --help` for {flag}"


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
