"""Stream frames to the bundled ffmpeg, probe and read videos, mux audio."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import TracebackType

import numpy as np

from mvdirector import temps
from mvdirector.environment import ffmpeg_error
from mvdirector.errors import InputError, MvError
from mvdirector.media.atomic import check_replaceable

log = logging.getLogger(__name__)

CODECS = {
    "h264": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "h265": ["-c:v", "libx265", "-pix_fmt", "yuv420p", "-tag:v", "hvc1"],
    "prores": ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
}


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of an ffmpeg binary: ``MVDIRECTOR_FFMPEG``, else the one bundled by imageio-ffmpeg."""
    env = os.environ.get("MVDIRECTOR_FFMPEG")
    if env:
        return env
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def fps_fraction(fps: float) -> Fraction:
    """An exact rational frame rate (23.976 → 24000/1001)."""
    f = Fraction(fps).limit_denominator(1001)
    return f


CLIP_PRESET = "ultrafast"
"""x264 preset of every clip and re-encoded piece (renderers and the assembler must agree, or the clips
cannot be joined without re-encoding). At crf 18 ultrafast is visually lossless (PSNR ≈ 46 dB on a
graded, grainy 720p shot, against 47.6 dB for superfast) at less than half superfast's encode time;
files are about a third larger."""


X264_THREADS = 2
"""Threads of one x264 encode. Clips are encoded side by side while frames are drawn, so the CPU time per
frame matters more than one encode's speed: two threads spend 10 % less CPU than x264's default (1.5 per
core) for the same stream, and still encode 720p ultrafast several times faster than frames are drawn."""


def encoder_args(codec: str = "h264", crf: int = 18, preset: str = CLIP_PRESET) -> list[str]:
    """ffmpeg output arguments for a codec name (h264, h265, prores) and quality."""
    if codec not in CODECS:
        raise InputError(f"unknown codec '{codec}'", f"use one of {', '.join(CODECS)}")
    args = list(CODECS[codec])
    if codec in ("h264", "h265"):
        args += ["-preset", preset, "-crf", str(crf)]
    if codec == "h264":
        args += ["-threads", str(X264_THREADS)]
    return args


class VideoWriter:
    """Write RGB frames to a video through an ffmpeg pipe, atomically.

    Frames go to a temporary file that is renamed to ``path`` only when the ``with`` block
    ends without error; on error the temporary file is removed.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        crf: int = 18,
        codec: str = "h264",
        preset: str = CLIP_PRESET,
        extra_args: list[str] | None = None,
        input_pix_fmt: str = "rgb24",
    ) -> None:
        if input_pix_fmt not in ("rgb24", "yuv420p"):
            raise ValueError(f"input_pix_fmt '{input_pix_fmt}' is not rgb24 or yuv420p")
        self.path = Path(path)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.input_pix_fmt = input_pix_fmt
        self.frames = 0
        self._tmp = temps.temp_path_for(self.path)
        fr = fps_fraction(fps)
        self._cmd = [
            ffmpeg_exe(), "-y", "-v", "error", "-nostdin",
            "-f", "rawvideo", "-pix_fmt", input_pix_fmt, "-s", f"{self.width}x{self.height}",
            "-r", f"{fr.numerator}/{fr.denominator}", "-i", "-", "-an",
            # A key frame every second lets the assembler copy all but ~1 s around each transition.
            *encoder_args(codec, crf, preset), "-g", str(max(1, round(float(fps)))), *(extra_args or []),
            "-r", f"{fr.numerator}/{fr.denominator}", str(self._tmp),
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VideoWriter:
        check_replaceable(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temps.record(self._tmp)
        self._proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: (H, W, 3) uint8 RGB, or (H·3/2, W) uint8 I420 with ``input_pix_fmt="yuv420p"``."""
        if self.input_pix_fmt == "rgb24":
            want: tuple[int, ...] = (self.height, self.width, 3)
        else:
            want = (self.height * 3 // 2, self.width)
        if frame.shape != want or frame.dtype != np.uint8:
            raise ValueError(f"frame has shape {frame.shape} {frame.dtype}; expected {want} uint8")
        if self._proc is None or self._proc.stdin is None:
            raise RuntimeError("VideoWriter.write called outside its with-block")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except BrokenPipeError as e:
            err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
            self._proc.wait()
            raise ffmpeg_error(err, f"encode '{self.path.name}'", self._tmp) from e
        self.frames += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        code = proc.wait()
        if exc_type is None and code == 0 and self.frames > 0:
            check_replaceable(self.path)
            os.replace(self._tmp, self.path)
            return
        if self._tmp.exists():
            self._tmp.unlink()
        if exc_type is None:
            if self.frames == 0:
                raise MvError(f"no frames were written to '{self.path.name}'")
            raise ffmpeg_error(err, f"encode '{self.path.name}'", self._tmp)


@dataclass(frozen=True)
class VideoInfo:
    """What a decoded video file holds."""

    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    has_audio: bool
    audio_duration_s: float
    video_codec: str
    audio_start_s: float = 0.0
    video_start_s: float = 0.0


def probe_video(path: str | Path, count_frames: bool = True) -> VideoInfo:
    """Probe a video with PyAV; ``count_frames`` demuxes the stream to count frames exactly."""
    import av

    p = Path(path)
    if not p.exists():
        raise InputError(f"video '{p}' does not exist")
    try:
        with av.open(str(p)) as c:
            vs = c.streams.video[0]
            fps = float(vs.average_rate or vs.guessed_rate or 0)
            frames = vs.frames
            if count_frames or not frames:
                frames = sum(1 for pkt in c.demux(vs) if pkt.size)
            vdur = float(vs.duration * vs.time_base) if vs.duration else frames / fps if fps else 0.0
            vstart = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
            has_audio = bool(c.streams.audio)
            adur, astart = 0.0, 0.0
            if has_audio:
                a = c.streams.audio[0]
                adur = float(a.duration * a.time_base) if a.duration else 0.0
                astart = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
            return VideoInfo(vs.codec_context.width, vs.codec_context.height, fps, int(frames),
                             vdur, has_audio, adur, vs.codec_context.name, astart, vstart)
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise InputError(f"cannot read video '{p}': {e}") from e


def read_frames(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames ``start`` .. ``start + count`` of a video, decoded in order."""
    import av

    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i < start:
                continue
            if count is not None and i >= start + count:
                break
            yield frame.to_ndarray(format="rgb24")


def run_ffmpeg(args: list[str], what: str) -> None:
    """Run the bundled ffmpeg with ``args``; raise MvError with its last words if it fails."""
    proc = subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-nostdin", *args], capture_output=True)
    if proc.returncode != 0:
        raise ffmpeg_error(proc.stderr.decode(errors="replace"), what, args[-1] if args else None)
