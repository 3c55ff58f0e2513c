"""Decode audio of any common format, rate and channel count into float32 arrays.

wav, flac and ogg go through libsndfile; mp3, m4a and anything else through the bundled ffmpeg
(``-v error``, its stderr piped), which resyncs over damaged frames where libsndfile's mpg123
gives up. libsndfile's C libraries write warnings straight to file descriptor 2; every call into
it runs with that descriptor redirected, and what they wrote is logged at debug level — so the
user's terminal shows nothing but our own one-line messages.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mvdirector.errors import InputError
from mvdirector.media.atomic import file_sha256

log = logging.getLogger(__name__)

__all__ = ["AudioInfo", "audio_info", "load_audio", "stream_audio", "file_sha256"]


@dataclass(frozen=True)
class AudioInfo:
    """Basic facts about an audio file."""

    duration_s: float
    sample_rate: int
    channels: int
    exact: bool = True
    """False when the container gave no length and ffmpeg estimated it from the bitrate."""


SNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff")


@contextlib.contextmanager
def quiet_c_stderr(what: str) -> Iterator[None]:
    """Run a block with the process's stderr (fd 2) sent to a temporary file; log what landed there."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreter): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("%s: %s", what, line.strip())


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"audio file '{path}' does not exist", "check the path")
    if path.is_dir():
        raise InputError(f"audio path '{path}' is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise InputError(f"audio file '{path}' is empty (0 bytes)", "give a wav, flac, ogg, mp3 or m4a file")


def _ffmpeg_probe(path: Path) -> AudioInfo:
    from mvdirector.media.video import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    err = proc.stderr
    m = re.search(r"Audio: [^\n]*?(\d+) Hz, ([^,\n]+)", err)
    d = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    if not m or not d:
        raise InputError(
            f"'{path}' is not a readable audio file (no audio stream found)",
            "give a wav, flac, ogg, mp3 or m4a file",
        )
    layout = m.group(2).strip()
    channels = {"mono": 1, "stereo": 2, "5.1": 6, "5.1(side)": 6, "7.1": 8, "quad": 4}.get(layout)
    if channels is None:
        cm = re.match(r"(\d+) channels", layout)
        channels = int(cm.group(1)) if cm else 2
    dur = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3))
    exact = "Estimating duration from bitrate" not in err
    return AudioInfo(duration_s=dur, sample_rate=int(m.group(1)), channels=channels, exact=exact)


_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _length_is_plausible(path: Path, info: Any) -> bool:
    """False when an uncompressed file's header promises more samples than the file holds (a damaged header)."""
    width = _SAMPLE_BYTES.get(info.subtype)
    return width is None or info.frames * info.channels * width <= path.stat().st_size


def audio_info(path: str | Path) -> AudioInfo:
    """Duration, rate and channel count of an audio file, without decoding it all."""
    p = Path(path)
    _check_file(p)
    if p.suffix.lower() in SNDFILE_SUFFIXES:
        try:
            import soundfile as sf

            with quiet_c_stderr("libsndfile"):
                info = sf.info(str(p))
            if info.frames > 0 and not info.subtype.startswith("MPEG_") and _length_is_plausible(p, info):
                return AudioInfo(info.frames / info.samplerate, int(info.samplerate), int(info.channels))
        except Exception:  # noqa: BLE001 - not what its suffix says: ffmpeg can tell
            pass
    probed = _ffmpeg_probe(p)
    if not probed.exact:  # MP3 inside a WAV, a header without a length: count the samples instead
        rate, count = stream_audio(p, lambda _block: None)
        return AudioInfo(count / rate, rate, probed.channels)
    return probed


# ITU-R BS.775 downmix weights by channel count (L R C LFE Ls Rs [Lb Rb]); LFE is dropped.
_DOWNMIX = {
    6: np.array([1.0, 1.0, 0.7071, 0.0, 0.7071, 0.7071], dtype=np.float32),
    8: np.array([1.0, 1.0, 0.7071, 0.0, 0.7071, 0.7071, 0.7071, 0.7071], dtype=np.float32),
}
BLOCK_FRAMES = 1 << 16


def _downmix(block: np.ndarray) -> np.ndarray:
    """(frames, channels) → (frames,) mono: a plain mean, or the ITU weights for 5.1/7.1."""
    ch = block.shape[1]
    if ch == 1:
        return block[:, 0]
    w = _DOWNMIX.get(ch)
    if w is None:
        return block.mean(axis=1)
    return block @ (w / w.sum())


class _Sink:
    """Collects decoded blocks, downmixing and resampling as they stream in (bounded extra memory)."""

    def __init__(
        self,
        rate: int,
        channels: int,
        sr: int | None,
        mono: bool,
        expected_frames: int,
        on_block: Callable[[np.ndarray], None] | None = None,
        path: Path | None = None,
    ) -> None:
        import soxr

        self.path = path
        self.on_block = on_block
        self.count = 0
        self.mono = mono
        self.out_ch = 1 if mono else channels
        self.rate = rate
        self.sr = sr or rate
        self.stream = soxr.ResampleStream(rate, self.sr, self.out_ch, dtype="float32") if self.sr != rate else None
        cap = int(expected_frames * self.sr / rate) + self.sr if expected_frames > 0 and on_block is None else 0
        self.buf = np.zeros((cap, self.out_ch), dtype=np.float32)
        self.n = 0

    def _append(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        self.count += len(x)
        if self.on_block is not None:
            self.on_block(x[:, 0] if self.mono else x.T)
            return
        if self.n + len(x) > len(self.buf):
            grown = np.zeros((max(2 * len(self.buf), self.n + len(x)), self.out_ch), dtype=np.float32)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : self.n + len(x)] = x
        self.n += len(x)

    def feed(self, block: np.ndarray, last: bool = False) -> None:
        block = np.asarray(block, dtype=np.float32)
        if not np.isfinite(block).all():  # float wav/flac can hold NaN/inf: nothing downstream could encode it
            raise InputError(
                f"audio file '{self.path}' holds NaN or infinite samples (the file is damaged)",
                "re-export it from the editor as 16- or 24-bit wav or flac",
            )
        x = _downmix(block)[:, None] if self.mono else block
        if self.stream is not None:
            x = self.stream.resample_chunk(np.ascontiguousarray(x), last=last).reshape(-1, self.out_ch)
        self._append(x)

    def result(self) -> np.ndarray:
        data = self.buf[: self.n]
        out = data[:, 0] if self.mono else data.T
        return np.ascontiguousarray(out, dtype=np.float32)


def _decode_soundfile(
    path: Path, sr: int | None, mono: bool, on_block: Callable[[np.ndarray], None] | None = None
) -> _Sink | None:
    """Stream-decode wav, flac or ogg with libsndfile; None for other suffixes or files it cannot open."""
    import soundfile as sf

    if path.suffix.lower() not in SNDFILE_SUFFIXES:
        return None
    try:
        with quiet_c_stderr("libsndfile"):
            f = sf.SoundFile(str(path))
    except Exception:  # noqa: BLE001 - not a libsndfile format: let ffmpeg try
        return None
    with f:
        if f.frames <= 0:
            return None
        sink = _Sink(int(f.samplerate), int(f.channels), sr, mono, int(f.frames), on_block, path)
        try:
            while True:
                with quiet_c_stderr("libsndfile"):
                    block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                last = len(block) < BLOCK_FRAMES
                sink.feed(block, last=last)
                if last:
                    break
        except sf.LibsndfileError as e:
            raise InputError(f"audio file '{path}' is corrupt: {e}", "re-export it as wav or flac") from e
        return sink


def _decode_ffmpeg(
    path: Path, sr: int | None, mono: bool, on_block: Callable[[np.ndarray], None] | None = None
) -> _Sink:
    """Decode with the bundled ffmpeg, streaming its raw float output through the same sink."""
    from mvdirector.media.video import ffmpeg_exe

    info = _ffmpeg_probe(path)
    channels = info.channels
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-map", "0:a:0", "-f", "f32le",
           "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(info.sample_rate), "-"]
    sink = _Sink(info.sample_rate, channels, sr, mono, int(info.duration_s * info.sample_rate), on_block, path)
    frame_bytes = 4 * channels
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        stdout, stderr = proc.stdout, proc.stderr
        if stdout is None or stderr is None:
            raise RuntimeError("ffmpeg pipes were not opened")
        pending = b""
        while True:
            chunk = stdout.read(BLOCK_FRAMES * frame_bytes)
            data = pending + chunk
            usable = len(data) // frame_bytes * frame_bytes
            pending = data[usable:]
            if usable:
                sink.feed(np.frombuffer(data[:usable], dtype=np.float32).reshape(-1, channels), last=not chunk)
            if not chunk:
                if not usable:
                    sink.feed(np.zeros((0, channels), np.float32), last=True)
                break
        err = stderr.read().decode(errors="replace").strip().splitlines()
        code = proc.wait()
    if code != 0 or sink.count == 0:
        why = err[-1] if err else "no audio decoded"
        raise InputError(f"cannot decode audio file '{path}': {why}", "give a wav, flac, ogg, mp3 or m4a file")
    return sink


def load_audio(path: str | Path, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 samples, optionally resampled to ``sr``.

    Returns ``(samples, rate)``; samples have shape (n,) when ``mono`` else (channels, n).
    Decoding streams in blocks: downmix (ITU weights for 5.1/7.1) and resampling (soxr) run
    per block, so memory is the output array plus a block, even for an hour-long file.
    Raises InputError for a missing, empty or undecodable file.
    """
    p = Path(path)
    _check_file(p)
    if sr is not None and sr <= 0:
        raise InputError(f"sample rate {sr} must be positive")
    sink = _decode_soundfile(p, sr, mono) or _decode_ffmpeg(p, sr, mono)
    data = sink.result()
    if data.size == 0 or data.shape[-1] == 0:
        raise InputError(f"audio file '{p}' holds no samples", "give a file with sound in it")
    return data, int(sink.sr)


def stream_audio(
    path: str | Path, on_block: Callable[[np.ndarray], None], sr: int | None = None, mono: bool = True
) -> tuple[int, int]:
    """Decode ``path`` block by block, calling ``on_block`` with each float32 block, keeping nothing.

    Blocks are downmixed/resampled exactly as `load_audio` would return them, in order, shape
    (n,) when ``mono`` else (channels, n). Returns ``(rate, total samples)``; InputError as
    `load_audio`.
    """
    p = Path(path)
    _check_file(p)
    if sr is not None and sr <= 0:
        raise InputError(f"sample rate {sr} must be positive")
    sink = _decode_soundfile(p, sr, mono, on_block) or _decode_ffmpeg(p, sr, mono, on_block)
    if sink.count == 0:
        raise InputError(f"audio file '{p}' holds no samples", "give a file with sound in it")
    return int(sink.sr), int(sink.count)
