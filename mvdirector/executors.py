"""Where shots render: this process, a local process pool, or a Ray cluster.

Every executor implements `mvdirector.shots.ShotExecutor`: ``capacity`` and
``submit(job, task, progress) -> Future[ShotOutcome]``. The scheduler submits a shot only
once the shot it continues from is finished, so executors need not know about the DAG.

Ray has two ways to get clips back to the work directory (``transfer``):

- ``"shared"`` (default): every node sees the work directory at the same path (NFS, a
  shared volume, or a one-machine cluster). Tasks write ``shots/<id>.<key8>.mp4`` there
  themselves, atomically, exactly as a local run does.
- ``"object"``: no shared file system. The song, photos and vocal stem travel once per
  render through Ray's object store, a task renders into a private temporary folder and returns the
  clip's bytes, and the driver writes them into the work directory (atomically). A shot that
  continues another receives the previous clip's bytes the same way.

Tasks ask Ray for one GPU when the shot's renderer declares it needs one (``RendererSpec.gpu``)
and for CPUs otherwise, so a cluster with GPU nodes places them accordingly.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from mvdirector.errors import InputError
from mvdirector.media.atomic import atomic_output
from mvdirector.shots import ShotOutcome, ShotTask, render_shot_task
from stages.render import ShotJob, renderer_spec

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None


_SHARE: int | None = None  # the cores a pool gave this worker process (``limit_threads``)


def default_workers() -> int:
    """Workers for a local pool: the cores this process may use (a pool's worker: its share of them)."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        cores = max(1, os.cpu_count() or 1)
    return min(cores, _SHARE) if _SHARE else cores


THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(n: int) -> None:
    """Cap this worker's math-library threads at ``n`` so ``workers × threads`` fits the cores.

    Used as a pool initializer: libraries loaded after it (torch, onnxruntime, OpenMP users)
    read the environment; OpenCV and torch, if present, are told directly.
    """
    global _SHARE
    _SHARE = max(1, n)
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:  # pragma: no cover - opencv is a dependency
        pass
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover
        pass


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``spawn``ed processes (no inherited locks or threads), each with its share of the cores."""
    threads = max(1, default_workers() // max(1, workers))
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=limit_threads,
        initargs=(threads,),
    )


class InlineExecutor:
    """Render each shot in this process as it is submitted (per-frame progress reaches the reporter)."""

    capacity = 1

    def submit(self, job: ShotJob, task: ShotTask, progress: Progress = None) -> Future[ShotOutcome]:
        """Render now; the returned future is already resolved (or holds the error)."""
        fut: Future[ShotOutcome] = Future()
        try:
            fut.set_result(render_shot_task(job, task, progress=progress))
        except Exception as e:  # noqa: BLE001 - handed to the scheduler through the future
            fut.set_exception(e)
        return fut

    def shutdown(self) -> None:
        """Nothing to release."""


class ThreadExecutor:
    """Shots in threads of this process, for backends that declare ``threads`` (their work releases the GIL):
    no worker start-up, and what a renderer prepared once (a matte, a face model) serves every shot."""

    def __init__(self, workers: int) -> None:
        self.capacity = max(1, workers)
        self._pool = ThreadPoolExecutor(self.capacity, thread_name_prefix="shot")
        self._lock = threading.Lock()

    def submit(self, job: ShotJob, task: ShotTask, progress: Progress = None) -> Future[ShotOutcome]:
        """Queue the shot; its progress reaches ``progress`` one call at a time."""
        def report(frac: float, msg: str) -> None:
            with self._lock:
                progress(frac, msg)  # type: ignore[misc]

        return self._pool.submit(render_shot_task, job, task, progress=report if progress else None)

    def shutdown(self) -> None:
        """Wait for the shots being rendered; drop the queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)


AUTO_MIN_MEGAPIXELS = 60.0
"""``--jobs auto`` renders in this process below this much picture to make (about 65 frames of 1280x720):
less work than that does not repay starting workers."""


def shot_executor(jobs: int | None, todo: list[ShotTask], frame_pixels: int,
                  warn: Callable[[str], None]) -> ThreadExecutor | LocalExecutor | None:
    """The executor ``--jobs`` asks for to render ``todo`` (the shots not cached, frames of ``frame_pixels``),
    or None for this process.

    ``jobs`` None is ``auto``: as many workers as usable cores and shots that can start at once, when
    the work is worth it. Threads when every backend of ``todo`` declares ``threads``, else processes;
    none for a backend that takes a whole GPU per shot (its declaration says so).
    """
    specs = {t.renderer: renderer_spec(t.renderer) for t in todo}
    gpu = sorted(name for name, spec in specs.items() if spec.gpu)
    if gpu:
        if jobs is not None and jobs > 1:
            warn(f"--jobs is ignored: the {', '.join(gpu)} renderer takes a whole GPU for each shot")
        return None
    if jobs is None:
        names = {t.shot_id for t in todo}
        startable = sum(t.previous not in names for t in todo)
        pixels = sum(t.frames for t in todo) * frame_pixels / 1e6
        jobs = min(default_workers(), startable) if pixels >= AUTO_MIN_MEGAPIXELS else 1
    if jobs <= 1:
        return None
    if all(spec.threads for spec in specs.values()):
        return ThreadExecutor(jobs)
    return LocalExecutor(jobs)


class LocalExecutor:
    """A pool of worker processes on this machine (``spawn``ed, so they inherit no locks or threads).

    Workers keep their renderer instances between shots, so a renderer's one-off set-up (the
    portrait's matte, model weights) happens once per worker.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.capacity = max(1, workers or default_workers())
        self._pool = spawn_pool(self.capacity)

    def submit(self, job: ShotJob, task: ShotTask, progress: Progress = None) -> Future[ShotOutcome]:
        """Queue the shot on the pool."""
        return self._pool.submit(render_shot_task, job, task)

    def shutdown(self) -> None:
        """Stop the worker processes (after the shots they are rendering)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


# --------------------------------------------------------------------------- Ray


def _ray_render_shared(job: ShotJob, shot_id: str, task: ShotTask, previous_clip: str | None) -> ShotOutcome:
    """Ray task body, shared work directory: write the clip in place."""
    return render_shot_task(job.for_shot(shot_id, Path(previous_clip) if previous_clip else None), task)


def _ray_render_object(
    job: ShotJob, shot_id: str, task: ShotTask, previous: bytes | None, names: tuple[str, ...], *blobs: bytes
) -> tuple[ShotOutcome, bytes]:
    """Ray task body, no shared file system: write the inputs (``names`` of job fields, their bytes in
    ``blobs``) locally, render, and return the clip's bytes."""
    with tempfile.TemporaryDirectory(prefix="mvd-ray-") as td:
        root = Path(td)
        local: dict[str, Path] = {}
        files = job.input_files()
        for k, (name, data) in enumerate(zip(names, blobs, strict=True)):
            local[name] = root / f"input{k}{files[name].suffix}"
            local[name].write_bytes(data)
        prev_path = None
        if previous is not None:
            prev_path = root / "previous.mp4"
            prev_path.write_bytes(previous)
        here = replace(job, cache_dir=None).with_input_files(local).for_shot(shot_id, prev_path)
        out = root / "clip.mp4"
        outcome = render_shot_task(here, task, out_path=out)
        return outcome, out.read_bytes()


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when a Ray head at HOST:PORT (or ray://HOST:PORT) does not answer."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(
            f"Ray address '{address}' is not auto, HOST:PORT or ray://HOST:PORT",
            "e.g. --address auto or --address 10.0.0.5:6379",
        )
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise InputError(
            f"no Ray head answers at '{address}': {e.strerror or e}",
            "start one there with `ray start --head --port PORT`, or drop --address to run a local Ray",
        ) from None


class RayExecutor:
    """Shots as Ray tasks: one GPU each for a backend that declares ``gpu``, else ``cpus_per_shot`` CPUs.

    ``address`` is passed to ``ray.init`` (``None`` starts a local instance, ``"auto"`` joins
    the cluster this machine belongs to, ``"HOST:PORT"`` a given head node); extra keyword
    arguments (e.g. ``num_cpus=2``) go to ``ray.init`` when this executor starts Ray.
    """

    def __init__(
        self,
        address: str | None = None,
        transfer: Literal["shared", "object"] = "shared",
        cpus_per_shot: float = 1.0,
        **init_kwargs: Any,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise InputError(
                "the ray executor needs the 'ray' package",
                "pip install 'mvdirector[ray]' (or 'ray[default]')",
            ) from None
        if transfer not in ("shared", "object"):
            raise InputError(f"unknown Ray transfer '{transfer}'", "use shared or object")
        self.ray = ray
        self.transfer = transfer
        self.cpus_per_shot = cpus_per_shot
        self._started = False
        if not ray.is_initialized():
            if address not in (None, "auto", "local"):
                _check_reachable(address)
            try:
                if address is None:  # a private instance on this machine
                    init_kwargs.setdefault("include_dashboard", False)
                ray.init(address=address, log_to_driver=False, **init_kwargs)
            except ConnectionError as e:
                raise InputError(
                    f"cannot reach a Ray cluster at '{address}': {e}",
                    "start one with `ray start --head` or drop --address to run a local instance",
                ) from None
            self._started = True
        self.capacity = 1 << 16  # Ray queues tasks against the cluster's resources itself
        self._shared = ray.remote(_ray_render_shared)
        self._object = ray.remote(_ray_render_object)
        self._refs_of: dict[int, tuple[Any, Any, dict[str, Any]]] = {}

    def _options(self, task: ShotTask) -> dict[str, float]:
        if task.gpus > 0:
            return {"num_gpus": task.gpus, "num_cpus": 1}
        return {"num_cpus": self.cpus_per_shot}

    def _refs(self, job: ShotJob) -> tuple[Any, dict[str, Any]]:
        """Object-store references of a render's shared inputs, put once per plan."""
        entry = self._refs_of.get(id(job.plan))
        if entry is None or entry[0] is not job.plan:
            put = self.ray.put
            files: dict[str, Any] = {}
            if self.transfer == "object":
                once: dict[Path, Any] = {}  # a file named twice (the shot's photo) travels once
                for name, path in job.input_files().items():
                    if path not in once:
                        once[path] = put(Path(path).read_bytes())
                    files[name] = once[path]
            entry = (job.plan, put(replace(job, previous_clip=None)), files)
            self._refs_of[id(job.plan)] = entry
        return entry[1], entry[2]

    def submit(self, job: ShotJob, task: ShotTask, progress: Progress = None) -> Future[ShotOutcome]:
        """Start the shot as a Ray task; the future resolves once its clip is in the work directory."""
        job_ref, files = self._refs(job)
        opts = self._options(task)
        previous_clip = job.previous_clip
        if self.transfer == "shared":
            ref = self._shared.options(**opts).remote(
                job_ref, task.shot_id, task, str(previous_clip) if previous_clip else None
            )
            return ref.future()
        prev = previous_clip.read_bytes() if previous_clip else None
        ref = self._object.options(**opts).remote(job_ref, task.shot_id, task, prev, tuple(files), *files.values())
        out: Future[ShotOutcome] = Future()

        def land(f: Future[tuple[ShotOutcome, bytes]]) -> None:
            try:
                outcome, data = f.result()
                with atomic_output(task.path) as tmp:
                    tmp.write_bytes(data)
                out.set_result(outcome)
            except BaseException as e:  # noqa: BLE001 - handed to the scheduler through the future
                out.set_exception(e)

        ref.future().add_done_callback(land)
        return out

    def forget(self, job: ShotJob) -> None:
        """Drop the object-store copies of a finished render's inputs."""
        self._refs_of.pop(id(job.plan), None)

    def shutdown(self) -> None:
        """Stop Ray if this executor started it."""
        self._refs_of.clear()
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False
