"""Song analyses with exactly known beats, sections and sung words, for tests, benchmarks and demos.

No audio is involved: ``synthetic_analysis`` writes the ``AudioAnalysis`` a perfect analyzer
would return for a song of the given structure, so a director can be measured against
ground truth (cuts on beats, inside words, at line starts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricLine,
    Lyrics,
    Section,
    Segment,
    Word,
)

POP_STRUCTURE: tuple[tuple[str, int], ...] = (
    ("intro", 4),
    ("verse", 8),
    ("pre_chorus", 4),
    ("chorus", 8),
    ("verse", 8),
    ("chorus", 8),
    ("bridge", 4),
    ("chorus", 8),
    ("outro", 4),
)
SECTION_ENERGY = {
    "intro": 0.25,
    "verse": 0.45,
    "pre_chorus": 0.6,
    "chorus": 0.85,
    "bridge": 0.4,
    "instrumental": 0.7,
    "outro": 0.3,
}
_SUNG = {"verse", "pre_chorus", "chorus", "bridge"}
_WORDS = "light falls over the city we run through the night and never look back again".split()


def synthetic_analysis(
    bpm: float = 120.0,
    beats_per_bar: int = 4,
    structure: Sequence[tuple[str, int]] = POP_STRUCTURE,
    lead_in_s: float = 0.3,
    tail_s: float = 1.2,
    jitter_s: float = 0.0,
    seed: int = 0,
) -> AudioAnalysis:
    """An analysis for a song of ``structure`` (label, bars) at ``bpm``, with lyrics in sung sections.

    Sung sections get a lyric line every two bars starting a little after the downbeat
    (words straddle beats, so a careless cut lands inside one). ``jitter_s`` adds seeded
    timing noise to the beats, as a real beat tracker would.
    """
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    n_beats = sum(bars for _, bars in structure) * beats_per_bar
    times = lead_in_s + period * np.arange(n_beats)
    if jitter_s > 0:
        times = times + rng.uniform(-jitter_s, jitter_s, n_beats)
    duration = float(times[-1] + period + tail_s)
    beats = [
        Beat(t_s=float(t), bar=i // beats_per_bar + 1, position=i % beats_per_bar + 1) for i, t in enumerate(times)
    ]
    sections: list[Section] = []
    lines: list[LyricLine] = []
    groups: dict[str, int] = {}
    bar0 = 0
    for k, (label, bars) in enumerate(structure):
        start = 0.0 if k == 0 else float(times[bar0 * beats_per_bar])
        end_bar = bar0 + bars
        end = duration if k == len(structure) - 1 else float(times[end_bar * beats_per_bar])
        groups.setdefault(label, len(groups))
        sections.append(
            Section(start_s=start, end_s=end, label=label, group=groups[label], energy=SECTION_ENERGY[label])
        )
        if label in _SUNG:
            for b in range(bar0, end_bar - 1, 2):
                t0 = float(times[b * beats_per_bar]) + 0.3 * period
                n_words = int(rng.integers(4, 8))
                span = 1.5 * beats_per_bar * period
                lengths = rng.uniform(0.5, 1.5, n_words)
                lengths = span * lengths / lengths.sum()
                starts = t0 + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
                ends = starts + lengths - 0.04
                texts = [_WORDS[int(rng.integers(len(_WORDS)))] for _ in range(n_words)]
                words = [
                    Word(start_s=round(float(a), 3), end_s=round(float(e), 3), text=w)
                    for a, e, w in zip(starts, ends, texts, strict=True)
                ]
                lines.append(
                    LyricLine(start_s=words[0].start_s, end_s=words[-1].end_s, text=" ".join(texts), words=words)
                )
        bar0 = end_bar
    fps = 10.0
    n = int(np.ceil(duration * fps))
    values = np.zeros(n)
    for s in sections:
        a, b = int(s.start_s * fps), int(np.ceil(s.end_s * fps))
        values[a:b] = s.energy
    values = np.clip(values + rng.normal(0, 0.03, n), 0, 1)
    vocals = [Segment(start_s=line.start_s, end_s=line.end_s) for line in lines]
    return AudioAnalysis(
        source=AudioSource(path=f"synthetic-{bpm:g}bpm.wav", sha256="0" * 64, duration_s=duration, sample_rate=44100),
        bpm=bpm,
        beats_per_bar=beats_per_bar,
        beats=beats,
        sections=sections,
        energy=EnergyCurve(fps=fps, values=[round(float(v), 4) for v in values]),
        vocal_activity=vocals,
        lyrics=Lyrics(source="file", language="en", lines=lines),
        provenance={"all": "stages.direct.synthetic"},
    )
