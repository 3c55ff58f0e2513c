"""Container-level work with the bundled ffmpeg and PyAV: stream signatures, joining without
decoding, muxing the song, and measuring the audio/video offset of the result."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from mvdirector.errors import InputError
from mvdirector.media.video import run_ffmpeg

# Audio codecs that may be copied from the song as they are, per output container.
_COPYABLE = {
    ".mp4": {"aac", "alac"},
    ".m4v": {"aac"},
    ".mov": {"aac", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be", "pcm_s24be"},
    ".mkv": {"aac", "alac", "flac", "pcm_s16le", "pcm_s24le", "mp3", "opus", "vorbis"},
}
# Source containers whose AAC carries its encoder delay in a form ffmpeg preserves on copy.
_AAC_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}


@dataclass(frozen=True)
class StreamSignature:
    """What must match for two video files to be joined without decoding."""

    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: Fraction
    extradata_sha: str
    frames: int

    def joinable(self, other: StreamSignature) -> bool:
        """True when both streams share codec, size, pixel format, frame rate and parameter sets."""
        return (self.codec, self.width, self.height, self.pix_fmt, self.fps, self.extradata_sha) == (
            other.codec,
            other.width,
            other.height,
            other.pix_fmt,
            other.fps,
            other.extradata_sha,
        )


def stream_signature(path: str | Path) -> StreamSignature:
    """The first video stream's signature; ``frames`` is counted by demuxing (no decoding)."""
    import av

    p = Path(path)
    if not p.is_file():
        raise InputError(f"clip '{p}' does not exist", "re-render the shot")
    try:
        with av.open(str(p)) as c:
            if not c.streams.video:
                raise InputError(f"clip '{p}' has no video stream", "re-render the shot")
            vs = c.streams.video[0]
            cc = vs.codec_context
            extradata = bytes(cc.extradata or b"")
            rate = vs.average_rate or vs.guessed_rate or 0
            frames = sum(1 for pkt in c.demux(vs) if pkt.size)
            return StreamSignature(
                codec=cc.name,
                width=cc.width,
                height=cc.height,
                pix_fmt=str(cc.format.name if cc.format else ""),
                fps=Fraction(rate).limit_denominator(1001),
                extradata_sha=hashlib.sha256(extradata).hexdigest(),
                frames=frames,
            )
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise InputError(f"clip '{p}' cannot be read: {e}", "re-render the shot") from e


def song_audio_codec(song: str | Path) -> tuple[str, str]:
    """(codec name, container format name) of the song's first audio stream."""
    import av

    try:
        with av.open(str(song)) as c:
            if not c.streams.audio:
                raise InputError(f"'{song}' has no audio stream", "give a wav, flac, ogg, mp3 or m4a file")
            return c.streams.audio[0].codec_context.name, c.format.name
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise InputError(
            f"cannot read the song '{song}': {e}", "give a wav, flac, ogg, mp3 or m4a file"
        ) from e


def audio_args(song: str | Path, out_suffix: str, mode: str, bitrate: str = "192k") -> tuple[list[str], str]:
    """ffmpeg audio output arguments and a label, copying the song's stream when ``mode`` allows it.

    ``mode`` is ``auto`` (copy when the output container holds the codec without changing its
    timing, else AAC), ``aac`` or ``copy`` (an error when impossible).
    """
    codec, container = song_audio_codec(song)
    copyable = codec in _COPYABLE.get(out_suffix, set())
    if codec == "aac" and container not in _AAC_CONTAINERS:
        copyable = False  # raw ADTS streams lose their encoder delay: re-encode to keep A/V offset zero
    if mode == "copy" and not copyable:
        raise InputError(
            f"the song's {codec} audio cannot be copied into a {out_suffix} file without changing its timing",
            "use --audio aac (the default 'auto' does this)",
        )
    if mode in ("copy", "auto") and copyable:
        return ["-c:a", "copy"], f"copy:{codec}"
    return ["-c:a", "aac", "-b:a", bitrate], "aac"


def _concat_line(path: Path) -> str:
    escaped = str(path.resolve()).replace("'", "'\\''")
    return f"file '{escaped}'\n"


def join_and_mux(
    parts: list[Path],
    song: Path,
    out: Path,
    audio: list[str],
    tag: str | None,
    faststart: bool,
    list_file: Path,
) -> None:
    """Join ``parts`` (same stream signature) without decoding and mux ``song`` into ``out``."""
    list_file.write_text("".join(_concat_line(p) for p in parts), encoding="utf-8")
    args = [
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(list_file),
        "-i",
        str(song),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        *audio,
    ]
    if tag:
        args += ["-tag:v", tag]
    if faststart and out.suffix in (".mp4", ".mov", ".m4v"):
        args += ["-movflags", "+faststart"]
    args += ["-map_metadata", "-1", str(out)]
    run_ffmpeg(args, f"join {len(parts)} clip(s) and mux the song into '{out.name}'")


def first_times(path: str | Path) -> tuple[float | None, float | None]:
    """Presentation times (s) of the first decoded video frame and the first decoded audio sample."""
    import av

    video_t: float | None = None
    audio_t: float | None = None
    with av.open(str(path)) as c:
        streams = [s for s in (c.streams.video[:1] + c.streams.audio[:1])]
        for packet in c.demux(*streams):
            if packet.size == 0:
                continue
            is_video = packet.stream.type == "video"
            if (video_t if is_video else audio_t) is not None:
                if video_t is not None and audio_t is not None:
                    break
                continue
            for frame in packet.decode():
                t = float(frame.time) if frame.time is not None else None
                if is_video and video_t is None:
                    video_t = t
                elif not is_video and audio_t is None:
                    audio_t = t
                break
            if video_t is not None and (audio_t is not None or not c.streams.audio):
                break
    return video_t, audio_t


def av_offset_s(path: str | Path) -> float:
    """Start of the picture minus start of the sound, in seconds (0 when both start together)."""
    v, a = first_times(path)
    if v is None or a is None:
        return 0.0
    return v - a
