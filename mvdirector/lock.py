"""A work-directory lock that a dead process never leaves stuck and a deleted file cannot break.

The lock is an advisory ``flock`` on the work directory itself (``msvcrt.locking`` on
``<workdir>/.lock`` on Windows, which cannot lock a folder). Locking the folder, not a file in
it, means deleting ``.lock`` while a run holds the lock lets no second run in: both open the
same folder. After locking, the holder checks that the path still names what it locked (a
folder replaced in between is locked again). The kernel drops the lock when the holding
process exits for any reason, SIGKILL included, so there is no stale-lock cleanup to get
wrong. ``.lock`` records who holds it (pid, host, command, start time) so the refusal message
can name them; those words are informative only, the kernel lock is the truth.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from mvdirector.errors import BusyError

LOCK_NAME = ".lock"

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    LOCKS_FOLDER = False

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    LOCKS_FOLDER = True

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` still names the file or folder open as ``fd``."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _describe_holder(path: Path) -> str:
    """Words about the process recorded in a lock file, or '' when it cannot be read."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return ""
    if not isinstance(info, dict) or "pid" not in info:
        return ""
    started = info.get("started")
    when = time.strftime("%H:%M:%S", time.localtime(started)) if isinstance(started, int | float) else "?"
    host = info.get("host", "?")
    return f" by pid {info['pid']} on {host} (started {when}: {info.get('command', '?')})"


class WorkdirLock:
    """Exclusive, non-blocking lock on a work directory, held for the life of a ``with`` block.

    Re-entrant within one object (nested ``acquire`` calls count); a second lock object on the
    same directory — in this process or another — is refused with :class:`BusyError`.
    """

    def __init__(self, root: str | Path, command: str | None = None) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.command = (
            command or " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[:200]
        )
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise BusyError naming the process that holds it."""
        if self._fd is not None:
            self._depth += 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root if LOCKS_FOLDER else self.path
        flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if LOCKS_FOLDER else (os.O_RDWR | os.O_CREAT)
        for _ in range(5):
            # O_CLOEXEC (Python's default) keeps the descriptor out of exec'd children such as ffmpeg
            # and spawn-started workers, so the lock dies with this process alone.
            fd = os.open(target, flags, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                raise BusyError(
                    f"work directory '{self.root}' is in use{_describe_holder(self.path)}",
                    "wait for that run to finish (or stop it), or pick another --workdir",
                )
            if _same_file(fd, target):
                break
            _unlock(fd)  # replaced between open and lock: lock what the path names now
            os.close(fd)
        else:
            raise BusyError(f"work directory '{self.root}' keeps being replaced", "pick another --workdir")
        self._fd = fd
        self._depth = 1
        self._write_holder()

    def _write_holder(self) -> None:
        """Record who holds the lock in ``.lock`` (informative; made again if someone deleted it)."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "started": time.time()}
        try:
            fd = self._fd if not LOCKS_FOLDER and self._fd is not None else os.open(self.path, os.O_RDWR | os.O_CREAT,
                                                                                     0o644)
        except OSError:
            return
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(info).encode("utf-8"))
        finally:
            if fd != self._fd:
                os.close(fd)

    def release(self) -> None:
        """Give the lock back (``.lock`` stays, emptied: an empty record means nobody holds it)."""
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        try:
            with open(self.path, "r+b") as f:
                f.truncate(0)
        except OSError:
            pass
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
