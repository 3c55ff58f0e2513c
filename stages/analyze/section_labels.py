"""Section labels from repetition groups, position, energy and singing.

Sung music (a voice over a meaningful share of the song) gets pop labels:

- leading unsung sections are the intro, trailing unsung ones the outro (a quiet unrepeated
  last section too) unless they restate a verse or chorus, whose label they then take;
- the chorus is the repeated sung group that is loudest, most stated and not the one the
  singing opens with; when a
  single sung group repeats and it is no louder than the rest (AABA), it is the verse and
  the contrasting middle a bridge;
- a repeated group whose statements lead straight into the chorus is the pre-chorus, the
  most repeated remaining sung group the verse;
- an unrepeated sung section right before a chorus that follows a verse is a pre-chorus,
  one after the first chorus or between two verses a bridge, one before it a verse; unsung
  inner sections are instrumental.

Music without a voice, or sung but hardly repeating (through-composed), gets ``part``
for every section: the group id names the part (0 = A, 1 = B, …), so the same material
returning is visible without calling anything a chorus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import Segment

SUNG = 0.25  # a section is sung when vocals cover at least this share of it
MIN_WORDS_PER_SUNG_S = 0.1  # fewer ASR words than this per second of "singing": not a voice


@dataclass(frozen=True)
class SegmentInfo:
    """A candidate section: unit range, times, group, mean energy and sung share."""

    bar0: int
    bar1: int
    start_s: float
    end_s: float
    group: int
    energy: float
    vocal: float


def sung_share(vocals: Sequence[Segment], duration_s: float) -> float:
    """Share of the song covered by vocal activity."""
    return sum(v.end_s - v.start_s for v in vocals) / max(1e-6, duration_s)


def voiced(vocals: Sequence[Segment], asr_words: int | None) -> list[Segment]:
    """The vocal segments, or none when speech recognition ran and heard (almost) no words in them.

    The voice detector alone also fires on busy instrumental melodies (piano, strings);
    Whisper — even an English-only model on a foreign language — emits words for a real
    voice and next to none for an instrumental.
    """
    sung_s = sum(v.end_s - v.start_s for v in vocals)
    if asr_words is not None and sung_s > 5.0 and asr_words < MIN_WORDS_PER_SUNG_S * sung_s:
        return []
    return list(vocals)


def part_letter(group: int) -> str:
    """The letter naming a part: A, B, …, Z, then A2, B2, …"""
    return chr(ord("A") + group % 26) + (str(group // 26 + 1) if group >= 26 else "")


def label_segments(segs: list[SegmentInfo], part_mode: bool = False) -> list[str]:
    """Labels for grouped segments (see the module docstring)."""
    n = len(segs)
    if n == 0:
        return []
    if part_mode:
        return ["part"] * n
    sung = [s.vocal >= SUNG for s in segs]
    labels = [""] * n
    i = 0
    while i < n - 1 and not sung[i]:
        labels[i] = "intro"
        i += 1
    j = n - 1
    while j > i and not sung[j]:
        labels[j] = "outro"
        j -= 1
    by_group: dict[int, list[int]] = {}
    for k in range(i, j + 1):
        if sung[k]:
            by_group.setdefault(segs[k].group, []).append(k)
    energy = {g: float(np.mean([segs[k].energy for k in idx])) for g, idx in by_group.items()}
    sung_e = float(np.mean([segs[k].energy for k in range(n) if sung[k]] or [0.0]))
    repeated = [g for g, idx in by_group.items() if len(idx) >= 2]
    chorus = _chorus(repeated, by_group, energy, sung_e, segs, i)
    if chorus is not None:
        for k in by_group[chorus]:
            labels[k] = "chorus"
    first_chorus = min(by_group[chorus]) if chorus is not None else n
    rest = [g for g in repeated if g != chorus]
    pre = [g for g in rest if chorus is not None and _leads_into(by_group[g], chorus, segs, rest)]
    for g in pre:
        for k in by_group[g]:
            labels[k] = "pre_chorus"
    others = [g for g in rest if g not in pre]
    for g in others:
        for k in by_group[g]:
            labels[k] = "verse"
    named = {segs[k].group: labels[k] for k in range(n) if sung[k] and labels[k] in ("verse", "chorus")}
    for k in range(j + 1, n):  # an unsung ending that restates a verse or chorus is that section, played
        labels[k] = named.get(segs[k].group, labels[k])
    for k in range(n):
        if labels[k]:
            continue
        if not sung[k]:
            labels[k] = "instrumental"
        elif k == n - 1 and segs[k].energy < 0.5:
            labels[k] = "outro"
        elif chorus is not None and k + 1 < n and segs[k + 1].group == chorus and k > 0 and labels[k - 1] == "verse":
            labels[k] = "pre_chorus"
        elif k > first_chorus or _between_statements(k, others, by_group):
            labels[k] = "bridge"
        else:
            labels[k] = "verse"
    return labels


def _statements(idx: list[int]) -> int:
    """How many times a group is stated: runs of adjacent sections count once."""
    return sum(1 for k, i in enumerate(idx) if k == 0 or idx[k - 1] != i - 1)


def _chorus(
    repeated: list[int],
    by_group: dict[int, list[int]],
    energy: dict[int, float],
    sung_e: float,
    segs: list[SegmentInfo],
    first_sung: int,
) -> int | None:
    """The chorus group, or None (AABA forms, songs without repeats and without a louder climax).

    Among repeated sung groups: louder, more often stated, and not the one the singing opens
    with (songs open on a verse far more often than on a chorus).
    """
    if repeated:
        opener = segs[min(min(by_group[g]) for g in repeated)].group

        def score(g: int) -> float:
            return 4.0 * (energy[g] - sung_e) + 0.5 * _statements(by_group[g]) + 0.6 * (g != opener)

        best = max(repeated, key=lambda g: (score(g), -min(by_group[g])))
        others = [k for g, idx in by_group.items() if g != best for k in idx]
        if len(repeated) > 1 or not others:
            return best
        other_e = float(np.mean([segs[k].energy for k in others]))
        return best if energy[best] > other_e + 0.04 else None
    candidates = [idx[0] for idx in by_group.values() if idx[0] > first_sung]
    if not candidates:
        return None
    k = max(candidates, key=lambda k: segs[k].energy)
    return segs[k].group if segs[k].energy > sung_e + 0.05 else None


def _between_statements(k: int, groups: list[int], by_group: dict[int, list[int]]) -> bool:
    """Whether section ``k`` sits between two statements of one of ``groups`` (the B of A A B A)."""
    return any(min(by_group[g]) < k < max(by_group[g]) for g in groups)


def _leads_into(idx: list[int], chorus: int, segs: list[SegmentInfo], verse_like: list[int]) -> bool:
    """Whether most statements of a group sit between another repeated group (a verse) and the chorus."""
    n = len(segs)
    hits = sum(
        1
        for k in idx
        if 0 < k < n - 1
        and segs[k + 1].group == chorus
        and segs[k - 1].group in verse_like
        and segs[k - 1].group != segs[k].group
    )
    return hits >= max(1, int(np.ceil(0.6 * len(idx))))
