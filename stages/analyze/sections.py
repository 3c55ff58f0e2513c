"""Song structure: section boundaries, repetition groups and labels.

1. Beat-synchronous features per bar (`section_features`): tuned chroma per beat, MFCC
   timbre and loudness, a beat-relative tempogram, vocal coverage.
2. Boundaries (`section_similarity`): a checkerboard novelty on a timbre + rhythm + harmony
   self-similarity (Foote 2000) plus a structure-feature novelty from a transposition-invariant
   recurrence plot (Serrà et al. 2012), plus, in sung music, where singing starts or stops.
   Peaks are taken strongest first, on a 4-bar phrase grid when it fits, at least a minimum
   length apart. That length and the kernel width grow with the song: pop sections stay at
   phrase length, a long instrumental piece is cut into a handful of long parts.
3. Repeats: segments are compared under all 12 chroma shifts (a chorus a tone up is still
   the chorus) with harmony weighted 3:1 over timbre (a re-orchestrated repeat still counts),
   scored against the song's own similarity spread and grouped by average linkage; a segment
   restated alone inside a longer one splits it, and a loop played twice in a row is one
   section unless the key changes.
4. Labels (`section_labels`): sung music gets intro/verse/pre_chorus/chorus/bridge/
   instrumental/outro from repetition, position, energy and singing; music without a voice,
   or sung with under half its length repeated, is re-cut with the long-piece minimum and gets
   ``part`` labels whose group id is the letter (part A, B, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Section, Segment

from . import section_similarity as sim
from .energy import Loudness
from .section_features import UnitFeatures, bar_grid, frame_features, unit_features
from .section_labels import SegmentInfo, label_segments, sung_share, voiced

PROVENANCE = (
    "beat-synchronous chroma, MFCC and tempogram per bar; checkerboard + structure-feature novelty; "
    "transposition-invariant repeat groups; labels from repeats, position, energy and singing (part A/B/… otherwise)"
)
__all__ = ["PROVENANCE", "SegmentInfo", "Structure", "bar_grid", "find_sections", "label_segments", "pick_boundaries"]

REPEAT_PATH_UNITS = 3  # diagonal smoothing of the repetition matrix (units, centred): a repeat is a run of bars
REPEAT_NEIGHBOURS = 0.15  # share of units kept as each unit's nearest repeats
STRUCTURE_SIGMA_UNITS = 1.5  # time smoothing of the structure features
FINE_HALF_UNITS = 4  # kernel half-width that places boundaries found with a wider one
RELATIVE_REPEAT = 0.7  # ... or this share of the two segments' own (self-match) scores
REPEAT_THRESH = 0.75  # RepeatScore above which two segments are the same material
KEY_CHANGE_MARGIN = 0.02  # a transposed match this much above the untransposed one is a key change
SHIFTED_Z_PENALTY = 0.3  # standard deviations a transposed segment match gives up against an untransposed one
RHYTHM_WEIGHT = 0.25  # of the rhythm (tempogram) novelty against the timbre novelty
STRUCTURE_WEIGHT = 0.5  # of the structure-feature novelty against the homogeneity novelty
PART_MIN_S = 10.0  # parts of music without verse/chorus form are at least this long
SONG_MIN_S = 6.0  # inner sections of a song are at least this long (a 4-bar phrase at 160 bpm)
SONG_REPEATED_SHARE = 0.5  # a sung piece with less of its length in repeated sections is through-composed
SUNG_MIN_SHARE = 0.2  # a song sung over less than this share of its length is treated as instrumental


@dataclass(frozen=True)
class Structure:
    """Intermediate results of `find_sections` (for plots and benchmarks)."""

    features: UnitFeatures
    novelty: np.ndarray
    cuts: list[int]
    groups: list[int]
    part_mode: bool


def phrase_prior(nov: np.ndarray, period: int = 4) -> np.ndarray:
    """Novelty reweighted towards the 4-unit phrase grid whose phase collects the most novelty.

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


def pick_boundaries(
    nov: np.ndarray,
    grid: np.ndarray,
    min_len_s: float,
    edge_len_s: float | None = None,
    min_units: int = 4,
    edge_units: int = 2,
    rel: float = 0.0,
) -> list[int]:
    """Unit indices of section starts (0 and len excluded): novelty peaks, strongest first, spaced apart.

    A peak counts when it exceeds mean + ``rel``·std of the inner novelty and a fifth of the
    strongest peak. Inner sections keep at least ``min_units`` units and ``min_len_s``
    seconds; a first or last section (intros and tags are short) ``edge_units`` and
    ``edge_len_s`` (default ``min_len_s``).
    """
    edge_len_s = min_len_s if edge_len_s is None else edge_len_s
    n = len(nov) - 1
    if n < 2 * edge_units:
        return []

    def fits(lo: int, hi: int) -> bool:
        edge = lo == 0 or hi == n
        return hi - lo >= (edge_units if edge else min_units) and grid[hi] - grid[lo] >= (
            edge_len_s if edge else min_len_s
        )

    peaks = [i for i in range(1, n) if nov[i] > 0 and nov[i] >= nov[i - 1] and nov[i] >= nov[i + 1]]
    peaks = [i for i in peaks if fits(0, i) and fits(i, n)]
    if not peaks:
        return []
    vals = nov[peaks]
    inner = nov[1:n]
    thresh = max(float(np.mean(inner) + rel * np.std(inner)), 0.2 * float(vals.max()))
    chosen: list[int] = []
    for i in [p for _, p in sorted(zip(-vals, peaks, strict=True))]:
        if nov[i] < thresh:
            break
        cand = sorted([0, n, *chosen, i])
        k = cand.index(i)
        if fits(cand[k - 1], i) and fits(i, cand[k + 1]):
            chosen.append(i)
    return sorted(chosen)


def refine_boundaries(
    cuts: list[int], fine: np.ndarray, grid: np.ndarray, min_len_s: float, reach: int = 2
) -> list[int]:
    """Move each boundary to the strongest fine-scale novelty within ``reach`` units, unless that
    brings it closer than ``min_len_s`` to its neighbours (half that to the song's ends)."""
    n = len(grid) - 1
    out: list[int] = []
    for k, c in enumerate(cuts):
        prev = out[-1] if out else 0
        nxt = cuts[k + 1] if k + 1 < len(cuts) else n
        lo, hi = max(prev + 1, c - reach), min(nxt - 1, c + reach)
        best = lo + int(np.argmax(fine[lo : hi + 1])) if hi >= lo else c
        ok = grid[best] - grid[prev] >= min_len_s * (1.0 if prev else 0.5) and (
            grid[nxt] - grid[best] >= min_len_s * (1.0 if nxt < n else 0.5)
        )
        out.append(best if ok else c)
    return out


def _unit_norm(x: np.ndarray) -> np.ndarray:
    top = float(np.max(x[1:-1])) if len(x) > 2 else 0.0
    return x / top if top > 0 else x


def singing_change(vocal: np.ndarray, bridge: int = 1, window: int = 4) -> np.ndarray:
    """0..1 before each unit: how much the sung share of the next ``window`` units differs from the last ones.

    Gaps of up to ``2·bridge`` units between sung phrases are bridged first, so breaths and
    line breaks inside a verse do not count; changes below 0.3 are ignored.
    """
    import scipy.ndimage

    v = scipy.ndimage.maximum_filter1d(vocal, size=2 * bridge + 1, mode="nearest")
    v = scipy.ndimage.minimum_filter1d(v, size=2 * bridge + 1, mode="nearest")
    out = np.zeros(len(v))
    for i in range(1, len(v)):
        out[i] = abs(v[i : i + window].mean() - v[max(0, i - window) : i].mean())
    return np.clip(out - 0.3, 0.0, None) / 0.7


def combined_novelty(f: UnitFeatures, shifted: np.ndarray, half: int, sung: bool) -> np.ndarray:
    """Homogeneity novelty (timbre, ½ harmony, ¼ rhythm) + structure-feature novelty (+ 0.6 ×
    singing on/off in sung music), each max-normalised; weights chosen on the fixtures' oracle-count F."""
    s_t, s_r = sim.rbf_similarity(f.timbre), sim.rbf_similarity(f.rhythm)
    homog = sim.novelty(s_t, half) + 0.5 * sim.novelty(shifted[0], half) + RHYTHM_WEIGHT * sim.novelty(s_r, half)
    rep, _ = sim.repetition(shifted, REPEAT_PATH_UNITS)
    k = max(3, int(round(REPEAT_NEIGHBOURS * f.n)))
    struct = sim.structure_novelty(sim.recurrence(rep, k), sigma=STRUCTURE_SIGMA_UNITS)
    nov = _unit_norm(homog) + STRUCTURE_WEIGHT * _unit_norm(struct)
    if sung:
        nov[: f.n] += 0.6 * singing_change(f.vocal)
    nov[0] = nov[-1] = 0.0
    return nov


class RepeatScore:
    """Repeat score of two unit ranges: 0.75·z(chroma) + 0.25·z(timbre).

    z(chroma) is how many standard deviations the best chroma match over the 12
    transpositions (a transposed one losing ``SHIFTED_Z_PENALTY``) lies above the song's
    bar-to-bar chroma similarity (best key); z(timbre) the same for the mean timbre
    similarity of the aligned units. Both are relative to the song itself, so a live
    recording's looser repeats and a sequenced song's exact ones are judged alike.
    """

    def __init__(self, shifted: np.ndarray, timbre_ssm: np.ndarray) -> None:
        n = shifted.shape[1]
        far = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) >= 2
        best, tim = shifted.max(axis=0)[far], timbre_ssm[far]
        self.shifted, self.timbre = shifted, timbre_ssm
        self.mu_c, self.sd_c = (float(best.mean()), float(best.std()) + 1e-3) if best.size > 1 else (0.5, 0.1)
        self.mu_t, self.sd_t = (float(tim.mean()), float(tim.std()) + 1e-3) if tim.size > 1 else (0.5, 0.1)

    def __call__(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[float, int]:
        """Score, and where the shorter range sits inside the longer (units from its start)."""
        values, slides = sim.segment_match(self.shifted, a, b)
        z_c = (values - self.mu_c) / self.sd_c
        z_c[1:] -= SHIFTED_Z_PENALTY
        s = int(np.argmax(z_c))
        short, long_ = (a, b) if a[1] - a[0] <= b[1] - b[0] else (b, a)
        off = int(slides[s])
        lo = long_[0] + off
        t = float(self.timbre[short[0] : short[1], lo : lo + short[1] - short[0]].mean())
        return 0.75 * float(z_c[s]) + 0.25 * (t - self.mu_t) / self.sd_t, off


def split_by_repeats(edges: list[int], score: RepeatScore, min_units: int, thresh: float) -> list[int]:
    """Add boundaries where a section restates a shorter one inside it (verse and chorus heard as one
    block the first time are told apart by the verse coming back alone), leaving ``min_units`` each side."""
    bounds = list(zip(edges[:-1], edges[1:], strict=True))
    new = set(edges)
    for a in bounds:
        for b in bounds:
            la, lb = a[1] - a[0], b[1] - b[0]
            if a == b or lb < la + min_units:
                continue
            s, off = score(a, b)
            if s < thresh:
                continue
            for cut in (b[0] + off, b[0] + off + la):
                if cut - b[0] >= min_units and b[1] - cut >= min_units:
                    new.add(cut)
    return sorted(new)


def group_segments(score: RepeatScore, bounds: list[tuple[int, int]], thresh: float = REPEAT_THRESH) -> list[int]:
    """Group ids (0, 1, … by first appearance) tying segments that repeat each other: average-linkage
    clustering that merges the two closest groups while their mean pairwise score exceeds ``thresh``.

    A pair's score is its `RepeatScore`, or, when higher, that score as a share of the two segments'
    self-match scores (``RELATIVE_REPEAT`` of it counts as ``thresh``): in a song whose sections all
    sound alike even a perfect repeat stands few deviations above the rest.
    """
    n_seg = len(bounds)
    pair = np.zeros((n_seg, n_seg))
    own = [max(score(b, b)[0], 1e-3) for b in bounds]
    for i in range(n_seg):
        for j in range(i + 1, n_seg):
            raw = score(bounds[i], bounds[j])[0]
            relative = raw / np.sqrt(own[i] * own[j]) * thresh / RELATIVE_REPEAT if RELATIVE_REPEAT else -np.inf
            pair[i, j] = pair[j, i] = max(raw, relative)
    clusters = [[i] for i in range(n_seg)]
    while len(clusters) > 1:
        best, bi, bj = -np.inf, -1, -1
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                link = float(pair[np.ix_(clusters[i], clusters[j])].mean())
                if link > best:
                    best, bi, bj = link, i, j
        if best <= thresh:
            break
        clusters[bi] += clusters.pop(bj)
    member = {i: k for k, c in enumerate(clusters) for i in c}
    order: dict[int, int] = {}
    return [order.setdefault(member[i], len(order)) for i in range(n_seg)]


def merge_restatements(cuts: list[int], groups: list[int], shifted: np.ndarray, n: int) -> tuple[list[int], list[int]]:
    """Join neighbouring segments of the same group (a loop played twice is one section), unless
    the second is a transposition of the first (a chorus repeated a key up stays apart)."""
    edges = [0, *cuts, n]
    keep_cuts: list[int] = []
    keep_groups = [groups[0]]
    for k in range(1, len(groups)):
        a, b = (edges[k - 1], edges[k]), (edges[k], edges[k + 1])
        match, _ = sim.segment_match(shifted, a, b)
        if groups[k] == keep_groups[-1] and match[0] >= match[1:].max() - KEY_CHANGE_MARGIN:
            continue
        keep_cuts.append(edges[k])
        keep_groups.append(groups[k])
    order: dict[int, int] = {}
    return keep_cuts, [order.setdefault(g, len(order)) for g in keep_groups]


def analyse_structure(
    y: np.ndarray,
    sr: int,
    beats: Sequence[float],
    downbeats: Sequence[float],
    meter: int,
    duration_s: float,
    vocals: Sequence[Segment],
    min_section_s: float,
) -> Structure:
    """Boundaries and repeat groups of a song (see the module docstring)."""
    grid = bar_grid(downbeats, duration_s)
    f = unit_features(frame_features(y, sr), sr, grid, beats, meter, vocals)
    if f.n < 4:
        return Structure(f, np.zeros(f.n + 1), [], [0], part_mode=sung_share(vocals, duration_s) < SUNG_MIN_SHARE)
    unit_s = float(np.median(np.diff(f.grid)))
    sung = sung_share(vocals, duration_s) >= SUNG_MIN_SHARE
    shifted = sim.shifted_chroma_similarity(f.chroma)
    score = RepeatScore(shifted, sim.rbf_similarity(f.timbre))

    def segment(min_len_s: float, edge_len_s: float) -> tuple[np.ndarray, list[int], list[int]]:
        half = int(np.clip(round(max(8.0, min_len_s) / unit_s), 2, 16))
        nov = phrase_prior(combined_novelty(f, shifted, half, sung))
        cuts = pick_boundaries(nov, f.grid, min_len_s, edge_len_s)
        if half > FINE_HALF_UNITS:  # a wide kernel finds the long sections, a narrow one places their edges
            cuts = refine_boundaries(cuts, combined_novelty(f, shifted, FINE_HALF_UNITS, sung), f.grid, min_len_s)
        min_units = max(4, int(np.ceil(min_len_s / unit_s)))
        edges = split_by_repeats([0, *cuts, f.n], score, min_units, REPEAT_THRESH)
        groups = group_segments(score, list(zip(edges[:-1], edges[1:], strict=True)), REPEAT_THRESH)
        return (nov, *merge_restatements(edges[1:-1], groups, shifted, f.n))

    if sung:
        nov, cuts, groups = segment(max(min_section_s, SONG_MIN_S, duration_s / 36.0), min_section_s)
        repeated = sum(
            f.grid[b] - f.grid[a]
            for (a, b), g in zip(zip([0, *cuts], [*cuts, f.n], strict=True), groups, strict=True)
            if groups.count(g) > 1
        )
        if len(cuts) < 4 or repeated >= SONG_REPEATED_SHARE * duration_s:
            return Structure(f, nov, cuts, groups, part_mode=False)
    part_min = max(min_section_s, PART_MIN_S, duration_s / 12.0)
    nov, cuts, groups = segment(part_min, part_min / 2)
    return Structure(f, nov, cuts, groups, part_mode=True)


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
    beats: Sequence[float] = (),
    meter: int = 4,
    asr_words: int | None = None,
) -> list[Section]:
    """Sections tiling the song from 0 to ``duration_s``, boundaries on downbeats.

    ``beats`` and ``meter`` place the beat slots inside each bar; ``asr_words`` (how many words
    speech recognition heard, None when it did not run) vetoes vocal activity that is no voice.
    """
    del loud  # loudness enters through the features' own log-mel energy
    vocals = voiced(vocals, asr_words)
    st = analyse_structure(y, sr, beats, downbeats, meter, duration_s, vocals, min_section_s)
    grid = st.features.grid
    edges = [0, *st.cuts, st.features.n]
    segs: list[SegmentInfo] = []
    for (u0, u1), g in zip(zip(edges[:-1], edges[1:], strict=True), st.groups, strict=True):
        s0, s1 = float(grid[u0]), float(grid[u1])
        a, b = int(s0 * energy_fps), max(int(s0 * energy_fps) + 1, int(s1 * energy_fps))
        e = float(np.mean(energy_values[a:b])) if energy_values[a:b].size else 0.0
        segs.append(SegmentInfo(u0, u1, s0, s1, g, e, float(st.features.vocal[u0:u1].mean())))
    labels = label_segments(segs, part_mode=st.part_mode)
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
