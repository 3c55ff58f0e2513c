"""Song structure: section boundaries, repetition groups and labels.

1. Bar-synchronous features (chroma and MFCC + loudness, each bar split into four equal
   parts so the chord sequence inside a bar counts) give a bar-level self-similarity matrix.
2. A Gaussian-tapered checkerboard kernel slid along its diagonal gives a novelty curve
   (Foote 2000); its peaks, on downbeats by construction, become boundaries, strongest first,
   at least ``min_section_s`` apart.
3. Segments whose bars repeat (mean of the best-aligned diagonal of the similarity matrix
   well above the song's average) share a group id.
4. Labels come from repetition, position, energy and vocal presence: the chorus is the most
   repeated, loudest, sung group; the verse the other repeated sung group; unrepeated sung
   material late in the song a bridge, one just before a chorus a pre-chorus; the opening
   and closing non-chorus sections intro and outro; unsung material instrumental.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Section, Segment

from .energy import Loudness


@dataclass(frozen=True)
class SegmentInfo:
    """A candidate section: bar range, times, group, mean energy and sung share."""

    bar0: int
    bar1: int
    start_s: float
    end_s: float
    group: int
    energy: float
    vocal: float


def bar_grid(downbeats: Sequence[float], duration_s: float, fallback_s: float = 2.0) -> np.ndarray:
    """Bar start times covering the song: 0, the downbeats, and the end (a lead-in counts as a bar)."""
    d = np.asarray([t for t in downbeats if 0.0 < t < duration_s - 0.25], dtype=float)
    if d.size < 4:
        d = np.arange(fallback_s, duration_s - 0.25, fallback_s)
    grid = np.r_[0.0, d, duration_s]
    if grid.size > 3 and grid[1] - grid[0] < 0.35 * float(np.median(np.diff(grid[1:-1]))):
        grid = np.delete(grid, 1)  # a lead-in shorter than a third of a bar joins the first bar
    return grid


def bar_features(y: np.ndarray, sr: int, grid: np.ndarray, hop: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar chroma (12×4, unit-norm per quarter) and timbre (MFCC 1-19 + loudness, ×4) features."""
    import librosa

    from .frames import chunked

    def frame_features(x: np.ndarray) -> np.ndarray:
        S = np.abs(librosa.stft(x, n_fft=4096, hop_length=hop)) ** 2
        chroma = librosa.feature.chroma_stft(S=S, sr=sr, tuning=0.0)
        mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=64)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)[1:]
        loud = librosa.power_to_db(mel.sum(axis=0, keepdims=True))
        return np.vstack([chroma, mfcc, loud / 3.0]).astype(np.float32)

    feats = chunked(y, hop, frame_features)
    chroma, timbre = feats[:12], feats[12:]
    n = feats.shape[1]
    fr = np.clip(np.round(grid * sr / hop).astype(int), 0, n)
    chroma_bars, timbre_bars = [], []
    for a, b in zip(fr[:-1], fr[1:], strict=True):
        b = max(b, a + 4)
        q = np.linspace(a, b, 5).astype(int)
        c_parts, t_parts = [], []
        for qa, qb in zip(q[:-1], q[1:], strict=True):
            qb = max(qb, qa + 1)
            c = chroma[:, qa:qb].mean(axis=1) if qa < n else np.zeros(12)
            c_parts.append(c / (np.linalg.norm(c) + 1e-9))
            t_parts.append(timbre[:, qa:qb].mean(axis=1) if qa < n else np.zeros(timbre.shape[0]))
        chroma_bars.append(np.concatenate(c_parts))
        timbre_bars.append(np.concatenate(t_parts))
    return np.asarray(chroma_bars), np.asarray(timbre_bars)


def similarity_parts(chroma: np.ndarray, timbre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bar-level chroma cosine similarity and timbre RBF similarity, both in [0, 1]."""
    c = chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-9)
    s_c = np.clip(c @ c.T, 0.0, 1.0)
    t = (timbre - timbre.mean(axis=0)) / (timbre.std(axis=0) + 1e-6)
    sq = (t**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * t @ t.T, 0.0) / t.shape[1]
    off = d2[~np.eye(len(d2), dtype=bool)]
    sigma2 = float(np.median(off)) if off.size else 1.0
    return s_c, np.exp(-d2 / max(sigma2, 1e-6))


def self_similarity(chroma: np.ndarray, timbre: np.ndarray) -> np.ndarray:
    """Bar-level self-similarity in [0, 1]: the mean of chroma and timbre similarity."""
    s_c, s_t = similarity_parts(chroma, timbre)
    return 0.5 * (s_c + s_t)


def novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Boundary novelty before each bar: within-block minus cross-block similarity (Foote 2000).

    The two blocks are the ``half`` bars on each side of the boundary, weighted by a Gaussian
    on distance from it; blocks are truncated at the song's ends and the diagonal is left out,
    so the first and last bars are not mistaken for boundaries.
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


def combined_novelty(chroma: np.ndarray, timbre: np.ndarray, half: int) -> np.ndarray:
    """Novelty from timbre (instrumentation, loudness) and, at half weight, harmony."""
    s_c, s_t = similarity_parts(chroma, timbre)
    return novelty(s_t, half) + 0.5 * novelty(s_c, half)


def phrase_prior(nov: np.ndarray, period: int = 4) -> np.ndarray:
    """Novelty reweighted towards the 4-bar phrase grid whose phase collects the most novelty.

    Sections in songs start on phrase boundaries far more often than elsewhere; the phase is
    taken from the song itself (an intro of 2 bars shifts it), and off-grid boundaries still
    win when they are clearly stronger.
    """
    n = len(nov)
    if n < 2 * period:
        return nov
    phase = int(np.argmax([nov[p::period].sum() for p in range(period)]))
    k = (np.arange(n) - phase) % period
    weight = np.where(k == 0, 1.4, np.where(k % 2 == 0, 1.15, 1.0))
    return nov * weight


def pick_boundaries(nov: np.ndarray, grid: np.ndarray, min_len_s: float, min_bars: int = 2) -> list[int]:
    """Bar indices of section starts (0 and len excluded): novelty peaks, strongest first, spaced apart."""
    n = len(nov) - 1
    if n < 2 * min_bars:
        return []
    ok = [grid[i] - grid[0] >= min_len_s and grid[n] - grid[i] >= min_len_s for i in range(n + 1)]
    peaks = [
        i
        for i in range(1, n)
        if ok[i] and nov[i] >= nov[max(0, i - 1)] and nov[i] >= nov[min(n, i + 1)] and nov[i] > 0
    ]
    if not peaks:
        return []
    vals = nov[peaks]
    inner = nov[[i for i in range(1, n) if ok[i]]]
    thresh = max(float(np.mean(inner) + 0.25 * np.std(inner)), 0.2 * float(vals.max()))
    chosen: list[int] = []
    for i in [p for _, p in sorted(zip(-vals, peaks, strict=True))]:
        if nov[i] < thresh:
            break
        cand = sorted([0, n, *chosen, i])
        k = cand.index(i)
        lo, hi = cand[k - 1], cand[k + 1]
        if i - lo < min_bars or hi - i < min_bars:
            continue
        if grid[i] - grid[lo] < min_len_s or grid[hi] - grid[i] < min_len_s:
            continue
        chosen.append(i)
    return sorted(chosen)


def segment_similarity(ssm: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> float:
    """How well segment ``b`` repeats segment ``a``: best mean along aligned diagonals (shifts ±1 bar)."""
    la, lb = a[1] - a[0], b[1] - b[0]
    best = -np.inf
    for shift in (-1, 0, 1):
        i0, j0 = a[0], b[0] + shift
        length = min(la, lb - shift if shift > 0 else lb, a[1] - i0, b[1] - j0)
        if shift < 0:
            i0, j0 = a[0] - shift, b[0]
            length = min(la + shift, lb)
        if length < max(1, int(0.6 * min(la, lb))):
            continue
        vals = [ssm[i0 + k, j0 + k] for k in range(length)]
        best = max(best, float(np.mean(vals)))
    return best


def group_segments(ssm: np.ndarray, bounds: list[tuple[int, int]], z_thresh: float = 1.2) -> list[int]:
    """Group ids (0, 1, … by first appearance) tying segments that repeat each other."""
    off = ssm[~np.eye(len(ssm), dtype=bool)]
    mu, sd = (float(off.mean()), float(off.std()) + 1e-6) if off.size else (0.0, 1.0)
    groups: list[int] = []
    reps: list[int] = []  # index of each group's first segment
    for i, seg in enumerate(bounds):
        best_g, best_z = -1, z_thresh
        for g, r in enumerate(reps):
            z = (segment_similarity(ssm, bounds[r], seg) - mu) / sd
            if z > best_z:
                best_g, best_z = g, z
        if best_g < 0:
            reps.append(i)
            best_g = len(reps) - 1
        groups.append(best_g)
    return groups


def label_segments(segs: list[SegmentInfo], sung_share: float = 0.2) -> list[str]:
    """Labels for grouped segments from repetition, position, energy and vocal presence.

    The chorus is the repeated group that is loudest and sung (repeats inside the song count
    more than a matching intro/outro); without repeats, a clearly louder sung section after
    the first. The verse is the most repeated other sung group. Unsung sections are intro
    (first), outro (last) or instrumental; an unrepeated sung section just before a chorus is
    a pre-chorus, one after the first chorus a bridge; a quiet last section an outro.
    """
    n = len(segs)
    if n == 0:
        return []
    sung_any = any(s.vocal >= sung_share for s in segs)

    def is_sung(i: int) -> bool:
        return segs[i].vocal >= sung_share or not sung_any

    if n == 1:
        return ["verse" if segs[0].vocal >= sung_share else "instrumental"]
    by_group: dict[int, list[int]] = {}
    for i, s in enumerate(segs):
        by_group.setdefault(s.group, []).append(i)

    def mean(idx: list[int], key: str) -> float:
        return float(np.mean([getattr(segs[i], key) for i in idx]))

    def chorus_score(g: int) -> float:
        idx = by_group[g]
        inner = [i for i in idx if 0 < i < n - 1]
        sung = mean(idx, "vocal") >= sung_share or not sung_any
        return len(inner) * 0.5 + len(idx) * 0.25 + 3.0 * mean(idx, "energy") + (1.0 if sung else -3.0)

    repeated = [g for g, idx in by_group.items() if len(idx) >= 2]
    labels = [""] * n
    chorus: int | None = max(repeated, key=chorus_score) if repeated else None
    if chorus is not None and not (mean(by_group[chorus], "vocal") >= sung_share or not sung_any):
        chorus = None
    if chorus is None:
        sung_idx = [i for i in range(1, n) if is_sung(i)]
        mean_e = float(np.mean([segs[i].energy for i in range(n) if is_sung(i)] or [0.0]))
        if sung_idx:
            best = max(sung_idx, key=lambda i: segs[i].energy)
            if segs[best].energy > mean_e + 0.03:
                chorus = segs[best].group
    if chorus is not None:
        for i in by_group[chorus]:
            labels[i] = "chorus"
    first_chorus = min(by_group[chorus]) if chorus is not None else n
    others = [g for g in repeated if g != chorus and all(is_sung(i) for i in by_group[g])]
    verse = max(others, key=lambda g: (len(by_group[g]), -min(by_group[g]))) if others else None
    if verse is not None:
        for i in by_group[verse]:
            labels[i] = "verse"
    for i, s in enumerate(segs):
        if labels[i]:
            continue
        if not is_sung(i):
            labels[i] = "intro" if i == 0 else "outro" if i == n - 1 else "instrumental"
        elif i == n - 1 and s.energy < 0.5:
            labels[i] = "outro"
        elif i + 1 < n and segs[i + 1].group == chorus and i > 0 and labels[i - 1] == "verse":
            labels[i] = "pre_chorus"
        elif i > first_chorus and (i + 1 == n or segs[i + 1].group == chorus or labels[i - 1] == "chorus"):
            labels[i] = "bridge"
        else:
            labels[i] = "verse"
    return labels


def find_sections(
    y: np.ndarray,
    sr: int,
    downbeats: Sequence[float],
    duration_s: float,
    loud: Loudness,
    energy_values: np.ndarray,
    energy_fps: float,
    vocals: Sequence[Segment] = (),
    min_section_s: float = 4.0,
) -> list[Section]:
    """Sections tiling the song from 0 to ``duration_s``, boundaries on downbeats."""
    grid = bar_grid(downbeats, duration_s)
    n_bars = len(grid) - 1
    if n_bars >= 4:
        chroma, timbre = bar_features(y, sr, grid)
        ssm = self_similarity(chroma, timbre)
        cuts = pick_boundaries(phrase_prior(combined_novelty(chroma, timbre, 4)), grid, min_section_s)
    else:
        ssm = np.ones((n_bars, n_bars))
        cuts = []
    edges = [0, *cuts, n_bars]
    bounds = list(zip(edges[:-1], edges[1:], strict=True))
    groups = group_segments(ssm, bounds)
    segs: list[SegmentInfo] = []
    for (b0, b1), g in zip(bounds, groups, strict=True):
        s0, s1 = float(grid[b0]), float(grid[b1])
        a, b = int(s0 * energy_fps), max(int(s0 * energy_fps) + 1, int(s1 * energy_fps))
        e = float(np.mean(energy_values[a:b])) if energy_values[a:b].size else 0.0
        segs.append(SegmentInfo(b0, b1, s0, s1, g, e, _covered(vocals, s0, s1)))
    labels = label_segments(segs)
    return [
        Section(
            start_s=round(s.start_s, 4),
            end_s=round(min(s.end_s, duration_s), 4),
            label=lab,  # type: ignore[arg-type]
            group=s.group,
            energy=round(min(1.0, max(0.0, s.energy)), 4),
        )
        for s, lab in zip(segs, labels, strict=True)
    ]


def _covered(vocals: Sequence[Segment], start_s: float, end_s: float) -> float:
    """Share of ``[start_s, end_s)`` covered by the vocal segments."""
    total = sum(max(0.0, min(end_s, v.end_s) - max(start_s, v.start_s)) for v in vocals)
    return total / max(1e-6, end_s - start_s)
