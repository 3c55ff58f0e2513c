"""Frame-rate conversion between a video model's native clock and the output's.

Video models are trained at one frame rate (Wan2.1/2.2 I2V and S2V: 16 fps); a plan asks for
another (e.g. 24 fps). Generating at the plan's rate would play the model's motion too fast
(24/16 = 1.5×), so a shot is generated at the native rate and then retimed: every output frame
shows the native frame nearest to its own time. Frame ``i`` of a clip at ``fps`` is at
``i / fps`` seconds from the clip's start, on both clocks. Both helpers are pure index
arithmetic, so the output keeps exactly its frame count and a cut stays on its frame.

>>> native_frame_count(48, 24.0, 16.0)   # a 2 s shot at 24 fps: 33 native frames (4k+1)
33
>>> retime_indices(6, 24.0, 33, 16.0).tolist()   # 24 fps frames shown from the 16 fps clip
[0, 1, 1, 2, 3, 3]

On the song's clock (:func:`song_span`, :func:`song_nearest`) native frame ``j`` of the song is
at ``j / native_fps`` seconds from the song's start, so a shot generates the native frames
nearest to its cuts and the shots of a take tile the native clock with no frame repeated or
skipped — what an audio-driven model needs to keep the lips on the song's audio frames.

>>> song_span(30, 36, 24.0, 16.0)            # plan frames 30..35 at 24 fps = 1.25 s .. 1.5 s
(20, 24)
>>> song_nearest(30, 6, 24.0, 20, 4, 16.0).tolist()   # the native frame each plan frame shows
[0, 1, 1, 2, 3, 3]
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-9  # keeps exact halves and integer ratios from flipping on float round-off


def _nearest(i: np.ndarray, ratio: float) -> np.ndarray:
    """``round(i · ratio)`` with halves rounded up, robust to float round-off."""
    return np.floor(i * ratio + 0.5 + _EPS).astype(np.int64)


def retime_indices(n_out: int, out_fps: float, n_in: int, in_fps: float) -> np.ndarray:
    """For each of ``n_out`` frames at ``out_fps``, the index of the nearest of ``n_in`` frames at ``in_fps``.

    Indices past the input's end are clamped to its last frame. Returns int64 of shape (n_out,).
    """
    if n_out < 0 or n_in < 1:
        raise ValueError(f"need n_out >= 0 and n_in >= 1 (got {n_out}, {n_in})")
    if out_fps <= 0 or in_fps <= 0:
        raise ValueError(f"frame rates must be positive (got {out_fps}, {in_fps})")
    idx = _nearest(np.arange(n_out, dtype=np.float64), in_fps / out_fps)
    return np.minimum(idx, n_in - 1)


def round_up_frames(n: int, multiple: int = 4) -> int:
    """The smallest ``multiple·k + 1`` that is at least ``n`` (Wan's VAE packs 4 frames per latent)."""
    if n < 1 or multiple < 1:
        raise ValueError(f"need n >= 1 and multiple >= 1 (got {n}, {multiple})")
    return math.ceil((n - 1) / multiple) * multiple + 1


def native_frame_count(n_frames: int, out_fps: float, native_fps: float, multiple: int = 4) -> int:
    """Native frames (``multiple·k + 1``) to generate so that ``n_frames`` at ``out_fps`` can be retimed from them.

    Enough frames that :func:`retime_indices` never clamps: the last output frame's nearest
    native frame exists.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames={n_frames} must be at least 1")
    last = int(retime_indices(n_frames, out_fps, 1 << 62, native_fps)[-1])
    return round_up_frames(last + 1, multiple)


def song_span(first: int, end: int, fps: float, native_fps: float) -> tuple[int, int]:
    """Native frames ``[start, stop)`` of the song a shot of plan frames ``[first, end)`` at ``fps`` covers.

    Each end is the native frame nearest to the cut, so neighbouring shots share their boundary
    and tile the native clock; a shot gets at least one native frame.
    """
    if end <= first or fps <= 0 or native_fps <= 0:
        raise ValueError(f"need end > first and positive frame rates (got {first}, {end}, {fps}, {native_fps})")
    ratio = native_fps / fps
    start, stop = (int(v) for v in _nearest(np.array([first, end], dtype=np.float64), ratio))
    return start, max(stop, start + 1)


def song_nearest(first_out: int, n_out: int, out_fps: float, first_in: int, n_in: int, in_fps: float) -> np.ndarray:
    """For song frames ``first_out ..`` at ``out_fps``: the index into ``n_in`` frames from ``first_in`` at ``in_fps``.

    Nearest in song time, clamped to the ``n_in`` frames that exist; both runs are counted from the
    song's start. Returns int64 of shape (n_out,).
    """
    if n_out < 0 or n_in < 1 or out_fps <= 0 or in_fps <= 0:
        raise ValueError(f"need n_out >= 0, n_in >= 1 and positive frame rates (got {n_out}, {n_in})")
    idx = _nearest(np.arange(first_out, first_out + n_out, dtype=np.float64), in_fps / out_fps) - first_in
    return np.clip(idx, 0, n_in - 1)
