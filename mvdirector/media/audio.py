"""Decode audio of any common format, rate and channel count into float32 arrays."""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvdirector.errors import InputError
from mvdirector.media.atomic import file_sha256

log = logging.getLogger(__name__)

__all__ = ["AudioInfo", "audio_info", "load_audio", "file_sha256"]


@dataclass(frozen=True)
class AudioInfo:
    """Basic facts about an audio file."""

    duration_s: float
    sample_rate: int
    channels: int


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
    return AudioInfo(duration_s=dur, sample_rate=int(m.group(1)), channels=channels)


def audio_info(path: str | Path) -> AudioInfo:
    """Duration, rate and channel count of an audio file, without decoding it all."""
    p = Path(path)
    _check_file(p)
    try:
        import soundfile as sf

        info = sf.info(str(p))
        if info.frames > 0:
            return AudioInfo(info.frames / info.samplerate, int(info.samplerate), int(info.channels))
    except Exception:  # noqa: BLE001 - soundfile cannot read mp3/m4a; ffmpeg can
        pass
    return _ffmpeg_probe(p)


def _decode_ffmpeg(path: Path, sr: int, channels: int) -> np.ndarray:
    from mvdirector.media.video import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-f", "f32le",
           "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sr), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        why = msg[-1] if msg else "no audio decoded"
        hint = "give a wav, flac, ogg, mp3 or m4a file"
        raise InputError(f"cannot decode audio file '{path}': {why}", hint)
    data = np.frombuffer(proc.stdout, dtype=np.float32)
    return data.reshape(-1, channels).T.copy()


def load_audio(path: str | Path, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 samples, optionally resampled to ``sr``.

    Returns ``(samples, rate)``; samples have shape (n,) when ``mono`` else (channels, n).
    Raises InputError for a missing, empty or undecodable file.
    """
    p = Path(path)
    _check_file(p)
    data: np.ndarray | None = None
    rate = 0
    try:
        import soundfile as sf

        arr, rate = sf.read(str(p), dtype="float32", always_2d=True)
        data = arr.T
    except Exception:  # noqa: BLE001 - fall back to ffmpeg for mp3/m4a/odd containers
        data = None
    if data is None:
        info = _ffmpeg_probe(p)
        rate = info.sample_rate
        data = _decode_ffmpeg(p, rate, info.channels)
    if data.size == 0 or data.shape[-1] == 0:
        raise InputError(f"audio file '{p}' holds no samples", "give a file with sound in it")
    if not np.all(np.isfinite(data)):
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    if mono:
        data = data.mean(axis=0)
    if sr is not None and sr != rate:
        import soxr

        if data.ndim == 1:
            data = soxr.resample(data, rate, sr).astype(np.float32)
        else:
            data = soxr.resample(data.T, rate, sr).T.astype(np.float32)
        rate = sr
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)
