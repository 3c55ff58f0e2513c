"""Choosing how shots render side by side (`--jobs`, auto by default): threads for a backend that declares them,
processes otherwise, this process for little work or a GPU backend; and a thread pool that renders real shots."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvdirector import executors
from mvdirector.executors import AUTO_MIN_MEGAPIXELS, ThreadExecutor, shot_executor
from mvdirector.progress import NullReporter
from mvdirector.shots import ShotTask, execute_shot_tasks
from stages.render import RENDERERS, RendererSpec

PIXELS = 1280 * 720
LONG = int(AUTO_MIN_MEGAPIXELS * 1e6 / PIXELS) + 1  # frames of one shot worth rendering side by side


def task(sid: str, renderer: str = "procedural", previous: str | None = None, frames: int = LONG) -> ShotTask:
    return ShotTask(sid, 0, f"k{sid}", Path(f"/clips/{sid}.mp4"), renderer, {}, previous, False, frames=frames)


class FakePool:
    """Stands in for `LocalExecutor` (no worker processes are started)."""

    def __init__(self, workers: int) -> None:
        self.capacity = workers


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(executors, "default_workers", lambda: 2)
    monkeypatch.setattr(executors, "LocalExecutor", FakePool)


def test_auto_renders_threaded_backends_in_threads_on_the_usable_cores(two_cores):
    ex = shot_executor(None, [task("a"), task("b"), task("c")], PIXELS, pytest.fail)
    assert isinstance(ex, ThreadExecutor) and ex.capacity == 2
    ex.shutdown()


def test_auto_keeps_little_work_and_single_takes_in_this_process(two_cores):
    assert shot_executor(None, [task("a", frames=10), task("b", frames=10)], PIXELS, pytest.fail) is None
    # one take of shots that chain: only one of them can start at once
    take = [task("a"), task("b", previous="a"), task("c", previous="b")]
    assert shot_executor(None, take, PIXELS, pytest.fail) is None
    assert shot_executor(1, [task("a"), task("b")], PIXELS, pytest.fail) is None


def test_processes_for_a_backend_without_threads(two_cores, monkeypatch):
    monkeypatch.setitem(RENDERERS, "solid", RendererSpec("solid", "factories:SolidRenderer", "factories:SolidOptions"))
    ex = shot_executor(3, [task("a", "solid"), task("b")], PIXELS, pytest.fail)
    assert isinstance(ex, FakePool) and ex.capacity == 3


def test_a_gpu_backend_renders_here_and_an_explicit_jobs_is_warned_about(two_cores):
    said: list[str] = []
    assert shot_executor(None, [task("a", "dit"), task("b", "dit")], PIXELS, said.append) is None
    assert said == []
    assert shot_executor(4, [task("a", "dit")], PIXELS, said.append) is None
    assert said == ["--jobs is ignored: the dit renderer takes a whole GPU for each shot"]


def test_the_procedural_take_does_not_wait_for_its_previous_clip():
    assert not RENDERERS["procedural"].chains and RENDERERS["procedural"].threads
    assert RENDERERS["dit"].chains


def test_thread_executor_renders_shots_side_by_side_longest_first(tmp_path, monkeypatch):
    order: list[str] = []

    def render(job, t, progress=None):
        order.append(t.shot_id)
        progress(1.0, t.shot_id)
        return executors.ShotOutcome(t.shot_id, 0.0, {})

    monkeypatch.setattr(executors, "render_shot_task", render)

    class Job:
        def for_shot(self, shot_id, previous_clip=None):
            return shot_id

    tasks = [task("short", frames=10), task("long", frames=100), task("mid", frames=50)]
    ex = ThreadExecutor(1)
    try:
        out = execute_shot_tasks(Job(), tasks, ex, NullReporter())
    finally:
        ex.shutdown()
    assert sorted(out) == ["long", "mid", "short"]
    assert order == ["short", "long", "mid"]  # capacity 1: plan order
    ex = ThreadExecutor(2)
    order.clear()
    try:
        execute_shot_tasks(Job(), tasks, ex, NullReporter())
    finally:
        ex.shutdown()
    assert set(order[:2]) == {"long", "mid"} and order[2] == "short"  # the long shots start first
