"""Everything the command line shows a person: errors as one line, progress bars, the summary.

One place (`guard`) turns known errors into a single stderr line and exit code 2, Ctrl-C into
exit 130 and anything else into exit 1 with a bug-report hint; tracebacks appear only with
``MVDIRECTOR_DEBUG=1``. One rich console (stderr) owns all progress output.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mvdirector.errors import MvError
from mvdirector.schemas import RenderReport

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., Any])

BUG_HINT = "this is a bug: please report it with the traceback that MVDIRECTOR_DEBUG=1 prints"


def guard(fn: F) -> F:
    """Run a command; MvError → one line + exit 2, Ctrl-C → exit 130, other failures → one line + exit 1."""

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
            err_console.print(f"[bold red]internal error:[/] {type(e).__name__}: {e} — {BUG_HINT}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def setup_logging(verbose: bool) -> None:
    """Logs are for --verbose; warnings meant for a person travel through the Reporter."""
    level = logging.INFO if verbose else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


class RichReporter:
    """Progress bars per stage and per shot on stderr."""

    def __init__(self, console: Console = err_console) -> None:
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
        self.live = False

    def __enter__(self) -> RichReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:  # the bars start with the first task, so an early error prints only its line
            self.progress.stop()

    def _task(self, task: str, total: float | None = None) -> TaskID:
        if not self.live:
            self.progress.start()
            self.live = True
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


def reporting(quiet: bool) -> Any:
    """A context manager giving the reporter for a command: rich bars, or warnings only with --quiet."""
    import contextlib

    return contextlib.nullcontext(QuietReporter()) if quiet else RichReporter(err_console)


def print_summary(report: RenderReport) -> None:
    """A short table of the render and its totals, on stderr."""
    from mvdirector.report import format_summary_rows

    table = Table(show_header=False, box=None)
    for row in format_summary_rows(report)[:60]:
        table.add_row(*row)
    err_console.print(table)
    err_console.print(
        f"[green]done[/] {report.video} — {report.duration_s:.2f} s, {report.frames} frames, "
        f"{report.rendered} shot(s) rendered, {report.cache_hits} cached, {report.total_s:.1f} s"
    )
    if report.rendered == 0:
        err_console.print("nothing changed: no shot was rendered (every clip came from the work directory's cache)")
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
