"""Batch production: a manifest of songs → validated render jobs → run them all, on this machine or Ray.

A manifest is YAML (a list of jobs, or ``{defaults: {...}, jobs: [...]}``) or CSV (one job a
row, a header naming the fields). Fields of a job:

``song`` and ``reference`` (required), ``name``, ``style``, ``lyrics``, ``size`` (``WxH``),
``fps``, ``seed``, ``renderer``, ``plan``, ``output``, ``workdir`` and ``overrides`` — any
other `RenderRequest` field (``crf``, ``codec``, ``beats``, ``asr``, ``colour_match``, …) as a
mapping (in CSV: JSON text or ``key=value;key=value``). Relative paths are relative to the
manifest. The default work directory is ``<output stem>.mvd`` beside the output (or
``<song>.mvd`` when there is no output), so every job must end up with its own.

Every job is checked before anything runs and every problem is reported at once
(`BatchError.problems`). A job that fails does not stop the others; re-running the manifest
resumes, because each job's work directory caches what is finished.
"""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from mvdirector.errors import InputError, MvError
from mvdirector.pipeline import RenderRequest, render

log = logging.getLogger(__name__)

JOB_FIELDS = {
    "name",
    "song",
    "reference",
    "ref",
    "style",
    "lyrics",
    "size",
    "fps",
    "seed",
    "renderer",
    "plan",
    "output",
    "out",
    "workdir",
    "overrides",
}
PATH_FIELDS = ("song", "reference", "lyrics", "plan", "output", "workdir", "templates_dir", "asr_model")
NOT_OVERRIDABLE = {"song", "reference", "out", "workdir", "lyrics", "plan"}
RENDERERS = ("procedural", "dit")

Event = tuple[int, str, str, float | None, str]
"""(job index, kind, task, value, message); kind is start, update, finish, warn, done or failed."""


class BatchError(MvError):
    """A manifest with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str], manifest: Path) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{problems[0]}{more}", f"fix {manifest.name}; `mvdirector batch --check` lists them all"
        )
        self.problems = problems


@dataclass(frozen=True)
class BatchJob:
    """One validated job of a manifest."""

    index: int
    name: str
    request: RenderRequest


@dataclass
class JobResult:
    """How one job ended."""

    index: int
    name: str
    ok: bool
    seconds: float
    video: str | None = None
    rendered: int = 0
    cached: int = 0
    error: str | None = None


# ------------------------------------------------------------------------ manifests


def parse_size(text: str) -> tuple[int, int]:
    """``'1280x720'`` → (1280, 720); ValueError naming the rule otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"size '{text}' is not WIDTHxHEIGHT (e.g. 1280x720)")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise ValueError(f"size {w}x{h} is outside 16x16 .. 7680x4320")
    if w % 2 or h % 2:
        raise ValueError(
            f"size {w}x{h} has an odd side; H.264 needs even sizes (use {w + w % 2}x{h + h % 2})"
        )
    return w, h


def _parse_overrides(value: Any) -> dict[str, Any]:
    """Overrides from YAML (a mapping) or CSV (JSON text or ``k=v;k=v``)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = str(value).strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("overrides must be a mapping")
        return data
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        k, sep, v = part.partition("=")
        if not sep:
            raise ValueError(f"override '{part}' is not key=value")
        out[k.strip()] = yaml.safe_load(v.strip())
    return out


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Raw job mappings of a YAML or CSV manifest, defaults applied (no validation yet)."""
    if not path.exists():
        raise InputError(f"manifest '{path}' does not exist", "give a .yaml or .csv list of jobs")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read manifest '{path}': {e}") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        return [
            {
                k.strip(): (v.strip() if isinstance(v, str) else v)
                for k, v in r.items()
                if k and v not in (None, "")
            }
            for r in rows
        ]
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError(f"manifest '{path.name}' is neither YAML nor CSV", "name it .yaml, .yml or .csv")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"manifest '{path}' is not valid YAML{where}", "fix the YAML syntax") from None
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = data.get("defaults") or {}
        unknown = set(data) - {"defaults", "jobs"}
        if unknown or not isinstance(defaults, dict):
            raise InputError(
                f"manifest '{path}' has top-level keys {sorted(unknown)}",
                "use only 'defaults' (a mapping) and 'jobs' (a list)",
            )
        data = data.get("jobs")
    if not isinstance(data, list) or not data:
        raise InputError(
            f"manifest '{path}' holds no jobs", "write a list of jobs, each with song and reference"
        )
    jobs = []
    for item in data:
        if isinstance(item, dict):
            merged = {**defaults, **item}
            if isinstance(defaults.get("overrides"), dict) and isinstance(item.get("overrides"), dict):
                merged["overrides"] = {**defaults["overrides"], **item["overrides"]}
            jobs.append(merged)
        else:
            jobs.append({"__invalid__": item})
    return jobs


def _check_job(i: int, raw: dict[str, Any], base: Path, problems: list[str]) -> BatchJob | None:
    """Validate one raw job; append a line per problem; return the job when it has none."""
    label = f"job {i + 1}"
    if "__invalid__" in raw:
        problems.append(f"{label}: is {type(raw['__invalid__']).__name__}, not a mapping of fields")
        return None
    if raw.get("song"):
        label += f" ({Path(str(raw['song'])).name})"
    n_before = len(problems)

    def bad(msg: str) -> None:
        problems.append(f"{label}: {msg}")

    for k in sorted(set(raw) - JOB_FIELDS):
        bad(f"unknown field '{k}' (fields: {', '.join(sorted(JOB_FIELDS - {'ref', 'out'}))})")
    raw = dict(raw)
    if "ref" in raw:
        raw.setdefault("reference", raw.pop("ref"))
    if "out" in raw:
        raw.setdefault("output", raw.pop("out"))
    try:
        over = _parse_overrides(raw.get("overrides"))
    except (ValueError, json.JSONDecodeError) as e:
        bad(f"overrides: {e}")
        over = {}
    for k in sorted(set(over) & NOT_OVERRIDABLE):
        bad(f"override '{k}' must be a job field, not an override")
        over.pop(k)

    def path_of(key: str, value: Any) -> Path | None:
        if value in (None, ""):
            return None
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else base / p

    fields: dict[str, Any] = dict(over)
    for key in ("song", "reference"):
        p = path_of(key, raw.get(key))
        if p is None:
            bad(f"'{key}' is missing")
        elif not p.is_file():
            bad(f"{key} '{raw[key]}' does not exist")
        fields[key] = p
    for key in ("lyrics", "plan"):
        p = path_of(key, raw.get(key))
        if p is not None and not p.is_file():
            bad(f"{key} '{raw[key]}' does not exist")
        fields[key] = p
    for key in ("templates_dir", "asr_model"):
        if key in fields:
            fields[key] = path_of(key, fields[key])
    if "size" in raw:
        try:
            fields["width"], fields["height"] = parse_size(raw["size"])
        except ValueError as e:
            bad(str(e))
    for key in ("style", "fps", "seed", "renderer"):
        if key in raw:
            fields[key] = raw[key]
    if fields.get("renderer", "procedural") not in RENDERERS:
        bad(f"renderer '{fields['renderer']}' is unknown (use procedural or dit)")
    out = path_of("output", raw.get("output"))
    wd = path_of("workdir", raw.get("workdir"))
    if wd is None and out is not None:
        wd = out.with_suffix(".mvd")
    fields["out"], fields["workdir"] = out, wd
    req: RenderRequest | None = None
    if len(problems) == n_before:
        try:
            req = RenderRequest(**fields)
        except ValidationError as e:
            for err in e.errors():
                where = ".".join(str(x) for x in err["loc"])
                bad(f"{where}: {err['msg']}")
    if req is None:
        return None
    n_before = len(problems)
    _check_media(req, bad)
    if len(problems) != n_before:
        return None
    name = str(raw.get("name") or (req.out.stem if req.out else req.song.stem))
    return BatchJob(i, name, req)


def _check_media(req: RenderRequest, bad: Callable[[str], None]) -> None:
    """Open the song and portrait, check the style and the output name."""
    from mvdirector.media.audio import audio_info
    from mvdirector.media.image import load_image

    try:
        audio_info(req.song)
    except MvError as e:
        bad(e.one_line())
    try:
        load_image(req.reference)
    except MvError as e:
        bad(e.one_line())
    try:
        from stages.templates import load_template

        load_template(req.style, req.templates_dir)
    except MvError as e:
        bad(e.one_line())
    out = req.resolved_out()
    suffixes = {
        "h264": (".mp4", ".mov", ".mkv", ".m4v"),
        "h265": (".mp4", ".mov", ".mkv"),
        "prores": (".mov", ".mkv"),
    }.get(req.codec)
    if suffixes is None:
        bad(f"codec '{req.codec}' is unknown (use h264, h265 or prores)")
    elif out.suffix.lower() not in suffixes:
        bad(f"output '{out.name}' cannot hold {req.codec}; name it with one of {', '.join(suffixes)}")


def load_manifest(path: str | Path) -> list[BatchJob]:
    """Read and validate a manifest; raise BatchError listing every problem of every job."""
    path = Path(path)
    raws = read_manifest(path)
    base = path.resolve().parent
    problems: list[str] = []
    jobs = [j for i, r in enumerate(raws) if (j := _check_job(i, r, base, problems)) is not None]
    seen_out: dict[Path, str] = {}
    seen_wd: dict[Path, str] = {}
    for j in jobs:
        out, wd = j.request.resolved_out().resolve(), j.request.resolved_workdir().resolve()
        label = f"job {j.index + 1} ({j.request.song.name})"
        if out in seen_out:
            problems.append(
                f"{label}: output '{out}' is also the output of {seen_out[out]} — give each an output"
            )
        if wd in seen_wd:
            problems.append(
                f"{label}: work directory '{wd}' is shared with {seen_wd[wd]} — give each an output "
                "or workdir"
            )
        seen_out.setdefault(out, label)
        seen_wd.setdefault(wd, label)
    names: dict[str, int] = {}
    for j in jobs:
        names[j.name] = names.get(j.name, 0) + 1
    jobs = [
        j if names[j.name] == 1 else BatchJob(j.index, f"{j.name}#{j.index + 1}", j.request) for j in jobs
    ]
    if problems:
        raise BatchError(problems, path)
    return jobs


# ---------------------------------------------------------------------------- running


class EventReporter:
    """A pipeline `Reporter` that turns progress into batch events for one job."""

    def __init__(self, job: int, emit: Callable[[Event], None]) -> None:
        self.job = job
        self.emit = emit

    def start(self, task: str, total: float | None = None) -> None:
        """Report that ``task`` started."""
        self.emit((self.job, "start", task, total, ""))

    def update(self, task: str, completed: float, message: str = "") -> None:
        """Report progress of ``task`` (shot-level tasks are dropped to keep the stream small)."""
        if not task.startswith("shot "):
            self.emit((self.job, "update", task, completed, message))

    def finish(self, task: str, message: str = "") -> None:
        """Report that ``task`` finished."""
        self.emit((self.job, "finish", task, None, message))

    def warn(self, message: str) -> None:
        """Report a warning."""
        self.emit((self.job, "warn", "", None, message))


def run_job(job: BatchJob, emit: Callable[[Event], None], executor: Any = None) -> JobResult:
    """Render one job; never raises for the job's own failures (they are in the result)."""
    t0 = time.perf_counter()
    emit((job.index, "start", "job", None, ""))
    try:
        report = render(job.request, EventReporter(job.index, emit), executor=executor)
    except MvError as e:
        msg = e.one_line()
    except Exception as e:  # noqa: BLE001 - one job's bug must not stop the batch
        log.exception("job %s failed", job.name)
        msg = f"internal error: {type(e).__name__}: {e}"
    else:
        res = JobResult(
            job.index,
            job.name,
            True,
            round(time.perf_counter() - t0, 3),
            report.video,
            report.rendered,
            report.cache_hits,
        )
        emit((job.index, "done", "job", None, f"{report.rendered} rendered, {report.cache_hits} cached"))
        return res
    emit((job.index, "failed", "job", None, msg))
    return JobResult(job.index, job.name, False, round(time.perf_counter() - t0, 3), error=msg)


def _run_job_in_worker(job: BatchJob, queue: Any) -> JobResult:
    """Process-pool entry: render a job, sending events through a manager queue."""
    return run_job(job, queue.put)


def run_batch(
    jobs: list[BatchJob],
    executor: Literal["local", "ray"] = "local",
    workers: int | None = None,
    address: str | None = None,
    transfer: Literal["shared", "object"] = "shared",
    on_event: Callable[[Event], None] | None = None,
    ray_init: dict[str, Any] | None = None,
) -> list[JobResult]:
    """Run every job and return their results in manifest order.

    ``local``: whole jobs run in ``workers`` processes (default: the usable cores, at most one
    per job), each rendering its shots in order. ``ray``: each job's analysis, plan and
    assembly run in a driver thread and its shots as Ray tasks (see `mvdirector.executors`).
    """
    emit = on_event or (lambda e: None)
    if not jobs:
        return []
    if executor == "local":
        return _run_local(jobs, workers, emit)
    if executor == "ray":
        return _run_ray(jobs, address, transfer, emit, ray_init or {})
    raise InputError(f"unknown executor '{executor}'", "use --executor local or --executor ray")


def _run_local(jobs: list[BatchJob], workers: int | None, emit: Callable[[Event], None]) -> list[JobResult]:
    from mvdirector.executors import default_workers, spawn_pool

    n = max(1, min(len(jobs), workers or default_workers()))
    if n == 1:
        return [run_job(j, emit) for j in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        queue = manager.Queue()
        stop = threading.Event()

        def drain() -> None:
            import queue as queue_mod

            while not stop.is_set() or not queue.empty():
                try:
                    emit(queue.get(timeout=0.1))
                except queue_mod.Empty:
                    continue
                except (EOFError, OSError):
                    return

        pump = threading.Thread(target=drain, name="batch-events", daemon=True)
        pump.start()
        try:
            with spawn_pool(n) as pool:
                futures = [pool.submit(_run_job_in_worker, j, queue) for j in jobs]
                results = []
                for j, f in zip(jobs, futures, strict=True):
                    try:
                        results.append(f.result())
                    except Exception as e:  # noqa: BLE001 - a crashed worker fails its job only
                        msg = f"worker process failed: {type(e).__name__}: {e}"
                        emit((j.index, "failed", "job", None, msg))
                        results.append(JobResult(j.index, j.name, False, 0.0, error=msg))
        finally:
            stop.set()
            pump.join(timeout=5)
    return results


def _run_ray(
    jobs: list[BatchJob],
    address: str | None,
    transfer: Literal["shared", "object"],
    emit: Callable[[Event], None],
    ray_init: dict[str, Any],
) -> list[JobResult]:
    from mvdirector.executors import RayExecutor

    ex = RayExecutor(address=address, transfer=transfer, **ray_init)
    lock = threading.Lock()

    def safe_emit(e: Event) -> None:
        with lock:
            emit(e)

    try:
        with ThreadPoolExecutor(min(len(jobs), 16), thread_name_prefix="batch-job") as pool:
            return list(pool.map(lambda j: run_job(j, safe_emit, executor=ex), jobs))
    finally:
        ex.shutdown()


# ---------------------------------------------------------------------------- progress


@dataclass
class JobRow:
    """What the progress table shows for one job."""

    name: str
    stage: str = "queued"
    shots_done: float = 0
    shots_total: float | None = None
    message: str = ""
    started: float | None = None
    ended: float | None = None
    warnings: list[str] = field(default_factory=list)


class BatchProgress:
    """Job and shot progress of a batch, built from events; ``table()`` draws it with rich."""

    STAGES = ("analyze", "reference", "direct", "render", "assemble")

    def __init__(self, jobs: list[BatchJob]) -> None:
        self.rows = {j.index: JobRow(j.name) for j in jobs}
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        """Apply one event."""
        job, kind, task, value, message = event
        with self._lock:
            row = self.rows.get(job)
            if row is None:
                return
            if kind == "start" and task == "job":
                row.started, row.stage = time.time(), "starting"
            elif kind in ("done", "failed"):
                row.stage, row.message, row.ended = kind, message, time.time()
            elif kind == "warn":
                row.warnings.append(message)
            elif task in self.STAGES:
                row.stage = task if kind != "finish" or task != "assemble" else "assembled"
                if task == "render":
                    if kind == "start":
                        row.shots_total = value
                    elif kind == "update" and value is not None:
                        row.shots_done = value
                    elif kind == "finish":
                        row.shots_done = row.shots_total or row.shots_done
                if message:
                    row.message = message

    def table(self) -> Any:
        """A rich Table of every job."""
        from rich.table import Table

        t = Table("job", "stage", "shots", "time", "status", box=None, pad_edge=False)
        now = time.time()
        with self._lock:
            for row in self.rows.values():
                shots = f"{int(row.shots_done)}/{int(row.shots_total)}" if row.shots_total else "-"
                secs = ((row.ended or now) - row.started) if row.started else 0.0
                colour = {"done": "green", "failed": "red"}.get(row.stage, "")
                stage = f"[{colour}]{row.stage}[/]" if colour else row.stage
                t.add_row(row.name, stage, shots, f"{secs:5.1f} s", row.message[:70])
        return t
