"""Render the shots of a plan: key each, skip the finished, run the rest in continuity order.

Shots are planned (`plan_shot_tasks`: key, clip path, cached or not) apart from being run
(`execute_shot_tasks` with a `ShotExecutor`: in this process, a local process pool, or Ray,
see `mvdirector.executors`), so independent takes render side by side while every shot waits
for the shot it continues from. A clip exists only once finished (it is renamed into place),
so a resumed run re-renders no finished shot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mvdirector.cache import cache_key, canonical_json, model_fingerprint
from mvdirector.media.atomic import atomic_output, write_json_atomic
from mvdirector.progress import Reporter
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, ShotClip, ShotPlan
from stages.render import ShotJob, ShotRenderer, check_plan, make_renderer, renderer_spec

Progress = Callable[[float, str], None]


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
    gpus: float = 0.0
    frames: int = 0


@dataclass(frozen=True)
class ShotOutcome:
    """What rendering one shot produced (the clip itself is on disk at its task's path)."""

    shot_id: str
    render_s: float
    metrics: dict[str, float]


class ShotExecutor(Protocol):
    """Runs shot jobs somewhere: this process, a process pool, a Ray cluster (`mvdirector.executors`).

    ``capacity`` is how many shots may run at once; ``submit`` returns a future of the outcome
    whose clip is at ``task.path`` when it resolves. ``progress`` is honoured where the shot runs
    in this process.
    """

    capacity: int

    def submit(self, job: ShotJob, task: ShotTask, progress: Progress | None = None) -> Future[ShotOutcome]: ...


_RENDERERS: dict[tuple[str, str], ShotRenderer] = {}


def get_renderer(name: str, options: Mapping[str, Any] | None = None) -> ShotRenderer:
    """A renderer instance, reused within this process (renderers cache images and weights)."""
    key = (name, canonical_json(dict(options or {})))
    if key not in _RENDERERS:
        _RENDERERS[key] = make_renderer(name, **(options or {}))
    return _RENDERERS[key]


def shot_keys(
    plan: ShotPlan,
    renderer: ShotRenderer,
    analysis: AudioAnalysis,
    reference: ReferenceInfo,
    extra: Mapping[str, str] | None = None,
    photos: Mapping[str, str] | None = None,
    burn_captions: bool = True,
) -> dict[str, str]:
    """Cache key of every shot; a shot's key includes the key of the shot it continues from.

    ``extra`` adds input fingerprints that only some renders have (the vocal stem's content).
    ``photos`` gives, per shot id, what of the photos that shot depends on (`ShotJob.reference_key`);
    a shot it leaves out depends on ``reference``. So changing one photo re-renders its shots only.
    ``burn_captions`` is whether lyric lines are drawn into the picture (``--captions``).
    """
    keys: dict[str, str] = {}
    common = {
        "render": plan.render.model_dump(mode="json"),
        "burn_captions": burn_captions,
        "song": plan.song.sha256,
        "analysis": model_fingerprint(analysis),
        "reference": reference.sha256,
        "renderer": renderer.fingerprint(),
        **(extra or {}),
    }
    for sid in plan.render_order():
        shot = plan.shot(sid)
        inputs = {
            **common,
            "reference": (photos or {}).get(sid, common["reference"]),
            "shot": shot.model_dump(mode="json"),
            "previous": keys.get(shot.continues_from) if shot.continues_from else None,
        }
        keys[sid] = cache_key("render", renderer.VERSION, None, inputs)
    return keys


def metrics_path(clip: Path) -> Path:
    """Where a clip's metrics are kept: ``shots/<id>.<key8>.json`` beside ``shots/<id>.<key8>.mp4``."""
    return Path(clip).with_suffix(".json")


def _saved_metrics(clip: Path) -> dict[str, float]:
    """The metrics a finished clip was rendered with, or {} when none were kept."""
    try:
        data = json.loads(metrics_path(clip).read_text())
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def clip_name(shot_id: str, key: str) -> str:
    """Work-directory-relative file name of a shot's clip: ``shots/<id>.<key8>.mp4``."""
    return f"shots/{shot_id}.{key[:8]}.mp4"


def plan_shot_tasks(
    job: ShotJob,
    root: Path,
    options: Mapping[str, Any],
    force: bool = False,
    extra_inputs: Mapping[str, str] | None = None,
) -> list[ShotTask]:
    """Key every shot of ``job.plan`` and say which clips under ``root`` are finished; in render order.

    ``options`` are the options of the plan's renderer; a shot with its own renderer gets that
    renderer's defaults and its own key.
    """
    plan = job.plan
    default = get_renderer(plan.render.renderer, options)
    photos = {s.id: job.for_shot(s.id).reference_key for s in plan.shots}
    keys = shot_keys(plan, default, job.analysis, job.singer or job.reference, extra_inputs, photos, job.burn_captions)
    index = {s.id: i for i, s in enumerate(plan.shots)}
    tasks = []
    for sid in plan.render_order():
        shot = plan.shot(sid)
        name = shot.renderer or plan.render.renderer
        opts = dict(options) if name == plan.render.renderer else {}
        key = keys[sid]
        if name != plan.render.renderer:  # per-shot renderer overrides get their own keys
            r = get_renderer(name, opts)
            key = cache_key("render", r.VERSION, None, {"base": key, "renderer": r.fingerprint()})
            keys[sid] = key
        path = (root / clip_name(sid, key)).absolute()  # workers (Ray) may run in another cwd
        spec = renderer_spec(name)
        tasks.append(
            ShotTask(
                shot_id=sid, index=index[sid], key=key, path=path, renderer=name, renderer_options=opts,
                # A backend that does not start from the previous clip renders a take's shots at once.
                previous=shot.continues_from if spec.chains else None, cached=path.exists() and not force,
                gpus=1.0 if spec.gpu else 0.0, frames=shot.n_frames(plan.render.fps),
            )
        )
    return tasks


def plan_warnings(job: ShotJob, tasks: list[ShotTask]) -> list[str]:
    """What the renderers of the shots to render say about the whole plan, once each (they may refuse it)."""
    said: dict[tuple[str, str], list[str]] = {}
    for t in tasks:
        key = (t.renderer, canonical_json(t.renderer_options))
        if not t.cached and key not in said:
            said[key] = check_plan(get_renderer(t.renderer, t.renderer_options), job)
    return [w for warnings in said.values() for w in warnings]


def render_shot_task(
    job: ShotJob, task: ShotTask, out_path: Path | None = None, progress: Progress | None = None
) -> ShotOutcome:
    """Render one shot into ``out_path`` (default: the task's clip path), atomically.

    Runs in whichever process the executor picks; the frames are counted before the clip is
    renamed into place, so a clip that exists is a finished clip.
    """
    from mvdirector.media.video import probe_video

    t0 = time.perf_counter()
    renderer = get_renderer(task.renderer, task.renderer_options)
    with atomic_output(out_path or task.path) as tmp:
        metrics = renderer.render_shot(job, tmp, progress=progress) or {}
        frames = probe_video(tmp).frames
        if frames != job.n_frames:
            raise RuntimeError(f"renderer wrote {frames} frames for shot '{task.shot_id}', expected {job.n_frames}")
    return ShotOutcome(task.shot_id, round(time.perf_counter() - t0, 3), {k: float(v) for k, v in metrics.items()})


def execute_shot_tasks(
    job: ShotJob,
    tasks: list[ShotTask],
    executor: ShotExecutor,
    rep: Reporter,
    on_shot: Callable[[str, bool], None] | None = None,
) -> dict[str, ShotOutcome]:
    """Render the tasks that are not cached, each after the shot it continues from.

    ``job`` is any job of the plan: each shot gets its own copy (``job.for_shot``). Independent
    takes run side by side up to ``executor.capacity``, longest first (so no long shot starts last
    and leaves the other workers idle); when a shot fails, shots already running finish (their
    clips stay in the cache), nothing new starts, and the first error is raised.
    """
    by_id = {t.shot_id: t for t in tasks}
    todo = {t.shot_id: t for t in tasks if not t.cached}
    children: dict[str, list[ShotTask]] = {}
    for t in todo.values():
        if t.previous in todo:
            children.setdefault(t.previous, []).append(t)
    def order(t: ShotTask) -> tuple[int, int]:
        return (-t.frames if executor.capacity > 1 else 0, t.index)

    ready = sorted((t for t in todo.values() if t.previous not in todo), key=order)
    running: dict[Future[ShotOutcome], ShotTask] = {}
    outcomes: dict[str, ShotOutcome] = {}
    failure: BaseException | None = None
    done_count = len(tasks) - len(todo)
    while ready or running:
        while ready and failure is None and len(running) < max(1, executor.capacity):
            t = ready.pop(0)
            name = f"shot {t.shot_id}"
            rep.start(name, 1.0)
            shot_job = job.for_shot(t.shot_id, by_id[t.previous].path if t.previous else None)
            running[executor.submit(shot_job, t, lambda f, m, n=name: rep.update(n, f, m))] = t
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
            ready.sort(key=order)
    if failure is not None:
        raise failure
    return outcomes


def render_shots(
    job: ShotJob,
    tasks: list[ShotTask],
    executor: ShotExecutor,
    rep: Reporter,
    on_shot: Callable[[str, bool], None] | None = None,
) -> list[ShotClip]:
    """Render every task whose clip is missing; return the clips in plan order.

    ``on_shot(shot_id, cached)`` is called once per shot (cached shots first), which is how
    tests count renders.
    """
    plan = job.plan
    n_cached = sum(t.cached for t in tasks)
    rep.start("render", float(len(tasks)))
    rep.update("render", n_cached, f"{n_cached} cached")
    for t in tasks:
        if t.cached and on_shot:
            on_shot(t.shot_id, True)
    outcomes = execute_shot_tasks(job, tasks, executor, rep, on_shot)
    r = plan.render
    clips = {}
    for t in tasks:
        o = outcomes.get(t.shot_id)
        if o is not None:  # what the renderer measured travels with the clip to later runs (any executor)
            write_json_atomic(metrics_path(t.path), o.metrics)
        clips[t.shot_id] = ShotClip(
            shot_id=t.shot_id, path=str(t.path), frames=plan.shot(t.shot_id).n_frames(r.fps), fps=r.fps,
            width=r.width, height=r.height, cache_key=t.key, cached=o is None,
            render_s=o.render_s if o else 0.0, metrics=o.metrics if o else _saved_metrics(t.path),
        )
    n_new = len(tasks) - n_cached
    rep.finish("render", f"{n_new} rendered, {n_cached} cached" if n_new else f"all {len(tasks)} shots cached")
    return [clips[s.id] for s in plan.shots]
