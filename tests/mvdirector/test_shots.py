"""The shot scheduler: continuity order, takes side by side, capacity, and failure handling."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from mvdirector.progress import NullReporter
from mvdirector.shots import ShotOutcome, ShotTask, execute_shot_tasks


def task(sid: str, index: int, previous: str | None = None, cached: bool = False) -> ShotTask:
    return ShotTask(sid, index, f"k{sid}", Path(f"/clips/{sid}.mp4"), "fake", {}, previous, cached)


class Job:
    """Stands in for a `ShotJob`: the scheduler only asks it for each shot's job."""

    def for_shot(self, shot_id: str, previous_clip: Path | None) -> tuple[str, Path | None]:
        return shot_id, previous_clip


JOB = Job()


class RecordingExecutor:
    """Runs a sleep per shot in threads and records start/end order and concurrency."""

    def __init__(self, capacity: int, fail: set[str] = frozenset(), seconds: float = 0.05) -> None:
        self.capacity = capacity
        self.fail = fail
        self.seconds = seconds
        self.events: list[tuple[str, str, Path | None]] = []
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(8)

    def _run(self, t: ShotTask, job: tuple[str, Path | None]) -> ShotOutcome:
        assert job[0] == t.shot_id
        prev = job[1]
        with self._lock:
            self.events.append(("start", t.shot_id, prev))
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.seconds)
        with self._lock:
            self.active -= 1
            self.events.append(("end", t.shot_id, prev))
        if t.shot_id in self.fail:
            raise RuntimeError(f"boom {t.shot_id}")
        return ShotOutcome(t.shot_id, self.seconds, {})

    def submit(self, job, t, progress=None) -> Future[ShotOutcome]:
        return self._pool.submit(self._run, t, job)


# two takes: a → b → c and d → e; f alone
TASKS = [task("a", 0), task("b", 1, "a"), task("c", 2, "b"), task("d", 3), task("e", 4, "d"), task("f", 5)]


def _pos(events, kind, sid):
    return events.index(next(e for e in events if e[0] == kind and e[1] == sid))


def test_every_shot_starts_after_the_shot_it_continues_from():
    ex = RecordingExecutor(capacity=3)
    out = execute_shot_tasks(JOB, TASKS, ex, NullReporter())
    assert sorted(out) == list("abcdef")
    for t in TASKS:
        if t.previous:
            assert _pos(ex.events, "end", t.previous) < _pos(ex.events, "start", t.shot_id)
            start = next(e for e in ex.events if e[0] == "start" and e[1] == t.shot_id)
            assert start[2] == Path(f"/clips/{t.previous}.mp4")  # handed the previous clip
    assert ex.peak == 3  # the three takes ran side by side


def test_capacity_one_renders_in_plan_order():
    ex = RecordingExecutor(capacity=1, seconds=0.0)
    seen: list[str] = []
    execute_shot_tasks(JOB, TASKS, ex, NullReporter(), on_shot=lambda s, c: seen.append(s))
    assert [e[1] for e in ex.events if e[0] == "start"] == list("abcdef") == seen
    assert ex.peak == 1


def test_cached_shots_are_skipped_and_unblock_their_continuations():
    tasks = [task("a", 0, cached=True), task("b", 1, "a"), task("c", 2, "b", cached=True)]
    ex = RecordingExecutor(capacity=2)
    out = execute_shot_tasks(JOB, tasks, ex, NullReporter())
    assert list(out) == ["b"]
    assert ex.events[0] == ("start", "b", Path("/clips/a.mp4"))


def test_a_failure_lets_running_shots_finish_starts_nothing_new_and_raises():
    ex = RecordingExecutor(capacity=2, fail={"a"})
    with pytest.raises(RuntimeError, match="boom a"):
        execute_shot_tasks(JOB, TASKS, ex, NullReporter())
    started = {e[1] for e in ex.events if e[0] == "start"}
    ended = {e[1] for e in ex.events if e[0] == "end"}
    assert started == ended  # nothing left running
    assert "b" not in started and "c" not in started  # continuations of the failed shot never start
    assert "d" in started
