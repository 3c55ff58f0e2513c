"""The `mvdirector` command line: thin commands over the library (DESIGN §6).

One place (`_guard`) turns known errors into a single stderr line and exit code 2;
tracebacks appear only with ``MVDIRECTOR_DEBUG=1``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mvdirector.errors import InputError, MvError

app = typer.Typer(
    name="mvdirector",
    help="Turn a song and a portrait into a beat-cut music video, through an editable shot plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def _guard(fn: F) -> F:
    """Run a command; map MvError to one line + exit 2, other failures to one line + exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = os.environ.get("MVDIRECTOR_DEBUG") == "1"
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except MvError as e:
            if debug:
                raise
            err_console.print(f"[bold red]error:[/] {e.one_line()}", soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted — finished outputs are kept; run the same command to resume")
            raise typer.Exit(130) from None
        except Exception as e:  # noqa: BLE001 - the one place that turns bugs into a clear line
            if debug:
                raise
            err_console.print(
                f"[bold red]internal error:[/] {type(e).__name__}: {e} (set MVDIRECTOR_DEBUG=1 for the traceback)",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


class RichReporter:
    """Progress bars per stage and per shot on stderr."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description:<18}"),
            BarColumn(),
            TextColumn("{task.fields[msg]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, task: str, total: float | None = None) -> TaskID:
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total, msg="")
        return self.tasks[task]

    def start(self, task: str, total: float | None = None) -> None:
        """Show a new bar for ``task``."""
        tid = self._task(task, total)
        self.progress.update(tid, total=total, completed=0)

    def update(self, task: str, completed: float, message: str = "") -> None:
        """Move the bar of ``task``."""
        self.progress.update(self._task(task), completed=completed, msg=message[:48])

    def finish(self, task: str, message: str = "") -> None:
        """Complete the bar of ``task``; per-shot bars are removed to keep the screen short."""
        tid = self._task(task, 1.0)
        total = self.progress.tasks[self.progress.task_ids.index(tid)].total or 1.0
        self.progress.update(tid, completed=total, msg=message[:48])
        if task.startswith("shot "):
            self.progress.remove_task(tid)
            del self.tasks[task]

    def warn(self, message: str) -> None:
        """Print a warning line above the bars."""
        self.console.print(f"[yellow]warning:[/] {message}", soft_wrap=True)


class QuietReporter:
    """Reporter for --quiet/--json: warnings only."""

    def start(self, task: str, total: float | None = None) -> None:
        """Ignore."""

    def update(self, task: str, completed: float, message: str = "") -> None:
        """Ignore."""

    def finish(self, task: str, message: str = "") -> None:
        """Ignore."""

    def warn(self, message: str) -> None:
        """Print the warning to stderr."""
        err_console.print(f"warning: {message}", soft_wrap=True)


def parse_size(size: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT into even integers, or raise InputError."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", size)
    if not m:
        raise InputError(f"size '{size}' is not WIDTHxHEIGHT", "e.g. --size 1280x720, 720x1280 or 1080x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise InputError(f"size {w}x{h} is outside 16x16 .. 7680x4320")
    if w % 2 or h % 2:
        raise InputError(f"size {w}x{h} has an odd side; H.264 needs even sizes", f"use {w + w % 2}x{h + h % 2}")
    return w, h


def _check_fps(fps: float) -> float:
    if not (1.0 <= fps <= 120.0):
        raise InputError(f"fps {fps:g} is outside 1..120", "e.g. --fps 24, 25 or 30")
    return fps


def _setup_logging(verbose: bool) -> None:
    # Warnings meant for a person travel through the Reporter; logs are for --verbose.
    level = logging.INFO if verbose else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


SongArg = Annotated[Path, typer.Argument(help="The song: wav, flac, ogg, mp3 or m4a.")]
RefOpt = Annotated[Path, typer.Option("--ref", help="Portrait of the singer (PNG/JPEG).")]
LyricsOpt = Annotated[Path | None, typer.Option("--lyrics", help="Lyrics file (.txt, .lrc, .srt) to align.")]
StyleOpt = Annotated[str, typer.Option("--style", help="Shot template style (see `mvdirector templates`).")]
TemplatesOpt = Annotated[Path | None, typer.Option("--templates", help="Extra directory of style YAML files.")]
SizeOpt = Annotated[str, typer.Option("--size", help="Output WIDTHxHEIGHT, e.g. 1280x720 or 720x1280.")]
FpsOpt = Annotated[float, typer.Option("--fps", help="Frames per second.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Seed for the plan and the renders.")]
WorkdirOpt = Annotated[Path | None, typer.Option("--workdir", help="Work directory (default: SONG.mvd).")]
BeatsOpt = Annotated[str, typer.Option("--beats", help="Beat tracker: madmom or librosa.")]
AsrOpt = Annotated[
    str, typer.Option("--asr", help="Lyrics recogniser: auto, none, faster-whisper or openai-whisper:SIZE.")
]
AsrModelOpt = Annotated[str | None, typer.Option("--asr-model", help="Directory of a Whisper/CTranslate2 model.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage does.")]


@app.command()
@_guard
def render(
    song: SongArg,
    ref: RefOpt,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output video (default: WORKDIR/SONG.mp4).")] = None,
    lyrics: LyricsOpt = None,
    style: StyleOpt = "cinematic",
    templates: TemplatesOpt = None,
    renderer: Annotated[str, typer.Option("--renderer", help="procedural (CPU) or dit (GPU + weights).")] = (
        "procedural"
    ),
    weights: Annotated[Path | None, typer.Option("--weights", help="Wan I2V diffusers checkpoint (dit).")] = None,
    renderer_option: Annotated[list[str] | None, typer.Option(
        "--renderer-option", "-O", help="KEY=VALUE option of the renderer, e.g. -O steps=40 -O offload=model.",
    )] = None,
    size: SizeOpt = "1280x720",
    fps: FpsOpt = 24.0,
    seed: SeedOpt = 0,
    plan: Annotated[Path | None, typer.Option("--plan", help="Render this (edited) plan.json.")] = None,
    workdir: WorkdirOpt = None,
    beats: BeatsOpt = "madmom",
    asr: AsrOpt = "auto",
    asr_model: AsrModelOpt = None,
    codec: Annotated[str, typer.Option("--codec", help="h264, h265 or prores.")] = "h264",
    crf: Annotated[int, typer.Option("--crf", min=0, max=51, help="Quality (lower is better).")] = 18,
    colour_match: Annotated[bool, typer.Option("--colour-match", help="Even out grades within sections.")] = False,
    force: Annotated[list[str] | None, typer.Option("--force", help="Recompute a stage (repeatable).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Render independent takes in N processes.")] = 1,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render SONG into a music video of the singer in --ref."""
    from mvdirector.pipeline import RenderRequest
    from mvdirector.pipeline import render as run_render

    _setup_logging(verbose)
    w, h = parse_size(size)
    if renderer not in ("procedural", "dit"):
        raise InputError(f"unknown renderer '{renderer}'", "use --renderer procedural or --renderer dit")
    if weights is not None and renderer != "dit":
        raise InputError("--weights only applies to --renderer dit", "add --renderer dit or drop --weights")
    options: dict[str, Any] = {"weights": weights} if renderer == "dit" else {}
    for item in renderer_option or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--renderer-option '{item}' is not KEY=VALUE", "e.g. -O steps=40")
        options[key.strip()] = value.strip()
    if renderer == "dit":
        from mvdirector.pipeline import get_renderer

        get_renderer(renderer, options)  # fail fast on missing weights or bad options, before any analysis
    req = RenderRequest(
        song=song, reference=ref, out=out, workdir=workdir, plan=plan, lyrics=lyrics, style=style,
        templates_dir=templates, renderer=renderer, renderer_options=options, width=w, height=h,
        fps=_check_fps(fps), seed=seed, beats=beats, asr=asr, asr_model=asr_model, codec=codec, crf=crf,
        colour_match=colour_match, force=tuple(force or ()), jobs=jobs,
    )
    if lyrics is not None and not lyrics.exists():
        raise InputError(f"lyrics file '{lyrics}' does not exist", "check the path given to --lyrics")
    if quiet or as_json:
        report = run_render(req, QuietReporter())
    else:
        with RichReporter(err_console) as rep:
            report = run_render(req, rep)
    if as_json:
        out_console.print_json(report.model_dump_json())
        return
    if not quiet:
        _print_summary(report)


def _print_summary(report: Any) -> None:
    """A short table of the shots and the totals."""
    try:
        from stages.assemble import format_summary_rows

        rows = format_summary_rows(report)
    except (ImportError, AttributeError):
        rows = [(s.shot_id, f"{s.start_s:.2f}-{s.end_s:.2f}", s.framing, s.move, "cached" if s.cached else "new")
                for s in report.shots]
    if rows:
        table = Table(show_header=False, box=None)
        for r in rows[:60]:
            table.add_row(*[str(x) for x in r])
        err_console.print(table)
    err_console.print(
        f"[green]done[/] {report.video} — {report.duration_s:.2f} s, {report.frames} frames, "
        f"{report.rendered} shot(s) rendered, {report.cache_hits} cached, {report.total_s:.1f} s"
    )
    if report.rendered == 0:
        err_console.print("nothing changed: no shot was rendered (every clip came from the work directory's cache)")
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


@app.command()
@_guard
def analyze(
    song: SongArg,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the analysis JSON here.")] = None,
    lyrics: LyricsOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the analysis timeline to a PNG.")] = None,
    beats: BeatsOpt = "madmom",
    asr: AsrOpt = "auto",
    asr_model: AsrModelOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Analyse SONG: beats, downbeats, tempo, sections, energy, vocals, lyrics."""
    from mvdirector.media.atomic import write_json_atomic
    from stages.analyze import AnalyzeConfig
    from stages.analyze import analyze as run_analyze

    _setup_logging(verbose)
    if lyrics is not None and not lyrics.exists():
        raise InputError(f"lyrics file '{lyrics}' does not exist", "check the path given to --lyrics")
    cfg = AnalyzeConfig(beats=beats, asr=asr, asr_model=asr_model, lyrics=str(lyrics) if lyrics else None)
    if quiet:
        result = run_analyze(song, cfg)
    else:
        with RichReporter(err_console) as rep:
            rep.start("analyze", 1.0)
            result = run_analyze(song, cfg, progress=lambda f, m: rep.update("analyze", f, m))
            rep.finish("analyze")
    if result.lyrics.warning:
        err_console.print(f"[yellow]warning:[/] {result.lyrics.warning}", soft_wrap=True)
    if out is not None:
        write_json_atomic(out, result)
    else:
        out_console.print_json(result.model_dump_json())
    if plot is not None:
        from stages.analyze.plot import plot_analysis

        plot_analysis(result, song, plot)
    if not quiet:
        n_words = sum(len(line.words) for line in result.lyrics.lines)
        err_console.print(
            f"[green]done[/] {result.bpm:.1f} bpm, {result.beats_per_bar}/bar, {len(result.beats)} beats, "
            f"{len(result.sections)} sections, {n_words} words" + (f" → {out}" if out else "")
        )


@app.command()
@_guard
def plan(
    song: SongArg,
    ref: RefOpt,
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write plan.json.")] = Path("plan.json"),
    lyrics: LyricsOpt = None,
    style: StyleOpt = "cinematic",
    templates: TemplatesOpt = None,
    size: SizeOpt = "1280x720",
    fps: FpsOpt = 24.0,
    seed: SeedOpt = 0,
    workdir: WorkdirOpt = None,
    beats: BeatsOpt = "madmom",
    asr: AsrOpt = "auto",
    asr_model: AsrModelOpt = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Also export an OpenTimelineIO timeline.")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Make an editable shot plan for SONG without rendering it."""
    from mvdirector.pipeline import RenderRequest, Workdir, ensure_analysis, ensure_plan, ensure_reference
    from mvdirector.planio import save_plan

    _setup_logging(verbose)
    w, h = parse_size(size)
    if lyrics is not None and not lyrics.exists():
        raise InputError(f"lyrics file '{lyrics}' does not exist", "check the path given to --lyrics")
    req = RenderRequest(
        song=song, reference=ref, workdir=workdir, lyrics=lyrics, style=style, templates_dir=templates,
        width=w, height=h, fps=_check_fps(fps), seed=seed, beats=beats, asr=asr, asr_model=asr_model,
    )
    from mvdirector.lock import WorkdirLock
    from mvdirector.pipeline import check_inputs

    check_inputs(req)  # unreadable song or portrait, unknown style: one line, before any analysis

    lock = WorkdirLock(req.resolved_workdir())
    lock.acquire()  # a render running on the same work directory is refused with one line
    wd = Workdir.open(req.resolved_workdir())
    rep: Any = QuietReporter() if quiet else RichReporter(err_console)
    if not quiet:
        rep.__enter__()
    try:
        analysis = ensure_analysis(req, wd, rep)
        reference = ensure_reference(req, wd, rep)
        result = ensure_plan(req, wd, analysis, reference, rep)
    finally:
        lock.release()
        if not quiet:
            rep.__exit__(None, None, None)
    save_plan(result, out)
    if otio is not None:
        from stages.otio_export import write_otio

        write_otio(result, otio, analysis=analysis)
    if not quiet:
        err_console.print(f"[green]done[/] {len(result.shots)} shots → {out}")


@app.command()
@_guard
def validate(
    plan_file: Annotated[Path, typer.Argument(help="A plan.json to check.")],
    fix: Annotated[bool, typer.Option("--fix", help="Write back the plan with times snapped to the grid.")] = False,
    analysis_file: Annotated[
        Path | None, typer.Option("--analysis", help="analysis.json to check cuts against (default: beside the plan).")
    ] = None,
    templates: TemplatesOpt = None,
) -> None:
    """Check a hand-edited plan.json and say precisely what is wrong."""
    from mvdirector.errors import PlanError
    from mvdirector.planio import load_plan, save_plan
    from mvdirector.schemas import AudioAnalysis
    from stages.direct import fill_keyframes, plan_warnings

    try:
        result, warnings = load_plan(plan_file)
    except PlanError as e:
        problems = getattr(e, "problems", None) or [e.one_line()]
        for p in problems:
            err_console.print(f"[bold red]error:[/] {p}", soft_wrap=True)
        raise typer.Exit(2) from None
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    if analysis_file is None and (plan_file.parent / "analysis.json").exists():
        analysis_file = plan_file.parent / "analysis.json"
    analysis = AudioAnalysis.model_validate_json(analysis_file.read_text()) if analysis_file else None
    for w in plan_warnings(result, analysis, str(templates) if templates else None):
        err_console.print(f"[yellow]director:[/] {w}", soft_wrap=True)
    filled = fill_keyframes(result) if fix else result
    if fix and (warnings or filled is not result):
        save_plan(filled, plan_file)
        err_console.print(f"snapped {len(warnings)} time(s); wrote {plan_file}")
    dur = result.shots[-1].end_s
    out_console.print(f"ok: {len(result.shots)} shots, {dur:.2f} s at {result.render.fps:g} fps")


@app.command()
@_guard
def schema(
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the JSON Schema here.")] = None,
) -> None:
    """Print the JSON Schema of plan.json, for editors that validate hand edits."""
    from mvdirector.schemas import ShotPlan

    text = json.dumps(ShotPlan.model_json_schema(), indent=2)
    if out is not None:
        from mvdirector.media.atomic import write_text_atomic

        write_text_atomic(out, text + "\n")
    else:
        sys.stdout.write(text + "\n")


@app.command()
@_guard
def preview(
    plan_file: Annotated[Path, typer.Argument(help="The plan.json to draw.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="storyboard.png or storyboard.html")] = Path(
        "storyboard.png"
    ),
    analysis_file: Annotated[Path | None, typer.Option("--analysis", help="analysis.json for the timeline.")] = None,
    ref: Annotated[Path | None, typer.Option("--ref", help="Portrait for thumbnails.")] = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Also export an OpenTimelineIO timeline.")] = None,
) -> None:
    """Draw a storyboard of a plan on the song's timeline (PNG or HTML)."""
    from mvdirector.planio import load_plan
    from mvdirector.schemas import AudioAnalysis
    from stages.preview import write_storyboard

    result, _ = load_plan(plan_file)
    analysis = None
    if analysis_file is None:
        guess = plan_file.parent / "analysis.json"
        analysis_file = guess if guess.exists() else None
    if analysis_file is not None:
        analysis = AudioAnalysis.model_validate_json(analysis_file.read_text())
    if out.suffix.lower() not in (".png", ".html"):
        raise InputError(f"storyboard '{out}' must end in .png or .html")
    write_storyboard(result, out, analysis=analysis, reference_image=ref)
    if otio is not None:
        from stages.otio_export import write_otio

        write_otio(result, otio, analysis=analysis)
    err_console.print(f"[green]done[/] {out}")


@app.command()
@_guard
def templates(
    templates_dir: TemplatesOpt = None,
) -> None:
    """List the shot template styles."""
    from stages.templates import list_templates

    table = Table("style", "description")
    for t in list_templates(templates_dir):
        table.add_row(t.name, getattr(t, "description", ""))
    out_console.print(table)


@app.command()
@_guard
def batch(
    manifest: Annotated[Path, typer.Argument(help="Jobs as YAML or CSV (song, reference, style, lyrics, size, "
                                                  "output, overrides…).")],
    executor: Annotated[str, typer.Option("--executor", help="local (processes) or ray.")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster: auto or HOST:PORT "
                                                                  "(default: start a local Ray).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Local processes (default: cores).")] = None,
    transfer: Annotated[str, typer.Option("--transfer", help="Ray clips: shared (work directories on a shared "
                                                             "file system) or object (via Ray's object store).")] = (
        "shared"
    ),
    check: Annotated[bool, typer.Option("--check", help="Only validate the manifest.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render every job of MANIFEST; a failed job does not stop the others; re-running resumes."""
    from rich.live import Live

    from mvdirector.batch import BatchError, BatchProgress, load_manifest, run_batch

    _setup_logging(verbose)
    if executor not in ("local", "ray"):
        raise InputError(f"unknown executor '{executor}'", "use --executor local or --executor ray")
    if executor != "ray" and (address is not None or transfer != "shared"):
        raise InputError("--address and --transfer only apply to --executor ray", "add --executor ray")
    if transfer not in ("shared", "object"):
        raise InputError(f"unknown transfer '{transfer}'", "use --transfer shared or --transfer object")
    try:
        jobs = load_manifest(manifest)
    except BatchError as e:
        for p in e.problems:
            err_console.print(f"[bold red]error:[/] {p}", soft_wrap=True)
        raise typer.Exit(2) from None
    if check:
        out_console.print(f"ok: {len(jobs)} job(s)")
        return
    progress = BatchProgress(jobs)
    if quiet or as_json:
        results = run_batch(jobs, executor, workers, address, transfer, on_event=progress.handle)  # type: ignore[arg-type]
    else:
        try:
            with Live(progress.table(), console=err_console, refresh_per_second=4) as live:

                def on_event(e: Any) -> None:
                    progress.handle(e)
                    live.update(progress.table())

                results = run_batch(jobs, executor, workers, address, transfer, on_event=on_event)  # type: ignore[arg-type]
        finally:
            if not err_console.is_terminal:  # rich leaves the last table line open when not on a terminal
                err_console.print()
    failed = [r for r in results if not r.ok]
    if as_json:
        out_console.print_json(json.dumps([r.__dict__ for r in results]))
    elif not quiet:
        for r in failed:
            err_console.print(f"[bold red]failed:[/] {r.name}: {r.error}", soft_wrap=True)
        err_console.print(f"[green]done[/] {len(results) - len(failed)}/{len(results)} job(s) succeeded")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
