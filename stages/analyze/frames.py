"""Frame-wise features of long signals computed in overlapping chunks, so memory stays bounded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def chunked(
    y: np.ndarray, hop: int, fn: Callable[[np.ndarray], np.ndarray], chunk_frames: int = 2600, pad_frames: int = 64
) -> np.ndarray:
    """Apply ``fn`` (signal → (..., frames) at ``hop``, frame i centred on sample i·hop) chunk by chunk.

    Chunks of ``chunk_frames`` frames are widened by ``pad_frames`` on each side; only each
    chunk's core is kept, so filters reaching less than the pad see the same context as on
    the whole signal. The result equals ``fn(y)`` up to edge effects inside the pads.
    """
    n_frames = 1 + len(y) // hop
    if n_frames <= chunk_frames + 2 * pad_frames:
        return fn(y)
    parts = []
    for c0 in range(0, n_frames, chunk_frames):
        c1 = min(n_frames, c0 + chunk_frames)
        lo = max(0, c0 - pad_frames)
        hi = min(n_frames, c1 + pad_frames)
        out = fn(y[lo * hop : hi * hop])
        parts.append(out[..., c0 - lo : c0 - lo + (c1 - c0)])
    res = np.concatenate(parts, axis=-1)
    if res.shape[-1] < n_frames:  # the last chunk's centred frame at the very end
        res = np.concatenate([res, res[..., -1:].repeat(n_frames - res.shape[-1], axis=-1)], axis=-1)
    return res
