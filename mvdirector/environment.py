"""The machine's refusals in one line each: disk full, read-only, no permission, a file where a folder goes.

`describe_os_error` words an ``OSError`` for a person; `environment_error` turns one into an
`InputError` that says what to free or fix. The console's guard uses it for any ``OSError``
that reaches it, and the ffmpeg wrappers use `ffmpeg_error` so that ffmpeg's own report of a
full disk becomes the same line instead of ffmpeg's last words.
"""

from __future__ import annotations

import errno
import os

from mvdirector.errors import InputError, MvError

FIXES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("disk full", "free space on that disk, or pick another --workdir / -o"),
    errno.EDQUOT: ("disk quota exceeded", "free space within your quota, or pick another --workdir / -o"),
    errno.EROFS: ("read-only file system", "pick a writable place for --workdir / -o"),
    errno.EACCES: ("permission denied", "pick a place you may write to, or fix the permissions"),
    errno.EPERM: ("operation not permitted (immutable or protected)", "make it writable (chattr -i, chmod) or "
                  "pick another place"),
    errno.EISDIR: ("is a folder", "give a file name"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.ENAMETOOLONG: ("file name too long", "give a shorter path"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) or run fewer jobs at once"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EEXIST: ("already exists", "remove it or pick another path"),
    errno.ETXTBSY: ("file is busy", "close the program that uses it"),
    errno.EIO: ("input/output error", "check the disk"),
}
"""What an errno means to a person and what to do about it."""

FFMPEG_SIGNS = (
    ("No space left on device", errno.ENOSPC),
    ("Disk quota exceeded", errno.EDQUOT),
    ("Read-only file system", errno.EROFS),
    ("Permission denied", errno.EACCES),
    ("Operation not permitted", errno.EPERM),
)


def describe_os_error(e: OSError) -> str:
    """``e`` in words a person reads (``disk full``, ``read-only file system`` …)."""
    words = FIXES.get(e.errno or -1, (e.strerror or str(e), ""))[0]
    return words


def environment_error(e: OSError, doing: str | None = None) -> MvError:
    """One InputError for an ``OSError``: what failed, on which path, and what to free or fix."""
    words, fix = FIXES.get(e.errno or -1, (e.strerror or type(e).__name__, "check the path and the disk"))
    where = f" '{e.filename}'" if e.filename else ""
    what = f"cannot {doing}" if doing else "cannot write or read"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return InputError(f"{words}: {what}{where}", fix)
    return InputError(f"{what}{where}: {words}", fix or "check the path")


def ffmpeg_error(stderr: str, what: str, path: os.PathLike[str] | str | None = None) -> MvError:
    """The error for a failed ffmpeg run: one line for a full disk or a refused write, else its last words."""
    for sign, code in FFMPEG_SIGNS:
        if sign in stderr:
            return environment_error(OSError(code, os.strerror(code), str(path) if path else None), what)
    last = " ".join(stderr.strip().splitlines()[-2:])[-300:]
    return MvError(f"ffmpeg failed to {what}: {last or 'no message'}")
