"""What a render delivers beside the picture: several formats from one plan, the lyric files, the soft
subtitle track, chapters and a cover image (`stages.publish` makes them; this module places and caches them).

The work directory with ``--formats``: analysis, reference, plan, ``shots/``, ``cache/`` and ``audio/``
are shared — a clip's cache key holds the plan's size, so every format's clips sit side by side in
``shots/`` and adding a format later renders only that format. Each format's report and the
assembler's memos (which keep only what their latest run used) live in ``formats/<tag>/``
(``report.json``, ``report.html``, ``thumbs/``, ``pieces/``, ``measure/``, ``identity-cache.json``).
Without ``--formats`` the one video keeps the root layout. The mux's inputs — the subtitle track as
SRT and the chapters as ffmetadata — are written to ``publish/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mvdirector.cache import cache_key
from mvdirector.media.atomic import write_text_atomic
from mvdirector.planio import with_render
from mvdirector.progress import Reporter
from mvdirector.request import Delivery, RenderRequest
from mvdirector.rules import burns_captions, muxes_captions, subtitle_language
from mvdirector.schemas import AudioAnalysis, RenderReport, ShotClip, ShotPlan
from mvdirector.workdir import FORMATS_DIR, Workdir
from stages import publish as publish_stage

PUBLISH_DIR = "publish"
"""Folder of the files the final mux reads: ``lyrics.srt`` (the soft track) and ``chapters.txt``."""


def format_folder(wd: Workdir, delivery: Delivery) -> Path:
    """Where a delivery's report and assembly memos live: the root, or ``formats/<tag>/``."""
    return wd.root if delivery.tag is None else wd.root / FORMATS_DIR / delivery.tag


def format_plan(plan: ShotPlan, delivery: Delivery) -> ShotPlan:
    """The plan rendered for a delivery: the same shots at the delivery's size (framing follows the aspect)."""
    if (plan.render.width, plan.render.height) == (delivery.width, delivery.height):
        return plan
    return with_render(plan, width=delivery.width, height=delivery.height)


class FormatReporter:
    """A `Reporter` that names the format in every message (task names stay, so batch progress keeps working)."""

    def __init__(self, rep: Reporter, name: str) -> None:
        self.rep, self.name = rep, name

    def start(self, task: str, total: float | None = None) -> None:
        """Start ``task``."""
        self.rep.start(task, total)

    def update(self, task: str, completed: float, message: str = "") -> None:
        """Move ``task``, the message prefixed with the format."""
        self.rep.update(task, completed, f"{self.name}: {message}" if message else self.name)

    def finish(self, task: str, message: str = "") -> None:
        """Finish ``task``, the message prefixed with the format."""
        self.rep.finish(task, f"{self.name}: {message}" if message else self.name)

    def warn(self, message: str) -> None:
        """Warn, naming the format."""
        self.rep.warn(f"{self.name}: {message}")


@dataclass(frozen=True)
class Publication:
    """The run's lyric cues and chapters, and the files the mux reads (None where there is nothing)."""

    cues: list[publish_stage.Cue]
    chapters: list[publish_stage.Chapter]
    language: str | None
    track: Path | None
    chapter_file: Path | None


def publication(req: RenderRequest, wd: Workdir, plan: ShotPlan, analysis: AudioAnalysis, rep: Reporter
                ) -> Publication:
    """Cues from the plan's lyric overlays, chapters from the sections; says once when there are no lyrics."""
    cues = publish_stage.lyric_cues(plan)
    found = publish_stage.chapters(analysis, plan)
    if not cues:
        rep.warn("no lyric lines in the plan (the song has no recognised lyrics, or none is shown): "
                 "no .srt/.vtt/.lrc files and no subtitle track were written")
    track = chapter_file = None
    folder = wd.path(PUBLISH_DIR)
    if cues and muxes_captions(req.captions):
        track = _write_if_changed(folder / "lyrics.srt", publish_stage.render(".srt", cues))
    if found:
        chapter_file = _write_if_changed(folder / "chapters.txt", publish_stage.to_ffmetadata(found))
    return Publication(cues, found, analysis.lyrics.language, track, chapter_file)


def mux_settings(req: RenderRequest, pub: Publication | None, out: Path) -> tuple[dict, dict, dict]:
    """(assembler settings that enter its key, input fingerprints, assembler paths that do not)."""
    if pub is None:
        return {}, {}, {}
    settings, inputs, paths = {}, {}, {}
    if pub.track is not None:
        settings = {"subtitle_language": subtitle_language(pub.language, out.suffix),
                    "subtitle_default": not burns_captions(req.captions)}
        inputs["subtitles"] = _sha(pub.track)
        paths["subtitles"] = str(pub.track)
    if pub.chapter_file is not None:
        inputs["chapters"] = _sha(pub.chapter_file)
        paths["chapters"] = str(pub.chapter_file)
    return settings, inputs, paths


def write_lyric_files(
    req: RenderRequest, wd: Workdir, plan: ShotPlan, pub: Publication, warn: Callable[[str], None] | None = None
) -> list[Path]:
    """Write ``<out>.srt``, ``.vtt`` and ``.lrc`` beside the video (when the plan shows lyrics); return them.

    A lyric file is never written over one this command did not write (an input such as ``--lyrics song.lrc``,
    or a person's own file of that name): that one is kept and ``warn`` says so. Files this command wrote
    earlier are removed when the plan now shows no lyrics.
    """
    inputs = {e.path.resolve() for e in req.files(video=False).reads}  # every input the request names
    sidecars = req.sidecars()
    signed = {suffix: _signed(path) for suffix, path in sidecars.items()}
    written = []
    for suffix, path in sidecars.items():
        name = f"lyrics:{path.resolve()}"
        # ours: recorded here, or signed (.vtt/.lrc; an .srt has no comments, so it goes with its signed siblings)
        ours = wd.fresh_file(name, "", path) or signed[suffix] or (suffix == ".srt" and any(signed.values()))
        if path.exists() and (path.resolve() in inputs or not ours):
            if pub.cues and warn is not None:
                warn(f"{path.name} exists and is not a lyric file this work directory wrote: kept, no {suffix} "
                     "written (rename or delete it to get one)")
            continue
        if pub.cues:
            text = publish_stage.render(suffix, pub.cues, title=req.song.stem, length_s=plan.song.duration_s)
            _write_if_changed(path, text)
            wd.record_file(name, "", path)
            written.append(path)
        elif ours:
            path.unlink()
            wd.forget(name)
    return written


def _signed(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return publish_stage.signed(fh.read(2048))
    except OSError:
        return False


def cover(wd: Workdir, delivery: Delivery, plan: ShotPlan, clips: list[ShotClip], threshold: float,
          burned: bool) -> Path:
    """Write the cover image of a delivered video (reused while the video is unchanged); return its path."""
    key = cache_key("cover", publish_stage.VERSION, None, {"video": wd.keys.get(f"video:{video_id(wd, delivery)}")})
    name = f"cover:{video_id(wd, delivery)}"
    if not wd.fresh_file(name, key, delivery.cover):
        publish_stage.choose_cover(delivery.video, plan, [c.metrics for c in clips], delivery.cover, threshold, burned)
        wd.record_file(name, key, delivery.cover)
    return delivery.cover


def finish_report(report: RenderReport, delivery: Delivery, pub: Publication, lyric_files: list[Path]
                  ) -> RenderReport:
    """The report with what was delivered beside the picture."""
    track = subtitle_language(pub.language, delivery.video.suffix) if pub.track is not None else None
    return report.model_copy(update={
        "aspect": delivery.aspect.name if delivery.aspect is not None else None,
        "cover": str(delivery.cover) if delivery.cover.exists() else None,
        "subtitle_language": track,
        "chapters": [c.title for c in pub.chapters],
        "lyric_files": [str(p) for p in lyric_files],
    })


def video_id(wd: Workdir, delivery: Delivery) -> str:
    """How the video's record in ``keys.json`` names it: relative to the work directory when inside it."""
    try:
        return delivery.video.resolve().relative_to(wd.root.resolve()).as_posix()
    except ValueError:
        return str(delivery.video.resolve())


def _sha(path: Path) -> str:
    from mvdirector.media.atomic import file_sha256

    return file_sha256(path)


def _write_if_changed(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path
