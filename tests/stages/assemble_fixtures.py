"""Builders for the assembler tests: tiny plans, solid-colour clips and a click track."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from mvdirector.media.video import VideoWriter
from mvdirector.schemas import Camera, Shot, ShotClip, ShotPlan, SongRef, Transition

SR = 22050


def make_plan(
    frames: Sequence[int],
    fps: float = 12.0,
    size: tuple[int, int] = (64, 36),
    bpm: float = 120.0,
    transitions: dict[int, tuple[str, float]] | None = None,
    sections: Sequence[str] | None = None,
    renderer: str = "procedural",
    framing: str = "wide",
    song: str = "song.wav",
) -> ShotPlan:
    """A plan whose shots last ``frames[i]`` frames; ``transitions[i] = (kind, beats)`` enters shot i."""
    transitions = transitions or {}
    shots, t = [], 0
    for i, n in enumerate(frames):
        kind, beats = transitions.get(i, ("cut", 0.0))
        shots.append(
            Shot(
                id=f"s{i:02d}",
                start_s=t / fps,
                end_s=(t + n) / fps,
                section=(sections[i] if sections else "verse"),
                framing=framing,
                camera=Camera(move="static", direction=1),
                transition_in=Transition(kind=kind, beats=beats),
            )
        )
        t += n
    return ShotPlan(
        song=SongRef(path=song, sha256="0" * 64, duration_s=t / fps, bpm=bpm),
        render={"width": size[0], "height": size[1], "fps": fps, "renderer": renderer},
        shots=shots,
    )


def solid_colour(i: int) -> tuple[int, int, int]:
    """A distinct, codec-friendly RGB colour for shot ``i``."""
    palette = [(200, 40, 40), (40, 180, 60), (50, 70, 210), (220, 200, 40), (40, 200, 200), (180, 60, 190)]
    return palette[i % len(palette)]


def write_clips(
    plan: ShotPlan,
    folder: Path,
    frame_fn: Callable[[int, int, int, int], np.ndarray] | None = None,
    crf: int = 18,
) -> list[ShotClip]:
    """One clip per shot; ``frame_fn(shot_index, k, width, height)`` draws frame k (default: solid)."""
    r = plan.render
    clips = []
    for i, shot in enumerate(plan.shots):
        n = shot.n_frames(r.fps)
        path = folder / f"{shot.id}.mp4"
        with VideoWriter(path, r.width, r.height, r.fps, crf=crf) as w:
            for k in range(n):
                if frame_fn is None:
                    frame = np.empty((r.height, r.width, 3), np.uint8)
                    frame[:] = solid_colour(i)
                else:
                    frame = frame_fn(i, k, r.width, r.height)
                w.write(frame)
        clips.append(
            ShotClip(
                shot_id=shot.id,
                path=str(path),
                frames=n,
                fps=r.fps,
                width=r.width,
                height=r.height,
                cache_key=f"k{i}",
                cached=bool(i % 2),
                render_s=0.5 + i,
            )
        )
    return clips


def write_song(path: Path, duration_s: float, clicks_s: Sequence[float] = (), sr: int = SR) -> Path:
    """A quiet stereo sine with full-scale 5 ms clicks at ``clicks_s``."""
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    x = 0.02 * np.sin(2 * np.pi * 220.0 * t)
    for c in clicks_s:
        a = int(round(c * sr))
        x[a : a + int(0.005 * sr)] = 0.9
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), sr)
    return path


def decode_video(path: Path) -> np.ndarray:
    """All frames of a video as an (F, H, W, 3) uint8 array."""
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first audio channel of a file as float32 samples and the sample rate."""
    import av

    with av.open(str(path)) as c:
        sr = c.streams.audio[0].codec_context.sample_rate
        chunks = [f.to_ndarray()[0].astype(np.float32) for f in c.decode(audio=0)]
    return np.concatenate(chunks), sr
