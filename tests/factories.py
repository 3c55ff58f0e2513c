"""The one factory of test data: plans, analyses, jobs and a CLI runner (importable as `factories`).

pytest puts ``tests/`` on ``sys.path``; benchmarks add it themselves. ``synthetic_analysis`` writes
the ``AudioAnalysis`` a perfect analyzer would return for a song of a given structure (beats,
sections and sung words known exactly), so the director can be measured against ground truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mvdirector.errors import InputError
from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricLine,
    Lyrics,
    RenderSettings,
    Section,
    Segment,
    Shot,
    ShotPlan,
    SongRef,
    Transition,
    Word,
)


def make_plan(
    bounds: Sequence[float] = (0.0, 2.0, 4.0, 6.0),
    fps: float = 24.0,
    duration: float | None = None,
    *,
    frames: Sequence[int] | None = None,
    size: tuple[int, int] = (1280, 720),
    bpm: float = 120.0,
    transitions: dict[int, tuple[str, float]] | None = None,
    sections: Sequence[str] | None = None,
    renderer: str = "procedural",
    ids: str = "verse1-{:02d}",
    song: str = "s.wav",
    **shot_updates: Any,
) -> ShotPlan:
    """A plan whose shots span ``bounds`` seconds (or last ``frames[i]`` frames each), tiling a song of
    ``duration`` (default: to the last bound). ``transitions[i] = (kind, beats)`` enters shot i; every
    shot gets ``shot_updates`` (``framing=``, ``camera=`` …); ids count from 1 in ``ids``."""
    if frames is not None:
        bounds = [float(x) / fps for x in np.concatenate([[0], np.cumsum(frames)])]
    transitions = transitions or {}
    shots = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        kind, beats = transitions.get(i, ("cut", 0.0))
        shots.append(
            Shot(id=ids.format(i + 1), start_s=a, end_s=b, section=sections[i] if sections else "verse",
                 transition_in=Transition(kind=kind, beats=beats), **shot_updates)
        )
    return ShotPlan(
        song=SongRef(path=song, sha256="0" * 64, duration_s=duration or bounds[-1], bpm=bpm),
        render=RenderSettings(width=size[0], height=size[1], fps=fps, renderer=renderer),
        shots=shots,
    )


def plan_dict(**kw: Any) -> dict:
    """``make_plan(**kw)`` as the JSON a person would edit."""
    return json.loads(make_plan(**kw).model_dump_json())


def flat_analysis(
    duration: float,
    bpm: float = 120.0,
    energy: float = 0.8,
    vocals: Sequence[tuple[float, float]] = (),
    beats: Sequence[float] | None = None,
    label: str = "chorus",
    sha: str = "0" * 64,
    path: str = "song.wav",
) -> AudioAnalysis:
    """One section at constant ``energy``, a beat every 60/bpm s (or at ``beats``), 4/4, ``vocals`` spans."""
    period = 60.0 / bpm
    times = list(beats) if beats is not None else [i * period for i in range(int(duration / period) + 1)]
    times = [t for t in times if t < duration]
    return AudioAnalysis(
        source=AudioSource(path=path, sha256=sha, duration_s=duration, sample_rate=16000),
        bpm=bpm, beats_per_bar=4,
        beats=[Beat(t_s=t, bar=i // 4 + 1, position=i % 4 + 1) for i, t in enumerate(times)],
        sections=[Section(start_s=0, end_s=duration, label=label, energy=energy)],
        energy=EnergyCurve(fps=10, values=[energy] * int(duration * 10)),
        vocal_activity=[Segment(start_s=a, end_s=b) for a, b in vocals],
    )


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess[str]:
    """``mvdirector ARGS`` in a fresh process (no debug tracebacks), output captured as text."""
    full = {**os.environ, "COLUMNS": "200", **(env or {})}
    if "MVDIRECTOR_DEBUG" not in (env or {}):
        full.pop("MVDIRECTOR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "mvdirector.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=full, timeout=timeout)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``mvdirector ARGS`` in this process (its imports are shared, so it is fast); output captured as text."""
    from typer.testing import CliRunner

    from mvdirector.cli import app

    res = CliRunner().invoke(app, list(args), env={"MVDIRECTOR_DEBUG": None})
    return subprocess.CompletedProcess(list(args), res.exit_code, res.stdout, res.stderr)


# ------------------------------------------------------------------- a stand-in backend


@dataclass(frozen=True)
class SolidOptions:
    """Options of `SolidRenderer`: the grey level of its frames."""

    level: int = 128

    @classmethod
    def from_mapping(cls, values: dict[str, Any], base: SolidOptions | None = None,
                     where: str = "renderer option") -> SolidOptions:
        for key in set(values) - {"level"}:
            raise InputError(f"{where} '{key}' is not an option of the solid renderer", "use level")
        return replace(base or cls(), **{k: int(v) for k, v in values.items()})


class SolidRenderer:
    """A backend that draws every shot in one grey: registered in a test to see what the framework asks of one."""

    name = "solid"
    VERSION = "1"

    def __init__(self, **options: Any) -> None:
        self.options = SolidOptions.from_mapping(options)

    def fingerprint(self) -> dict[str, str]:
        return {"renderer": self.name, "level": str(self.options.level)}

    def render_shot(self, job: Any, out_path: Path, progress: Any = None) -> dict[str, float]:
        from mvdirector.media.video import VideoWriter

        r = job.plan.render
        with VideoWriter(out_path, r.width, r.height, r.fps) as w:
            for _ in range(job.n_frames):
                w.write(np.full((r.height, r.width, 3), self.options.level, np.uint8))
        return {"frames": float(job.n_frames)}


# ------------------------------------------------------------------- synthetic songs


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
        provenance={"all": "tests/factories.synthetic_analysis"},
    )


# ------------------------------------------------------------------- several photos


def look_of(image: np.ndarray) -> np.ndarray:
    """The same person in another look: the photo mirrored, cropped closer and graded warm (a stage light)."""
    h, w = image.shape[:2]
    img = image[:, ::-1][int(0.04 * h):, int(0.06 * w):].astype(np.float32)
    img = img * np.array([1.12, 0.98, 0.78], np.float32) + np.array([10.0, 0.0, -6.0], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def photo_set(folder: Path, side: int = 512) -> dict[str, Path]:
    """Public-domain photos for renders with several: ``singer`` (scikit-image's astronaut), ``look`` (the same
    person mirrored, re-cropped and warmer), ``scene`` (scikit-image's rocket launch) and ``other`` (another
    person: Grace Hopper, matplotlib's sample photo), each about ``side`` px tall, as PNG in ``folder``."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    astronaut = data.astronaut()
    images = {"singer": astronaut, "look": look_of(astronaut), "scene": data.rocket(), "other": hopper}
    out = {}
    for name, img in images.items():
        h, w = img.shape[:2]
        path = folder / f"{name}.png"
        Image.fromarray(img).resize((round(w * side / h), side), Image.LANCZOS).save(path)
        out[name] = path
    return out
