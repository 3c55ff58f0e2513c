"""The video's sound track: the song encoded once (when it cannot be copied) and kept in a cache folder.

Encoding a song to AAC costs about as much CPU as a second of rendering per 30 s of music, and it
depends only on the song. A run's ``EarlyTrack`` starts it early, as a low-priority ffmpeg, so it runs
in the CPU time that the other steps leave idle; the assembler's ``collect`` then waits for it (usually
already done) and moves the track into the cache. A run that fails stops its own encode; an encode
nobody collects is stopped at exit. Only a finished, successful encode is ever moved into the cache.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mvdirector import temps

from . import concat

log = logging.getLogger(__name__)

def cache_file(cache_dir: str | Path | None, song: Path, audio_args: list[str]) -> Path | None:
    """Where the song's encoded track is kept between runs, or None (no cache, or the stream is copied)."""
    if cache_dir is None or audio_args[:2] == ["-c:a", "copy"]:
        return None
    from mvdirector.media.atomic import file_sha256

    key = hashlib.sha256(f"{file_sha256(song)} {' '.join(audio_args)}".encode()).hexdigest()[:20]
    return Path(cache_dir) / f"song-{key}.m4a"


@dataclass
class _Encode:
    proc: subprocess.Popen[bytes]
    tmp: Path


_PENDING: dict[Path, _Encode] = {}
_LOCK = threading.Lock()


def _stop(job: _Encode) -> None:
    """Kill an encode (if it still runs), reap it and remove its temporary."""
    if job.proc.poll() is None:
        job.proc.kill()
    job.proc.communicate()
    job.tmp.unlink(missing_ok=True)


def prefetch(song: str | Path, out_suffix: str, mode: str, cache_dir: str | Path) -> Path | None:
    """Start encoding the track that a video ending in ``out_suffix`` will carry, unless it is copied,
    cached or already under way; return the cache file it will be (None when nothing is encoded)."""
    song = Path(song)
    args, _ = concat.audio_args(song, out_suffix, mode)
    dst = cache_file(cache_dir, song, args)
    if dst is None or dst.is_file():
        return None
    with _LOCK:
        if dst in _PENDING:
            return dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own (not only the process id), so no other temporary of this process shares it.
        tmp = temps.reserve(dst.with_name(f"{dst.stem}-{os.urandom(4).hex()}{dst.suffix}"))
        _PENDING[dst] = _Encode(concat.start_audio_encode(song, tmp, args, low_priority=True), tmp)
    return dst


def pending(dst: Path) -> bool:
    """Whether an early encode of ``dst`` was started and not yet collected or cancelled."""
    with _LOCK:
        return dst in _PENDING


def collect(dst: Path) -> bool:
    """Wait for the early encode of ``dst`` if one was started; True when ``dst`` is in the cache now.

    A failed early encode is only logged: the assembler then encodes the track itself and reports
    ffmpeg's error the usual way. Interrupted while waiting, it stops the encode."""
    with _LOCK:
        job = _PENDING.pop(dst, None)
    if job is None:
        return dst.is_file()
    try:
        _, err = job.proc.communicate()
    except BaseException:
        _stop(job)
        raise
    if job.proc.returncode == 0 and job.tmp.is_file():
        os.replace(job.tmp, dst)
        return True
    log.debug("early audio encode failed: %s", err.decode(errors="replace").strip()[-300:])
    job.tmp.unlink(missing_ok=True)
    return False


def cancel(dst: Path) -> None:
    """Stop the early encode of ``dst``, if one is under way, and remove its temporary."""
    with _LOCK:
        job = _PENDING.pop(dst, None)
    if job is not None:
        _stop(job)


def cancel_all() -> None:
    """Stop every early encode nobody collected and remove its temporary (at exit)."""
    with _LOCK:
        jobs = list(_PENDING.values())
        _PENDING.clear()
    for job in jobs:
        _stop(job)


atexit.register(cancel_all)


class EarlyTrack:
    """One run's early encode: ``start`` it once, and wrap what may fail in ``stopped_on_error`` (several
    blocks may be wrapped: the innermost stops it first, e.g. before a fresh work directory is removed)."""

    def __init__(self) -> None:
        self.dst: Path | None = None

    def start(self, song: str | Path, out_suffix: str, mode: str, cache_dir: str | Path) -> None:
        """Start the encode (see ``prefetch``)."""
        self.dst = prefetch(song, out_suffix, mode, cache_dir)

    @contextlib.contextmanager
    def stopped_on_error(self) -> Iterator[None]:
        """Stop this run's encode if the block raises (anything, Ctrl-C included)."""
        try:
            yield
        except BaseException:
            if self.dst is not None:
                cancel(self.dst)
            raise
