"""How the pipeline reports progress: a `Reporter` the caller supplies (library code never prints)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Where stages report progress; the CLI implements it with rich, batch with events, tests with a list."""

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


class StageClock:
    """Wall seconds of each pipeline step, for the report."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(time.perf_counter() - t, 3)

    def total(self) -> float:
        """Seconds since the clock started."""
        return round(time.perf_counter() - self.t0, 3)
