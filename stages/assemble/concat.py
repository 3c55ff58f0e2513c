"""Container-level work with the bundled ffmpeg and PyAV: stream signatures, joining without
decoding, muxing the song, and measuring the audio/video offset of the result."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mvdirector.errors import InputError
from mvdirector.media.video import ffmpeg_exe, run_ffmpeg
from mvdirector.outputs import VIDEO_SIGNATURE

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

    def key(self) -> tuple[object, ...]:
        """The fields two joinable streams share."""
        return (self.codec, self.width, self.height, self.pix_fmt, self.fps, self.extradata_sha)

    def joinable(self, other: StreamSignature) -> bool:
        """True when both streams share codec, size, pixel format, frame rate and parameter sets."""
        return self.key() == other.key()


@dataclass(frozen=True)
class ClipIndex:
    """A clip's stream signature and where it can be cut without decoding.

    ``cuts``: every ``m`` such that the first ``m`` packets in decode order are exactly the
    first ``m`` frames in display order, so frames ``[0, m)`` stand alone (references only
    point backwards in decode order). ``resumes``: every ``k`` that is such a boundary and
    whose next packet is an IDR picture, so frames ``[k, n)`` stand alone too. Frames
    ``[k, m)`` for a resume ``k`` < cut ``m`` are packets ``k..m-1`` in decode order.
    """

    path: Path
    signature: StreamSignature
    first_pts: int
    frame_ticks: float
    time_base: Fraction
    cuts: tuple[int, ...]
    resumes: tuple[int, ...]

    @property
    def frames(self) -> int:
        """Frames in the clip."""
        return self.signature.frames


def _has_idr(data: bytes) -> bool:
    """True when a length-prefixed H.264 access unit holds an IDR slice (NAL type 5)."""
    i = 0
    while i + 4 < len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        if n <= 0:
            return False
        if data[i + 4] & 31 == 5:
            return True
        i += 4 + n
    return False


def clip_index(path: str | Path) -> ClipIndex:
    """Signature and cut points of a clip's first video stream, from one demux pass (no decoding)."""
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
            rate = Fraction(vs.average_rate or vs.guessed_rate or 0).limit_denominator(1001)
            tb = Fraction(vs.time_base)
            pts: list[int] = []
            idr: list[bool] = []
            for pkt in c.demux(vs):
                if not pkt.size or pkt.pts is None:
                    continue
                pts.append(int(pkt.pts))
                idr.append(bool(pkt.is_keyframe) and (cc.name != "h264" or _has_idr(bytes(pkt))))
            extradata = bytes(cc.extradata or b"")
            sig = StreamSignature(
                codec=cc.name,
                width=cc.width,
                height=cc.height,
                pix_fmt=str(cc.format.name if cc.format else ""),
                fps=rate,
                extradata_sha=hashlib.sha256(extradata).hexdigest(),
                frames=len(pts),
            )
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise InputError(f"clip '{p}' cannot be read: {e}", "re-render the shot") from e
    first = min(pts) if pts else 0
    ticks = float(1 / (rate * tb)) if rate else 1.0
    display = [int(round((x - first) / ticks)) for x in pts]
    cuts, resumes, top = [], [0] if idr and idr[0] and display[0] == 0 else [], -1
    if len(set(display)) == len(display):
        for k, d in enumerate(display):
            top = max(top, d)
            if top == k:
                cuts.append(k + 1)
                if k + 1 < len(display) and idr[k + 1] and display[k + 1] == k + 1:
                    resumes.append(k + 1)
    else:
        cuts = [len(display)]
    return ClipIndex(p, sig, first, ticks, tb, tuple(cuts), tuple(resumes))


def stream_signature(path: str | Path) -> StreamSignature:
    """The first video stream's signature; ``frames`` is counted by demuxing (no decoding)."""
    return clip_index(path).signature


def copy_range(index: ClipIndex, dst: Path, start: int, end: int) -> None:
    """Remux frames ``[start, end)`` of a clip into ``dst`` without decoding (a resume to a cut)."""
    import av

    if start not in index.resumes or end not in index.cuts or start >= end:
        raise ValueError(f"[{start}, {end}) of '{index.path.name}' is not a clean cut")
    shift = index.first_pts + int(round(start * index.frame_ticks))
    with av.open(str(index.path)) as inp, av.open(str(dst), "w", format="mp4") as out:
        ivs = inp.streams.video[0]
        ovs = out.add_stream_from_template(ivs)
        k = 0
        for pkt in inp.demux(ivs):
            if not pkt.size or pkt.pts is None:
                continue
            if start <= k < end:
                pkt.pts -= shift
                if pkt.dts is not None:
                    pkt.dts -= shift
                pkt.stream = ovs
                out.mux(pkt)
            k += 1
            if k >= end:
                break


def decode_range(index: ClipIndex, start: int, count: int) -> Iterator[np.ndarray]:
    """Yield RGB frames ``[start, start + count)`` of a clip, seeking to the nearest key frame first."""
    import av

    with av.open(str(index.path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        if start > 0 and any(r <= start for r in index.resumes[1:]):
            c.seek(index.first_pts + int(round(start * index.frame_ticks)), stream=vs, backward=True)
        for frame in c.decode(vs):
            if frame.pts is None:
                continue
            i = int(round((frame.pts - index.first_pts) / index.frame_ticks))
            if i < start:
                continue
            if i >= start + count:
                break
            yield frame.to_ndarray(format="rgb24")


def song_audio_codec(song: str | Path) -> tuple[str, str]:
    """(codec name, container format name) of the song's first audio stream."""
    import av

    try:
        with av.open(str(song)) as c:
            if not c.streams.audio:
                raise InputError(f"'{song}' has no audio stream", "give a wav, flac, ogg, mp3 or m4a file")
            return c.streams.audio[0].codec_context.name, c.format.name
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        raise InputError(f"cannot read the song '{song}': {e}", "give a wav, flac, ogg, mp3 or m4a file") from e


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
            "assemble with audio='aac' or the default 'auto', which encodes AAC here",
        )
    if mode in ("copy", "auto") and copyable:
        return ["-c:a", "copy"], f"copy:{codec}"
    return ["-c:a", "aac", "-b:a", bitrate], "aac"


BACKGROUND_NICE = 10
"""How much lower a ``low_priority`` encode's CPU priority is than the renderer's (it must not slow the shots)."""


def start_audio_encode(song: str | Path, dst: Path, args: list[str], low_priority: bool = False
                       ) -> subprocess.Popen[bytes]:
    """Encode the song's audio to ``dst`` in a background ffmpeg, overlapping the picture work
    (``low_priority``: at a lower CPU priority, so it only takes time other work leaves idle)."""
    cmd = [
        ffmpeg_exe(),
        "-y",
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(song),
        "-map",
        "0:a:0",
        "-vn",
        *args,
        str(dst),
    ]
    flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0) if low_priority else 0  # Windows
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            creationflags=flags)
    if low_priority:
        with contextlib.suppress(AttributeError, OSError):  # no priorities here (Windows), or it already ended
            os.setpriority(os.PRIO_PROCESS, proc.pid, BACKGROUND_NICE)
    return proc


def finish_audio_encode(proc: subprocess.Popen[bytes], song: str | Path) -> None:
    """Wait for ``start_audio_encode``; raise InputError with ffmpeg's last words if it failed."""
    _, err = proc.communicate()
    if proc.returncode != 0:
        from mvdirector.environment import FFMPEG_SIGNS, ffmpeg_error

        text = err.decode(errors="replace")
        if any(sign in text for sign, _ in FFMPEG_SIGNS):
            raise ffmpeg_error(text, "encode the audio", None)
        raise InputError(
            f"could not encode the audio of '{Path(song).name}': {err.decode(errors='replace').strip()[-300:]}",
            "check that the song plays; re-encode it to wav",
        )


def _concat_line(path: Path) -> str:
    escaped = str(path.resolve()).replace("'", "'\\''")
    return f"file '{escaped}'\n"


@dataclass(frozen=True)
class MuxExtras:
    """What the final mux adds beside picture and sound: a soft subtitle track and chapter markers."""

    subtitles: Path | None = None  # an SRT file
    subtitle_codec: str = "mov_text"
    subtitle_language: str = "und"
    subtitle_default: bool = False  # shown unless the viewer turns it off
    chapters: Path | None = None  # an ffmetadata file



def join_and_mux(
    parts: list[Path],
    song: Path,
    out: Path,
    audio: list[str],
    tag: str | None,
    faststart: bool,
    list_file: Path,
    extras: MuxExtras | None = None,
) -> None:
    """Join ``parts`` (same stream signature) without decoding and mux ``song`` (and ``extras``) into ``out``."""
    extras = extras or MuxExtras()
    list_file.write_text("".join(_concat_line(p) for p in parts), encoding="utf-8")
    args = ["-f", "concat", "-safe", "0", "-i", str(list_file), "-i", str(song)]
    maps = ["-map", "0:v:0", "-map", "1:a:0"]
    n = 2
    if extras.subtitles is not None:
        args += ["-i", str(extras.subtitles)]
        maps += ["-map", f"{n}:s:0"]
        n += 1
    if extras.chapters is not None:
        args += ["-f", "ffmetadata", "-i", str(extras.chapters)]
        maps += ["-map_chapters", str(n)]
    args += [*maps, "-c:v", "copy", *audio]
    if extras.subtitles is not None:
        args += ["-c:s", extras.subtitle_codec, "-metadata:s:s:0", f"language={extras.subtitle_language}",
                 "-disposition:s:0", "default" if extras.subtitle_default else "0"]
    if tag:
        args += ["-tag:v", tag]
    if faststart and out.suffix in (".mp4", ".mov", ".m4v"):
        args += ["-movflags", "+faststart"]
    # Chapter titles travel as chapter metadata, which a blanket ``-map_metadata -1`` would drop too.
    args += ["-map_metadata:g", "-1", "-map_metadata:s", "-1"] if extras.chapters else ["-map_metadata", "-1"]
    args += ["-metadata", f"comment={VIDEO_SIGNATURE}"]  # so a later run knows it may replace this file
    run_ffmpeg([*args, str(out)], f"join {len(parts)} clip(s) and mux the song into '{out.name}'")


def subtitle_languages(path: str | Path) -> list[str]:
    """The language tag of every subtitle stream of a file (``und`` where there is none)."""
    import av

    with av.open(str(path)) as c:
        return [s.metadata.get("language", "und") for s in c.streams.subtitles]


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
