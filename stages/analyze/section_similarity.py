"""Self-similarity, novelty and repetition on unit (bar) features.

- Harmony is compared under all 12 circular chroma shifts (Müller's transposition-invariant
  self-similarity), so a chorus sung a tone higher still matches its first statement; an
  unshifted match is preferred by a small penalty on the other keys.
- Repetition: the shift-wise similarity is smoothed along its diagonals (a repeat is a run
  of bars, not one bar), the best key taken per cell, and each unit keeps its ``k`` nearest
  neighbours — the recurrence plot of Serrà et al. (2012). Read as a time-lag matrix and
  smoothed along time, its rows are *structure features*; where they change, the song moves
  from one repeated (or unrepeated) block to another.
- Homogeneity: a Gaussian-tapered checkerboard kernel on the timbre/rhythm/harmony
  self-similarity (Foote 2000) finds changes of instrumentation, groove and key area.
"""

from __future__ import annotations

import numpy as np

SHIFT_PENALTY = 0.99  # a transposed repeat must be this much closer to beat the untransposed one


def shifted_chroma_similarity(chroma: np.ndarray) -> np.ndarray:
    """(12, n, n): mean over beat slots of the cosine between unit i and unit j transposed by s semitones."""
    n, m, _ = chroma.shape
    flat = chroma.reshape(n, m * 12)
    out = np.empty((12, n, n), dtype=np.float32)
    for s in range(12):
        out[s] = flat @ np.roll(chroma, s, axis=2).reshape(n, m * 12).T / m
    return np.clip(out, 0.0, 1.0)


def diagonal_smooth(ssm: np.ndarray, length: int) -> np.ndarray:
    """Average of each cell with its neighbours along the diagonal, ``length`` cells centred on it."""
    import scipy.ndimage

    if length <= 1:
        return ssm
    kernel = np.eye(length, dtype=np.float32) / length
    return scipy.ndimage.correlate(ssm, kernel, mode="constant")


def repetition(shifted: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Path-smoothed, key-invariant repetition matrix (n, n) and the winning shift per cell."""
    smooth = np.stack([diagonal_smooth(s, length) for s in shifted])
    smooth[1:] *= SHIFT_PENALTY
    best = np.argmax(smooth, axis=0)
    return np.take_along_axis(smooth, best[None], axis=0)[0], best


def rbf_similarity(x: np.ndarray) -> np.ndarray:
    """Gaussian similarity of standardised rows, bandwidth the median squared distance."""
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    sq = (z**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0) / max(1, z.shape[1])
    off = d2[~np.eye(len(d2), dtype=bool)]
    sigma2 = float(np.median(off)) if off.size else 1.0
    return np.exp(-d2 / max(sigma2, 1e-6))


def novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Boundary novelty before each unit: within-block minus cross-block similarity (Foote 2000).

    The two blocks are the ``half`` units on each side of the boundary, weighted by a Gaussian
    on distance from it; blocks are truncated at the song's ends and the diagonal is left out,
    so the first and last units are not mistaken for boundaries.
    """
    n = len(ssm)
    nov = np.zeros(n + 1)
    off_diag = ~np.eye(n, dtype=bool)
    for i in range(1, n):
        lo, hi = max(0, i - half), min(n, i + half)
        idx = np.arange(lo, hi)
        w = np.exp(-0.5 * ((idx - i + 0.5) / (0.5 * half)) ** 2)
        left, right = idx < i, idx >= i
        ww = np.outer(w, w)
        blk = ssm[lo:hi, lo:hi]
        same = (np.outer(left, left) | np.outer(right, right)) & off_diag[lo:hi, lo:hi]
        cross = np.outer(left, right) | np.outer(right, left)
        if not same.any() or not cross.any():
            continue
        within = float((blk * ww)[same].sum() / ww[same].sum())
        between = float((blk * ww)[cross].sum() / ww[cross].sum())
        nov[i] = max(0.0, within - between)
    return nov


def recurrence(rep: np.ndarray, k: int, exclude: int = 2) -> np.ndarray:
    """Mutual k-nearest-neighbour recurrence plot (weights = similarity) outside the main diagonal band."""
    n = len(rep)
    r = rep.copy()
    band = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) < exclude
    r[band] = -np.inf
    k = max(1, min(k, n - 2 * exclude))
    if n <= 2 * exclude + 1:
        return np.zeros_like(rep)
    kth = -np.partition(-r, k - 1, axis=1)[:, k - 1 : k]
    keep = r >= kth
    keep &= keep.T
    return np.where(keep & np.isfinite(r), np.maximum(rep, 0.0), 0.0)


def structure_novelty(rec: np.ndarray, sigma: float) -> np.ndarray:
    """Novelty before each unit from structure features (Serrà et al. 2012).

    Row i of the time-lag matrix says at which lags unit i recurs; after Gaussian smoothing
    along time the rows change where a repeated block starts or ends.
    """
    import scipy.ndimage

    n = len(rec)
    lag = np.zeros((n, 2 * n - 1), dtype=np.float32)
    rows = np.arange(n)[:, None]
    cols = np.arange(n)[None, :]
    lag[rows, cols - rows + n - 1] = rec
    sf = scipy.ndimage.gaussian_filter1d(lag, sigma=max(0.5, sigma), axis=0, mode="nearest")
    sf = scipy.ndimage.gaussian_filter1d(sf, sigma=0.5, axis=1, mode="constant")
    nov = np.zeros(n + 1)
    nov[1:n] = np.linalg.norm(sf[1:] - sf[:-1], axis=1)
    return nov


def segment_match(shifted: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """How well the shorter of two segments repeats inside the longer, under each of the 12 transpositions.

    The shorter segment slides along the longer one (a chorus doubled at the end still
    matches a single one); returns per shift the best mean similarity along the aligned
    diagonal and the slide (in units from the longer one's start) where it is reached. All
    zeros when the shorter segment is under 45 % of the longer's length.
    """
    if a[1] - a[0] > b[1] - b[0]:
        a, b = b, a
    la, lb = a[1] - a[0], b[1] - b[0]
    if la < 1 or la < 0.45 * lb:
        return np.zeros(12), np.zeros(12, dtype=int)
    k = np.arange(la)
    slides = np.array([shifted[:, a[0] + k, b[0] + off + k].mean(axis=1) for off in range(0, lb - la + 1)])
    return slides.max(axis=0), slides.argmax(axis=0)
