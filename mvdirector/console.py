"""Everything the command line shows a person: errors as one line, progress bars, the summary.

One place (`guard`) turns known errors into a single stderr line and exit code 2 — the
machine's refusals too (disk full, read-only, no permission: `mvdirector.environment`) —
Ctrl-C into exit 130 and anything else into exit 1 with a bug-report hint; tracebacks appear
only with ``MVDIRECTOR_DEBUG=1``. One rich console (stderr) owns all progress output.

Text that comes from outside — file names, messages that quote them, shot ids, lyrics — is
printed through `shown`: rich markup in it is escaped (a file called ``[/oops].wav`` is shown,
not interpreted) and control characters are spelled out (``\x1b``), so nothing a file name
holds can retitle, clear or colour the terminal, or break a line in two.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mvdirector.errors import MvError
from mvdirector.schemas import RenderReport

err_console = Console(stderr=True, highlight=False, emoji=False)
out_console = Console(highlight=False, emoji=False)

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def shown(text: object) -> str:
    """``text`` safe to print in rich markup on one line: markup escaped, control and bidi characters spelled out."""
    plain = _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        str(text))
    return escape(plain)


def say(label: str, text: object, console: Console | None = None) -> None:
    """One line: a styled ``label`` (markup of ours, e.g. ``[bold red]error:[/]``) and outside ``text``, escaped."""
    (console or err_console).print(f"{label} {shown(text)}" if label else shown(text), soft_wrap=True)


F = TypeVar("F", bound=Callable[..., Any])

BUG_HINT = "this is a bug: please report it with the traceback that MVDIRECTOR_DEBUG=1 prints"


def guard(fn: F) -> F:
    """Run a command; MvError → one line + exit 2, Ctrl-C → exit 130, other failures → one line + exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mvdirector.environment import environment_error

        debug = os.environ.get("MVDIRECTOR_DEBUG") == "1"
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (MvError, OSError, MemoryError) as e:
            if debug:
                raise
            if isinstance(e, OSError):
                e = environment_error(e)
            elif isinstance(e, MemoryError):
                e = MvError("out of memory", "close other programs, or use a smaller --size or a shorter song")
            say("[bold red]error:[/]", e.one_line())
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            say("", "interrupted — finished outputs are kept; run the same command to resume")
            raise typer.Exit(130) from None
        except Exception as e:  # noqa: BLE001 - the one place that turns bugs into a clear line
            if debug:
                raise
            say("[bold red]internal error:[/]", f"{type(e).__name__}: {e} — {BUG_HINT}")
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
            if exc and exc[0] is not None:  # on a failure the bars are wiped: the error stays one line
                self.progress.live.transient = True
            self.progress.stop()

    def _task(self, task: str, total: float | None = None) -> TaskID:
        if not self.live:
            self.progress.start()
            self.live = True
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(shown(task), total=total, msg="")
        return self.tasks[task]

    def start(self, task: str, total: float | None = None) -> None:
        """Show a new bar for ``task``."""
        tid = self._task(task, total)
        self.progress.update(tid, total=total, completed=0, description=shown(task))

    def update(self, task: str, completed: float, message: str = "") -> None:
        """Move the bar of ``task``."""
        self.progress.update(self._task(task), completed=completed, msg=shown(message[:48]))

    def finish(self, task: str, message: str = "") -> None:
        """Complete the bar of ``task``; per-shot bars are removed to keep the screen short."""
        tid = self._task(task, 1.0)
        total = self.progress.tasks[self.progress.task_ids.index(tid)].total or 1.0
        self.progress.update(tid, completed=total, msg=shown(message[:48]))
        if task.startswith("shot "):
            self.progress.remove_task(tid)
            del self.tasks[task]

    def warn(self, message: str) -> None:
        """Print a warning line above the bars."""
        say("[yellow]warning:[/]", message, self.console)


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
        say("warning:", message)


def reporting(quiet: bool) -> Any:
    """A context manager giving the reporter for a command: rich bars, or warnings only with --quiet."""
    import contextlib

    return contextlib.nullcontext(QuietReporter()) if quiet else RichReporter(err_console)


def print_summary(report: RenderReport) -> None:
    """A short table of the render and its totals, on stderr."""
    from mvdirector.report import format_summary_rows

    table = Table(show_header=False, box=None)
    for row in format_summary_rows(report)[:60]:
        table.add_row(*(shown(cell) for cell in row))
    err_console.print(table)
    say("[green]done[/]",
        f"{report.video} — {report.duration_s:.2f} s, {report.frames} frames, "
        f"{report.rendered} shot(s) rendered, {report.cache_hits} cached, {report.total_s:.1f} s")
    if report.rendered == 0:
        say("", "nothing changed: no shot was rendered (every clip came from the work directory's cache)")
    for w in report.warnings:
        say("[yellow]warning:[/]", w)


def one_line_usage_errors(group: type) -> type:
    """A typer group class whose usage errors (a bad flag, a missing argument, ``--fps abc``) are one
    ``error:`` line and exit code 2, like every other error, instead of a boxed usage text."""
    import sys

    class OneLineGroup(group):  # type: ignore[misc, valid-type]
        def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
            if not standalone_mode:
                return super().main(*args, standalone_mode=False, **kwargs)
            try:
                rv = super().main(*args, standalone_mode=False, **kwargs)
            except typer.TyperException as e:  # click's usage errors, as vendored by typer
                if type(e).__name__ == "NoArgsIsHelpError":
                    e.show()  # type: ignore[attr-defined]
                    sys.exit(2)
                ctx = getattr(e, "ctx", None)
                where = f" — see `{ctx.command_path} --help`" if ctx is not None else ""
                message = e.format_message() if hasattr(e, "format_message") else str(e)
                say("[bold red]error:[/]", f"{message}{where}")
                sys.exit(2)
            except typer.Abort:
                say("", "interrupted")
                sys.exit(130)
            sys.exit(rv if isinstance(rv, int) else 0)

    return OneLineGroup
