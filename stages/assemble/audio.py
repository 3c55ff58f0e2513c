"""The video's sound track: the song encoded once (when it cannot be copied) and kept in a cache folder.

Encoding a song to AAC costs about as much CPU as a second of rendering per 30 s of music, and it
depends only on the song. ``prefetch`` starts it early, as a low-priority ffmpeg, so it runs in the
CPU time that rendering leaves idle; the assembler's ``collect`` then waits for it (usually already
done) and moves the track into the cache. An encode nobody collects is stopped at exit and its
temporary removed.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from mvdirector import temps

from . import concat

log = logging.getLogger(__name__)

BACKGROUND_NICE = 10
"""How much lower than the renderer's the early encode's CPU priority is (it must not slow the shots)."""


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
        tmp = temps.reserve(dst)
        proc = concat.start_audio_encode(song, tmp, args)
        try:
            os.setpriority(os.PRIO_PROCESS, proc.pid, BACKGROUND_NICE)
        except (AttributeError, OSError):  # no priorities here (Windows), or it has already finished
            pass
        _PENDING[dst] = _Encode(proc, tmp)
    return dst


def pending(dst: Path) -> bool:
    """Whether an early encode of ``dst`` was started and not yet collected."""
    with _LOCK:
        return dst in _PENDING


def collect(dst: Path) -> bool:
    """Wait for the early encode of ``dst`` if one was started; True when ``dst`` is in the cache now.

    A failed early encode is only logged: the assembler then encodes the track itself and reports
    ffmpeg's error the usual way."""
    with _LOCK:
        job = _PENDING.pop(dst, None)
    if job is None:
        return dst.is_file()
    _, err = job.proc.communicate()
    if job.proc.returncode == 0 and job.tmp.is_file():
        os.replace(job.tmp, dst)
        return True
    log.debug("early audio encode failed: %s", err.decode(errors="replace").strip()[-300:])
    job.tmp.unlink(missing_ok=True)
    return False


def cancel_all() -> None:
    """Stop every early encode nobody collected and remove its temporary."""
    with _LOCK:
        jobs = list(_PENDING.values())
        _PENDING.clear()
    for job in jobs:
        if job.proc.poll() is None:
            job.proc.kill()
        job.proc.communicate()
        job.tmp.unlink(missing_ok=True)


atexit.register(cancel_all)
