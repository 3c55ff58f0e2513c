"""Batch production: run every job of a manifest (`mvdirector.manifest`), on this machine or on Ray.

A job that fails does not stop the others; re-running the manifest resumes, because each job's
work directory caches what is finished. ``local`` runs whole jobs in worker processes; ``ray``
runs each job's analysis, plan and assembly in a driver thread and its shots as Ray tasks.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from mvdirector.errors import InputError, MvError
from mvdirector.manifest import BatchJob
from mvdirector.pipeline import render
from mvdirector.rules import STAGES

log = logging.getLogger(__name__)

Event = tuple[int, str, str, float | None, str]
"""(job index, kind, task, value, message); kind is start, update, finish, warn, done or failed."""


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
            elif task in STAGES:
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
