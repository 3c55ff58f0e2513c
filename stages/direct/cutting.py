"""Where the cuts go: sections tiled over the song, boundaries on beats, cuts chosen by dynamic programming.

Every cut lies on a beat of the analysis (snapped to the frame grid); every section
boundary is a cut. Inside a section the cut points minimise a cost that prefers downbeats,
shot lengths near an energy- and tempo-scaled target within the template's beat range and
the style's seconds range, avoids cutting inside a sung word and rewards starting a shot
where a lyric line starts. A seeded jitter on the target lengths makes another seed give
another plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvdirector.rules import frame_index, snap_to_grid
from mvdirector.schemas import AudioAnalysis

# Costs, in "units" where a perfect shot costs 0. Seconds outside the style's range are the
# most expensive, then a cut inside a sung word, then beats outside the template's range.
W_SECONDS = 30.0  # per second outside shot_s
W_WORD = 20.0  # a cut inside a sung word
W_BEATS = 2.0  # per beat outside cut_beats, up to SOFT_BAND of the range
W_BEATS_HARD = 12.0  # per beat further out
SOFT_BAND = 0.5  # a shot may run this share past cut_beats (or fall 1/3 short) to avoid cutting a word
W_TARGET = 2.0  # squared relative distance to the target length
W_LINE = 3.0  # bonus for cutting where a lyric line starts
W_ECHO = 1.5  # bonus for cutting a repeated section where its first occurrence was cut
POSITION_COST = {"downbeat": 0.0, "half_bar": 1.0, "beat": 2.0}
WORD_EDGE_S = 0.03  # a cut this close to a word's edge is not inside it
ASR_EDGE_S = 0.12  # recognised word edges are this uncertain
BEAT_TOLERANCE = 0.25  # beats of slack on the template range (beat trackers jitter)


@dataclass(frozen=True)
class SectionSpan:
    """A section as planned: start/end on the frame grid, label, repeat group, energy, occurrence."""

    start_s: float
    end_s: float
    label: str
    group: int
    energy: float
    occurrence: int  # 1 for the first verse, 2 for the second, ...


@dataclass(frozen=True)
class BeatGrid:
    """Beat times (frame-snapped, unique) with their positions in the bar."""

    times: np.ndarray
    positions: np.ndarray
    beats_per_bar: int
    period_s: float

    def kind(self, i: int) -> str:
        """'downbeat', 'half_bar' or 'beat' for beat ``i``."""
        p = int(self.positions[i])
        if p == 1:
            return "downbeat"
        if self.beats_per_bar % 2 == 0 and self.beats_per_bar >= 4 and p == self.beats_per_bar // 2 + 1:
            return "half_bar"
        return "beat"


@dataclass(frozen=True)
class CutRules:
    """Lengths a section's shots should have: beats (already tempo-scaled) and seconds."""

    min_beats: float
    max_beats: float
    min_s: float
    max_s: float
    accelerate: float = 0.0  # 0..1: the target length slides toward min_beats across the section



def beat_grid(analysis: AudioAnalysis, fps: float) -> BeatGrid:
    """The analysis' beats on the frame grid; a grid from ``bpm`` when it has fewer than two beats."""
    bpb = analysis.beats_per_bar
    dur = analysis.source.duration_s
    if len(analysis.beats) >= 2:
        t = np.array([b.t_s for b in analysis.beats], dtype=np.float64)
        pos = np.array([b.position for b in analysis.beats], dtype=np.int64)
        period = float(np.median(np.diff(t)))
    else:
        period = 60.0 / analysis.bpm
        t = np.arange(0.0, dur, period)
        pos = (np.arange(len(t)) % bpb) + 1
    frames = np.round(t * fps).astype(np.int64)
    end_frame = frame_index(dur, fps)
    keep = (frames > 0) & (frames < end_frame)
    frames, pos = frames[keep], pos[keep]
    _, first = np.unique(frames, return_index=True)
    return BeatGrid(frames[first] / fps, pos[first], bpb, max(period, 1e-3))


def plan_sections(analysis: AudioAnalysis, grid: BeatGrid, fps: float, min_s: float) -> list[SectionSpan]:
    """Sections tiling [0, song end] with inner boundaries moved onto beats (downbeats preferred).

    Gaps between the analysis' sections are given to the section before them; sections
    that would be shorter than ``min_s`` (or than one beat) are merged into a neighbour.
    """
    end = snap_to_grid(analysis.source.duration_s, fps)
    raw = sorted(analysis.sections, key=lambda s: s.start_s)
    if not raw:
        return [SectionSpan(0.0, end, "verse", 0, 0.5, 1)]
    bounds = [0.0] + [_snap_boundary(s.start_s, grid) for s in raw[1:]] + [end]
    spans: list[tuple[float, float, int]] = []  # start, end, index into raw
    for i in range(len(raw)):
        a, b = bounds[i], bounds[i + 1]
        if spans and a < spans[-1][1]:
            a = spans[-1][1]
        if b - a < max(min_s, grid.period_s) - 1e-9 and spans:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b), spans[-1][2])
            continue
        if b > a:
            spans.append((a, b, i))
    if len(spans) > 1 and spans[0][1] - spans[0][0] < min_s:
        spans[1] = (spans[0][0], spans[1][1], spans[1][2])
        spans.pop(0)
    spans[-1] = (spans[-1][0], end, spans[-1][2])
    counts: dict[str, int] = {}
    out = []
    for a, b, i in spans:
        s = raw[i]
        counts[s.label] = counts.get(s.label, 0) + 1
        out.append(SectionSpan(snap_to_grid(a, fps), snap_to_grid(b, fps), s.label, s.group, s.energy, counts[s.label]))
    return out


def _snap_boundary(t: float, grid: BeatGrid) -> float:
    """The beat nearest ``t``, a downbeat when one lies within half a beat of the nearest beat."""
    if len(grid.times) == 0:
        return t
    d = np.abs(grid.times - t)
    i = int(np.argmin(d))
    down = np.where(grid.positions == 1)[0]
    if len(down):
        j = int(down[np.argmin(d[down])])
        if d[j] <= d[i] + 0.5 * grid.period_s:
            i = j
    return float(grid.times[i])


def word_spans(analysis: AudioAnalysis) -> np.ndarray:
    """(N, 3) start, end and recognition confidence of every sung word.

    Recognised (ASR) word boundaries are loose by a tenth of a second or so, so they are
    trimmed by ``ASR_EDGE_S`` at both ends: a cut that close to a recognised edge is not
    taken to be inside the word.
    """
    trim = ASR_EDGE_S if analysis.lyrics.source == "asr" else 0.0
    spans = [
        (w.start_s + trim, w.end_s - trim, w.confidence)
        for line in analysis.lyrics.lines
        for w in line.words
        if w.end_s - w.start_s > 2 * trim
    ]
    return np.array(spans, dtype=np.float64).reshape(-1, 3)


def word_weight(t: float, words: np.ndarray) -> float:
    """Confidence (0..1) of the word a cut at ``t`` falls inside (not at its edges); 0 when none.

    Given lyrics have confidence 1; recognised words weigh what the recogniser trusted them.
    """
    if len(words) == 0:
        return 0.0
    inside = (words[:, 0] + WORD_EDGE_S < t) & (t < words[:, 1] - WORD_EDGE_S)
    return float(words[inside, 2].max()) if inside.any() else 0.0


def line_starts(analysis: AudioAnalysis) -> np.ndarray:
    """Start time of every lyric line (its first word when it has words)."""
    out = []
    for line in analysis.lyrics.lines:
        out.append(line.words[0].start_s if line.words else line.start_s)
    return np.array(sorted(out), dtype=np.float64)


def line_anchor_beats(grid: BeatGrid, starts: np.ndarray) -> set[int]:
    """Indices of the beats that best start each lyric line: nearest within ¾ beat before to ¼ after."""
    anchors: set[int] = set()
    for ls in starts:
        lo, hi = ls - 0.75 * grid.period_s, ls + 0.25 * grid.period_s
        idx = np.where((grid.times >= lo) & (grid.times <= hi))[0]
        if len(idx):
            anchors.add(int(idx[np.argmin(np.abs(grid.times[idx] - ls))]))
    return anchors


def _range_cost(beats: float, rules: CutRules) -> float:
    """Cost of a shot ``beats`` long against the beat range: mild within the soft band, steep beyond."""
    over = max(0.0, beats - rules.max_beats - BEAT_TOLERANCE)
    under = max(0.0, rules.min_beats - BEAT_TOLERANCE - beats)
    band_over, band_under = SOFT_BAND * rules.max_beats, rules.min_beats / 3
    return W_BEATS * (min(over, band_over) + min(under, band_under)) + W_BEATS_HARD * (
        max(0.0, over - band_over) + max(0.0, under - band_under)
    )


def choose_cuts(
    span: SectionSpan,
    grid: BeatGrid,
    rules: CutRules,
    energy_at: np.ndarray,
    words: np.ndarray,
    anchors: set[int],
    rng: np.random.Generator,
    line_bonus: float = W_LINE,
    echo: set[int] | None = None,
) -> list[float]:
    """Cut times strictly inside ``span`` (on beats) that minimise the cutting cost.

    ``energy_at`` holds the energy (0..1) at each beat of ``grid``; high energy shortens the
    target length toward ``rules.min_beats``. ``echo`` holds cut offsets (in beats from the
    section start) of the section's first occurrence, which a repeat is nudged to reuse.
    """
    inner = np.where((grid.times > span.start_s + 1e-9) & (grid.times < span.end_s - 1e-9))[0]
    times = np.concatenate([[span.start_s], grid.times[inner], [span.end_s]])
    n = len(times) - 1
    if n <= 1:
        return []
    # per-candidate cut cost (internal candidates 1..n-1)
    cut_cost = np.zeros(n + 1)
    for k, gi in enumerate(inner, start=1):
        c = POSITION_COST[grid.kind(int(gi))]
        c += W_WORD * word_weight(float(times[k]), words)
        if int(gi) in anchors:
            c -= line_bonus
        if echo and int(round((times[k] - span.start_s) / grid.period_s)) in echo:
            c -= W_ECHO
        cut_cost[k] = c
    # per-start target length in beats: energy picks the point in the range, seeded jitter varies it
    e_start = np.empty(n)
    e_start[0] = span.energy
    e_start[1:] = energy_at[inner] if len(inner) else span.energy
    e = 0.5 * span.energy + 0.5 * e_start
    if rules.accelerate > 0:  # a build-up: cuts come faster toward the section's end
        progress = (times[:-1] - span.start_s) / max(1e-9, span.end_s - span.start_s)
        e = (1.0 - rules.accelerate) * e + rules.accelerate * progress
    target = rules.max_beats - (rules.max_beats - rules.min_beats) * e
    target = np.clip(target * np.exp(rng.normal(0.0, 0.2, n)), rules.min_beats, rules.max_beats)
    period = grid.period_s
    window = int(np.ceil(max(rules.max_beats * 2, rules.max_s * 1.5 / period))) + 2
    best = np.full(n + 1, np.inf)
    prev = np.zeros(n + 1, dtype=np.int64)
    best[0] = 0.0
    for j in range(1, n + 1):
        for i in range(max(0, j - window), j):
            if not np.isfinite(best[i]):
                continue
            d = times[j] - times[i]
            beats = d / period
            c = best[i] + (cut_cost[j] if j < n else 0.0)
            c += W_SECONDS * (max(0.0, rules.min_s - d) + max(0.0, d - rules.max_s))
            c += _range_cost(beats, rules)
            c += W_TARGET * min(2.0, ((beats - target[i]) / target[i]) ** 2)
            if c < best[j]:
                best[j], prev[j] = c, i
    cuts = []
    j = n
    while j > 0:
        j = int(prev[j])
        if j > 0:
            cuts.append(float(times[j]))
    return sorted(cuts)
