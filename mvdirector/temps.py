"""Temporary files this program makes, recorded by name, so clean-up removes exactly those.

Outputs are written under a temporary name and renamed into place (`mvdirector.media.atomic`);
the assembler works in a temporary folder beside the video. Before such a temporary is
created its absolute path is appended to the journal ``.mvd-temps`` of the work directory the
run uses — the temporaries beside ``-o`` too. After a kill, the next run on that work
directory (holding its lock) removes what the journal lists and nothing else, so a user file
that merely looks like a temporary (``.notes.tmp``, ``.assemble-old/``) is never touched.

Which journal: the one ``recording(workdir)`` made current in this thread, else the nearest
``.mvd-temps`` in the temporary's folder or up to three folders above it (a worker process
writing a clip into ``<workdir>/shots/``); with neither, nothing is recorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

JOURNAL = ".mvd-temps"
"""The journal's file name in a work directory."""
_UP = 3
_OURS = re.compile(r"^\..+\.tmp\d+(\.[^.]*)?$|^\.assemble-|^\.mvd-")
"""Names this program gives its temporaries: a journal entry of another name is ignored."""

_current: contextvars.ContextVar[Path | None] = contextvars.ContextVar("mvdirector_temps", default=None)


def temp_path_for(final: Path) -> Path:
    """A temporary sibling of ``final`` that keeps its suffix (ffmpeg picks formats by suffix)."""
    return final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")


def journal_for(path: Path) -> Path | None:
    """The journal that records a temporary at ``path``."""
    current = _current.get()
    if current is not None:
        return current
    folder = Path(os.path.abspath(path)).parent
    for _ in range(_UP + 1):
        candidate = folder / JOURNAL
        if candidate.is_file():
            return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def record(path: Path) -> Path:
    """Note ``path`` in its journal before it is created; return it."""
    journal = journal_for(path)
    if journal is not None:
        line = json.dumps({"path": os.path.abspath(path), "pid": os.getpid()}) + "\n"
        fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    return path


def reserve(final: str | Path) -> Path:
    """The temporary name for ``final``, recorded in its journal."""
    return record(temp_path_for(Path(final)))


@contextlib.contextmanager
def temp_dir(parent: str | Path, prefix: str) -> Iterator[Path]:
    """A temporary folder in ``parent``, recorded, removed when the block ends."""
    parent = Path(parent)
    name = record(parent / f"{prefix}{os.getpid()}-{os.urandom(4).hex()}")
    name.mkdir()
    try:
        yield name
    finally:
        shutil.rmtree(name, ignore_errors=True)


@contextlib.contextmanager
def recording(workdir: str | Path) -> Iterator[Path]:
    """Record the temporaries this thread makes in ``workdir``'s journal while the block runs."""
    journal = Path(os.path.abspath(workdir)) / JOURNAL
    journal.touch()
    token = _current.set(journal)
    try:
        yield journal
    finally:
        _current.reset(token)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean(workdir: str | Path) -> int:
    """Remove the temporaries the journal of ``workdir`` lists (not those of a live process); return how many.

    Call it only while holding the work directory's lock.
    """
    journal = Path(workdir) / JOURNAL
    try:
        text = journal.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return 0
    keep: list[str] = []
    removed = 0
    for raw in text.splitlines():
        try:
            entry = json.loads(raw)
            path, pid = Path(entry["path"]), int(entry["pid"])
        except (ValueError, KeyError, TypeError):
            continue
        if not _OURS.match(path.name) or not os.path.lexists(path):
            continue
        if _alive(pid):
            keep.append(raw)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink(missing_ok=True)
            except OSError:  # still open in a process the killed run left behind (Windows): next time
                keep.append(raw)
                continue
        removed += 1
    journal.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
    return removed


_SCAFFOLD = {"run.json", ".lock", JOURNAL}
"""What a run puts in a new work directory before its first result."""


@contextlib.contextmanager
def removed_if_unused(workdir: Path, fresh: bool, also: Collection[str] = ()) -> Iterator[None]:
    """On an error inside the block, remove ``workdir`` if this run made it (``fresh``) and it still holds
    nothing but the run's scaffolding and ``also`` (what the block itself may have written beside the step
    that failed): a song refused while decoding leaves no work directory. (Ctrl-C keeps it: the same
    command resumes.)"""
    try:
        yield
    except Exception:
        known = _SCAFFOLD | set(also)
        if fresh and all(p.name in known or (p.is_dir() and not any(p.iterdir())) for p in workdir.iterdir()):
            shutil.rmtree(workdir, ignore_errors=True)
        raise
