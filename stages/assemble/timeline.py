"""Frame arithmetic of the edit: where each shot and each transition lies on the frame grid.

A transition belongs to the shot it leads into (``Shot.transition_in``). Its length is
``beats`` beats at the plan's tempo, rounded to whole frames, and it is centred on the cut:
``before`` frames at the end of the outgoing shot and ``after`` frames at the start of the
incoming one, with ``after = before`` or ``before + 1``. The cut frame (the incoming shot's
first frame) never moves, so the total duration and the cut times on the beat grid stay as
planned. Each half is capped at half of its shot so two transitions never overlap. A
transition into the first shot has no outgoing shot: it opens from black (crossfade) or
white (flash) over its ``after`` frames (the whole length, capped at half the shot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mvdirector.schemas import ShotPlan


@dataclass(frozen=True)
class TransitionWindow:
    """A transition on the global frame grid, entering shot ``index`` at frame ``cut``."""

    index: int
    kind: str
    cut: int
    before: int
    after: int

    @property
    def start(self) -> int:
        """First frame of the window."""
        return self.cut - self.before

    @property
    def end(self) -> int:
        """One past the last frame of the window."""
        return self.cut + self.after

    @property
    def length(self) -> int:
        """Frames in the window."""
        return self.before + self.after


@dataclass(frozen=True)
class Run:
    """Consecutive shots ``first``..``last`` (inclusive) that are either stream-copied or re-encoded."""

    first: int
    last: int
    copy: bool


def shot_frame_ranges(plan: ShotPlan) -> list[tuple[int, int]]:
    """(first frame, one-past-last frame) of every shot on the plan's frame grid."""
    return [s.frame_range(plan.render.fps) for s in plan.shots]


def transition_length_frames(beats: float, bpm: float, fps: float) -> int:
    """Frames in a transition ``beats`` beats long at ``bpm`` (0 for 0 beats, else at least 2)."""
    if beats <= 0:
        return 0
    return max(2, int(round(beats * 60.0 / bpm * fps)))


def transition_windows(plan: ShotPlan) -> list[TransitionWindow]:
    """Every non-cut transition of the plan, clamped to fit its two shots, in plan order."""
    fps, bpm = plan.render.fps, plan.song.bpm
    ranges = shot_frame_ranges(plan)
    out: list[TransitionWindow] = []
    for i, shot in enumerate(plan.shots):
        tr = shot.transition_in
        n = transition_length_frames(tr.beats, bpm, fps) if tr.kind != "cut" else 0
        if n == 0:
            continue
        a, b = ranges[i]
        if i == 0:
            before, after = 0, min(n, (b - a) // 2)
        else:
            pa, pb = ranges[i - 1]
            before = min(n // 2, (pb - pa) // 2)
            after = min(n - n // 2, (b - a) // 2)
        if before + after == 0:
            continue
        out.append(TransitionWindow(index=i, kind=tr.kind, cut=a, before=before, after=after))
    return out


def runs(n_shots: int, reencode: set[int]) -> list[Run]:
    """Split shots 0..n-1 into maximal runs of copied and of re-encoded shots, in order."""
    out: list[Run] = []
    for i in range(n_shots):
        copy = i not in reencode
        if out and out[-1].copy == copy and out[-1].last == i - 1:
            out[-1] = Run(out[-1].first, i, copy)
        else:
            out.append(Run(i, i, copy))
    return out


def shots_touched(windows: list[TransitionWindow]) -> set[int]:
    """Indices of the shots whose frames a transition changes."""
    touched: set[int] = set()
    for w in windows:
        if w.after:
            touched.add(w.index)
        if w.before:
            touched.add(w.index - 1)
    return touched


def sample_frames(
    first: int, end: int, count: int, avoid: list[TransitionWindow], keyframes: Sequence[int] = ()
) -> list[int]:
    """Up to ``count`` evenly spaced frames of a shot [first, end), outside transitions where possible.

    Each pick moves to the nearest of ``keyframes`` within half the spacing, when there is one,
    so that reading it back decodes one frame instead of a run of them.
    """
    if end <= first or count <= 0:
        return []
    lo, hi = first, end
    for w in avoid:
        if w.start <= lo < w.end:
            lo = w.end
        if w.start < hi <= w.end:
            hi = w.start
    if hi <= lo:
        lo, hi = first, end
    n = hi - lo
    step = n / count
    inside = [k for k in keyframes if lo <= k < hi]
    picks = set()
    for j in range(count):
        p = min(hi - 1, lo + int((j + 0.5) * step))
        near = min(inside, key=lambda k: abs(k - p), default=None)
        picks.add(near if near is not None and abs(near - p) < step / 2 else p)
    return sorted(picks)


@dataclass(frozen=True)
class Piece:
    """Output frames ``[start, end)``: copied from shot ``shot``'s clip, or re-encoded when None."""

    start: int
    end: int
    shot: int | None = None

    @property
    def copy(self) -> bool:
        """True when the piece is joined without decoding."""
        return self.shot is not None


def edit_pieces(
    ranges: list[tuple[int, int]],
    windows: list[TransitionWindow],
    redo: set[int],
    resumes: list[tuple[int, ...]],
    cuts: list[tuple[int, ...]],
) -> list[Piece]:
    """Split the output into copied and re-encoded pieces, re-encoding as few frames as the clips allow.

    A shot in ``redo`` is re-encoded whole. Otherwise the frames its transitions change — the
    head ``[0, after)`` and the tail ``[n - before, n)`` — are re-encoded, and the part between
    the first resume point (an IDR picture) at or after the head and the last clean cut at or
    before the tail is copied; ``resumes[i]``/``cuts[i]`` are those shot-relative frame
    numbers from ``ClipIndex``. Consecutive re-encoded frames form one piece.
    """
    heads = {w.index: w.after for w in windows}
    tails = {w.index - 1: w.before for w in windows if w.before}
    pieces: list[Piece] = []
    cursor = 0
    for i, (a, b) in enumerate(ranges):
        if i in redo:
            continue
        n = b - a
        head, tail = heads.get(i, 0), tails.get(i, 0)
        k = next((r for r in resumes[i] if r >= head), None)
        m = max((c for c in cuts[i] if c <= n - tail), default=None)
        if k is None or m is None or k >= m:
            continue
        if a + k > cursor:
            pieces.append(Piece(cursor, a + k))
        pieces.append(Piece(a + k, a + m, i))
        cursor = a + m
    total = ranges[-1][1] if ranges else 0
    if cursor < total:
        pieces.append(Piece(cursor, total))
    return pieces
