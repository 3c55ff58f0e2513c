"""The `mvdirector` command line: thin commands over the library (DESIGN §6).

Each command parses its options into a typed request and calls the library; the request's
``preflight()`` refuses a bad option in one line before any work, and `mvdirector.console`
turns errors into that line and the exit code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from mvdirector.console import (
    err_console,
    guard,
    one_line_usage_errors,
    out_console,
    print_summary,
    reporting,
    say,
    setup_logging,
    shown,
)
from mvdirector.errors import InputError, MvError
from mvdirector.request import RenderRequest

app = typer.Typer(
    name="mvdirector",
    cls=one_line_usage_errors(TyperGroup),
    help="Turn a song and a portrait into a beat-cut music video, through an editable shot plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SongArg = Annotated[Path, typer.Argument(help="The song: wav, flac, ogg, mp3 or m4a.")]
RefOpt = Annotated[list[Path], typer.Option("--ref", help=(
    "Photo of the singer (PNG/JPEG), or a folder of photos; repeat it for more photos: other looks of the "
    "singer, and scenes (places, crowds, instruments). The first, or --singer, is the singer."))]
SingerOpt = Annotated[Path | None, typer.Option("--singer", help="The singer's photo, when it is not the first --ref.")]
AllowOthersOpt = Annotated[bool, typer.Option(
    "--allow-others", help="Use a photo of another person as a scene instead of refusing it.")]
LyricsOpt = Annotated[Path | None, typer.Option("--lyrics", help="Lyrics file (.txt, .lrc, .srt) to align.")]
VocalsOpt = Annotated[Path | None, typer.Option(
    "--vocals", help="Isolated vocal stem as long as the song: vocal activity, lyrics and s2v's lips listen to it.")]
LanguageOpt = Annotated[str | None, typer.Option(
    "--language", help="Language of the lyrics, an ISO 639 code (en, es, de…); default: detect.")]
StyleOpt = Annotated[str | None, typer.Option("--style", help="Shot template style [default: cinematic].")]
TemplatesOpt = Annotated[Path | None, typer.Option("--templates", help="Extra directory of style YAML files.")]
RendererOpt = Annotated[str | None, typer.Option(
    "--renderer", help="procedural (CPU), dit or s2v (GPU + weights) [default: procedural].")]
SizeOpt = Annotated[str | None, typer.Option("--size", help="Output WIDTHxHEIGHT [default: 1280x720].")]
FpsOpt = Annotated[float | None, typer.Option("--fps", help="Frames per second, 1..120 [default: 24].")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for the plan and the renders [default: 0].")]
WorkdirOpt = Annotated[Path | None, typer.Option("--workdir", help="Work directory (default: SONG.mvd).")]
BeatsOpt = Annotated[str | None, typer.Option("--beats", help="Beat tracker: madmom or librosa [default: madmom].")]
AsrOpt = Annotated[str | None, typer.Option(
    "--asr", help="Lyrics recogniser: auto, none, faster-whisper or openai-whisper:SIZE [default: auto].")]
AsrModelOpt = Annotated[str | None, typer.Option("--asr-model", help="Directory of a Whisper/CTranslate2 model.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage does.")]


def request(size: str | None = None, options: list[str] | None = None, **given: Any) -> RenderRequest:
    """The request of a command: only the options a person gave, so a ``--plan`` knows what was asked."""
    from mvdirector.rules import parse_size

    fields = {k: v for k, v in given.items() if v is not None}
    if "jobs" in fields:
        jobs = str(fields.pop("jobs")).strip().lower()
        if jobs != "auto":  # auto is the default
            if not jobs.lstrip("-").isdigit():
                raise InputError(f"--jobs '{jobs}' is not a number of shots or auto", "e.g. --jobs 2")
            fields["jobs"] = int(jobs)
    if size is not None:
        try:
            fields["width"], fields["height"] = parse_size(size)
        except ValueError as e:
            raise InputError(str(e), "check --size") from None
    renderer_options: dict[str, Any] = {}
    for item in options or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"-O '{item}' is not KEY=VALUE", "e.g. -O steps=40")
        renderer_options[key.strip()] = value.strip()
    if "weights" in fields:
        renderer_options["weights"] = str(fields.pop("weights"))
    if renderer_options:
        fields["renderer_options"] = renderer_options
    return RenderRequest.create(**fields)


def photos(ref: list[Path], singer: Path | None, allow_others: bool) -> dict[str, Any]:
    """The request fields of the photo options: the first ``--ref``, the others, ``--singer``, ``--allow-others``."""
    if not ref:
        raise InputError("--ref is missing", "give the singer's photo with --ref")
    return {"reference": ref[0], "references": tuple(ref[1:]) or None, "singer": singer,
            "allow_others": allow_others or None}


@app.command()
@guard
def render(
    song: SongArg,
    ref: RefOpt,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output video (default: WORKDIR/SONG.mp4).")] = None,
    singer: SingerOpt = None,
    allow_others: AllowOthersOpt = False,
    lyrics: LyricsOpt = None,
    vocals: VocalsOpt = None,
    language: LanguageOpt = None,
    style: StyleOpt = None,
    templates: TemplatesOpt = None,
    renderer: RendererOpt = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Checkpoint of the renderer (dit, s2v).")] = None,
    renderer_option: Annotated[list[str] | None, typer.Option(
        "--renderer-option", "-O", help="KEY=VALUE option of the renderer, e.g. -O steps=40 -O offload=model.",
    )] = None,
    size: SizeOpt = None,
    fps: FpsOpt = None,
    seed: SeedOpt = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Render this (edited) plan.json.")] = None,
    workdir: WorkdirOpt = None,
    beats: BeatsOpt = None,
    asr: AsrOpt = None,
    asr_model: AsrModelOpt = None,
    codec: Annotated[str | None, typer.Option("--codec", help="h264, h265 or prores [default: h264].")] = None,
    crf: Annotated[int | None, typer.Option("--crf", help="Quality 0..51, lower is better [default: 18].")] = None,
    colour_match: Annotated[bool, typer.Option("--colour-match", help=(
        "Bring every photo into the singer's palette and even out grades within sections."))] = False,
    force: Annotated[list[str] | None, typer.Option("--force", help="Recompute a stage (repeatable).")] = None,
    jobs: Annotated[str | None, typer.Option(
        "--jobs", "-j", help="Shots rendered side by side: N, or auto (the usable cores, if worth it) [default: auto].",
    )] = None,
    captions: Annotated[str | None, typer.Option(
        "--captions", help="Lyric lines: burn (into the picture), soft (a subtitle track), both or none "
                           "[default: burn]. .srt/.vtt/.lrc files are written beside the video either way.")] = None,
    formats: Annotated[str | None, typer.Option(
        "--formats", help="Render several aspect ratios from one plan, e.g. 16:9,9:16,1:1 (9:16 is 1080x1920, "
                          "1:1 1080x1080, 16:9 --size; ASPECT=WxH sets one): VIDEO.9x16.mp4 …")] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Render SONG into a music video of the singer in --ref (and the other looks and scenes given with --ref)."""
    from mvdirector.pipeline import run as run_render

    setup_logging(verbose)
    req = request(
        size, renderer_option, song=song, **photos(ref, singer, allow_others), out=out, workdir=workdir, plan=plan,
        lyrics=lyrics, vocals=vocals, language=language, style=style, templates_dir=templates, renderer=renderer,
        weights=weights, fps=fps, seed=seed, beats=beats, asr=asr, asr_model=asr_model, codec=codec, crf=crf,
        colour_match=colour_match or None, force=tuple(force) if force else None, jobs=jobs, captions=captions,
        formats=formats,
    )
    with reporting(quiet or as_json) as rep:
        made = run_render(req, rep)
    if as_json:
        out_console.print_json(json.dumps([json.loads(r.model_dump_json()) for r in made.reports])
                               if len(made.reports) > 1 else made.report.model_dump_json())
    elif not quiet:
        for report in made.reports:
            print_summary(report)


@app.command()
@guard
def analyze(
    song: SongArg,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the analysis JSON here.")] = None,
    lyrics: LyricsOpt = None,
    vocals: VocalsOpt = None,
    language: LanguageOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw the analysis timeline to a PNG.")] = None,
    beats: BeatsOpt = None,
    asr: AsrOpt = None,
    asr_model: AsrModelOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Analyse SONG: beats, downbeats, tempo, sections, energy, vocals, lyrics."""
    from pydantic import ValidationError

    from mvdirector.media.atomic import write_json_atomic
    from mvdirector.media.audio import audio_info
    from mvdirector.outputs import ANALYSIS_JSON, PNG, Files
    from mvdirector.request import check_vocals, describe
    from mvdirector.rules import check_language
    from stages.analyze import AnalyzeConfig, check_config, plot_analysis
    from stages.analyze import analyze as run_analyze

    setup_logging(verbose)
    Files().read("the song", song).read("--lyrics", lyrics).read("--vocals", vocals).read(
        "--asr-model", asr_model).write("-o", out, ANALYSIS_JSON).write("--plot", plot, PNG).check()
    fields: dict[str, Any] = {k: str(v) for k, v in (("lyrics", lyrics), ("vocals", vocals)) if v is not None}
    fields.update({k: v for k, v in (("beats", beats), ("asr", asr), ("asr_model", asr_model)) if v is not None})
    try:
        if language is not None:
            fields["language"] = check_language(language)
        cfg = AnalyzeConfig(**fields)
    except ValidationError as e:
        raise InputError(*describe(e.errors()[0])) from None
    except ValueError as e:
        raise InputError(str(e), "check --language") from None
    song_s = audio_info(song).duration_s
    check_config(cfg, song_s)
    if vocals is not None:
        check_vocals(vocals, song_s, RenderRequest.model_fields["fps"].default)
    with reporting(quiet) as rep:
        rep.start("analyze", 1.0)
        result = run_analyze(song, cfg, progress=lambda f, m: rep.update("analyze", f, m))
        rep.finish("analyze")
    if result.lyrics.warning:
        say("[yellow]warning:[/]", result.lyrics.warning)
    if out is not None:
        write_json_atomic(out, result)
    else:
        out_console.print_json(result.model_dump_json())
    if plot is not None:
        plot_analysis(result, song, plot)
    if not quiet:
        n_words = sum(len(line.words) for line in result.lyrics.lines)
        say("[green]done[/]", f"{result.bpm:.1f} bpm, {result.beats_per_bar}/bar, {len(result.beats)} beats, "
            f"{len(result.sections)} sections, {n_words} words" + (f" → {out}" if out else ""))


@app.command()
@guard
def plan(
    song: SongArg,
    ref: RefOpt,
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write plan.json.")] = Path("plan.json"),
    singer: SingerOpt = None,
    allow_others: AllowOthersOpt = False,
    lyrics: LyricsOpt = None,
    vocals: VocalsOpt = None,
    language: LanguageOpt = None,
    style: StyleOpt = None,
    templates: TemplatesOpt = None,
    renderer: RendererOpt = None,
    size: SizeOpt = None,
    fps: FpsOpt = None,
    seed: SeedOpt = None,
    workdir: WorkdirOpt = None,
    beats: BeatsOpt = None,
    asr: AsrOpt = None,
    asr_model: AsrModelOpt = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Also export an OpenTimelineIO timeline.")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Make an editable shot plan for SONG without rendering it (a render stopped after direct)."""
    from mvdirector import temps
    from mvdirector.outputs import OTIO, PLAN_JSON, Files
    from mvdirector.pipeline import plan as run_plan
    from mvdirector.planio import save_plan

    setup_logging(verbose)
    req = request(
        size, song=song, **photos(ref, singer, allow_others), workdir=workdir, lyrics=lyrics, vocals=vocals,
        language=language, style=style, templates_dir=templates, renderer=renderer, fps=fps, seed=seed, beats=beats,
        asr=asr, asr_model=asr_model,
    )
    with reporting(quiet) as rep:
        made = run_plan(req, rep, also=Files().write("-o", out, PLAN_JSON).write("--otio", otio, OTIO))
    with temps.recording(req.resolved_workdir()):
        save_plan(made.plan, out)
        if otio is not None:
            from stages.otio_export import write_otio

            write_otio(made.plan, otio, analysis=made.analysis)
    if not quiet:
        say("[green]done[/]", f"{len(made.plan.shots)} shots → {out}")


@app.command()
@guard
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
    from mvdirector.loaders import load_contract
    from mvdirector.outputs import Files
    from mvdirector.planio import load_plan, save_plan
    from mvdirector.request import check_renderers
    from mvdirector.schemas import AudioAnalysis
    from stages.direct import fill_keyframes, plan_warnings

    Files().read("the plan", plan_file).read("--analysis", analysis_file).read_dir(
        "--templates", templates, ("*.yaml", "*.yml")).check()
    try:
        result, warnings = load_plan(plan_file)
        check_renderers(result, result.render.renderer, {}, video=False)  # what render refuses, validate refuses
    except PlanError as e:
        for p in getattr(e, "problems", None) or [e.one_line()]:
            say("[bold red]error:[/]", p)
        raise typer.Exit(2) from None
    except MvError as e:
        raise PlanError(e.message, e.hint) from None
    for w in warnings:
        say("[yellow]warning:[/]", w)
    if analysis_file is None and (plan_file.parent / "analysis.json").exists():
        analysis_file = plan_file.parent / "analysis.json"
    analysis = load_contract(analysis_file, AudioAnalysis, "analysis") if analysis_file else None
    for w in plan_warnings(result, analysis, str(templates) if templates else None):
        say("[yellow]director:[/]", w)
    filled = fill_keyframes(result) if fix else result
    if fix and (warnings or filled is not result):
        save_plan(filled, plan_file)
        say("", f"snapped {len(warnings)} time(s); wrote {plan_file}")
    dur = result.shots[-1].end_s
    out_console.print(f"ok: {len(result.shots)} shots, {dur:.2f} s at {result.render.fps:g} fps")


@app.command()
@guard
def schema(
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Write the JSON Schema here.")] = None,
) -> None:
    """Print the JSON Schema of plan.json, for editors that validate hand edits."""
    from mvdirector.media.atomic import write_text_atomic
    from mvdirector.outputs import SCHEMA, Files
    from mvdirector.schemas import ShotPlan

    Files().write("-o", out, SCHEMA).check()
    text = json.dumps(ShotPlan.model_json_schema(), indent=2)
    if out is not None:
        write_text_atomic(out, text + "\n")
    else:
        sys.stdout.write(text + "\n")


@app.command()
@guard
def preview(
    plan_file: Annotated[Path, typer.Argument(help="The plan.json to draw.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="storyboard.png or storyboard.html")] = Path(
        "storyboard.png"
    ),
    analysis_file: Annotated[Path | None, typer.Option("--analysis", help="analysis.json for the timeline.")] = None,
    ref: Annotated[list[Path] | None, typer.Option("--ref", help=(
        "Photos for the thumbnails, the singer's first (default: the plan's photos).") )] = None,
    otio: Annotated[Path | None, typer.Option("--otio", help="Also export an OpenTimelineIO timeline.")] = None,
) -> None:
    """Draw a storyboard of a plan on the song's timeline (PNG or HTML)."""
    from mvdirector.loaders import load_contract
    from mvdirector.outputs import OTIO, STORYBOARD, Files
    from mvdirector.planio import load_plan
    from mvdirector.schemas import AudioAnalysis
    from stages.preview import write_storyboard

    if analysis_file is None:
        guess = plan_file.parent / "analysis.json"
        analysis_file = guess if guess.exists() else None
    files = Files().read("the plan", plan_file).read("--analysis", analysis_file)
    for photo in ref or []:
        files.read("--ref", photo)
    files.write("-o", out, STORYBOARD).write("--otio", otio, OTIO).check()
    result, _ = load_plan(plan_file)
    analysis = load_contract(analysis_file, AudioAnalysis, "analysis") if analysis_file is not None else None
    write_storyboard(result, out, analysis=analysis, reference_image=ref or None)
    if otio is not None:
        from stages.otio_export import write_otio

        write_otio(result, otio, analysis=analysis)
    say("[green]done[/]", out)


@app.command()
@guard
def templates(
    templates_dir: TemplatesOpt = None,
) -> None:
    """List the shot template styles."""
    from stages.direct import list_templates

    table = Table("style", "description")
    for t in list_templates(templates_dir):
        table.add_row(shown(t.name), shown(getattr(t, "description", "")))
    out_console.print(table)


@app.command()
@guard
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

    from mvdirector.batch import BatchProgress, run_batch
    from mvdirector.manifest import BatchError, load_manifest

    setup_logging(verbose)
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
            say("[bold red]error:[/]", p)
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
            say("[bold red]failed:[/]", f"{r.name}: {r.error}")
        say("[green]done[/]", f"{len(results) - len(failed)}/{len(results)} job(s) succeeded")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point (also ``python -m mvdirector.cli``)."""
    try:
        app()
    except SystemExit as e:
        if e.code != 130:
            raise
        # Ctrl-C was handled (outputs kept, one line printed). Under ``python -m`` CPython remembers a
        # KeyboardInterrupt that passed through C-level code and re-kills itself with SIGINT at exit
        # (status -2 instead of 130); leave with the promised status directly.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


if __name__ == "__main__":
    main()
