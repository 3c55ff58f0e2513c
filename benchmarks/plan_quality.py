"""Plan quality of the MV-Director over analysis fixtures, styles and seeds; prints tables.

Songs: every ``*.json`` under ``--fixtures`` (default ``tests/fixtures``) that parses as an
``AudioAnalysis``, plus synthetic songs with exactly known beats, sections and words
(``tests/factories.py``) at several tempos and meters. Per song × style × seed it
measures: share of cuts on beats (must be 100 %) and on downbeats, share of cuts inside a
sung word, share of lyric lines that start a shot (a cut ¾ beat before to ¼ beat after the
first word), share of section boundaries that are cuts, share of shots within the
template's (tempo-scaled) beat range and within its seconds range, framing/move variety,
neighbouring repeats of framing+move (must be 0), continuity edges, and planning time.
A second table gives the shot-length distribution per section type against the template.

    .venv/bin/python benchmarks/plan_quality.py [--fixtures DIR] [--seeds 3] [--styles a,b]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from factories import synthetic_analysis  # noqa: E402

from mvdirector.schemas import (  # noqa: E402
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LyricLine,
    Lyrics,
    Section,
    Segment,
    ShotPlan,
    Word,
)
from stages.direct import DirectConfig, direct  # noqa: E402
from stages.direct.cutting import BEAT_TOLERANCE  # noqa: E402
from stages.templates import list_templates, load_template  # noqa: E402

SYNTHETIC = {
    "synth-pop-118": dict(bpm=118.0, jitter_s=0.01, seed=1),
    "synth-ballad-72": dict(bpm=72.0, jitter_s=0.015, seed=2),
    "synth-dance-172": dict(bpm=172.0, jitter_s=0.005, seed=3),
    "synth-waltz-3/4-96": dict(bpm=96.0, beats_per_bar=3, seed=4),
}


def truth_analysis(truth_path: Path) -> AudioAnalysis:
    """The analysis a perfect analyzer would return for a fixture song (its ``.truth.json``).

    The energy curve is the song's RMS loudness (10 Hz, normalised to 0..1) from its audio file.
    """
    d = json.loads(truth_path.read_text())
    audio = truth_path.with_name(truth_path.name.replace(".truth.json", ".ogg"))
    values: list[float] = []
    if audio.is_file():
        from mvdirector.media.audio import load_audio

        y, sr = load_audio(audio, sr=22050)
        hop = sr // 10
        rms = np.sqrt(np.mean(y[: len(y) // hop * hop].reshape(-1, hop) ** 2, axis=1))
        values = [round(float(v), 4) for v in rms / max(1e-9, float(rms.max()))]
    bpm = d["bpm"]
    lines = [
        LyricLine(
            start_s=ln["start_s"],
            end_s=ln["end_s"],
            text=ln["text"],
            words=[Word(start_s=w["start_s"], end_s=w["end_s"], text=w["text"]) for w in ln["words"]],
        )
        for ln in d.get("lines", [])
    ]
    return AudioAnalysis(
        source=AudioSource(path=str(audio), sha256="0" * 64, duration_s=d["duration_s"], sample_rate=22050),
        bpm=float(statistics.median(bpm)) if isinstance(bpm, list) else float(bpm),
        beats_per_bar=d["beats_per_bar"],
        beats=[Beat(**b) for b in d["beats"]],
        sections=[Section(start_s=s["start_s"], end_s=s["end_s"], label=s["label"]) for s in d["sections"]],
        energy=EnergyCurve(fps=10.0, values=values),
        vocal_activity=[Segment(start_s=ln.start_s, end_s=ln.end_s) for ln in lines],
        lyrics=Lyrics(source="file", lines=lines),
    )


def load_songs(fixtures: Path, analyze: bool) -> dict[str, tuple[AudioAnalysis, AudioAnalysis]]:
    """name → (analysis to plan from, ground truth to score against).

    Fixture songs (``*.truth.json`` beside their audio) are planned from their ground truth and,
    with ``analyze``, also from ``stages.analyze.analyze`` on the audio (scored against the truth);
    analysis JSON files under ``fixtures`` are used as they are; synthetic songs are their own truth.
    """
    songs: dict[str, tuple[AudioAnalysis, AudioAnalysis]] = {}
    if fixtures.is_dir():
        for p in sorted(fixtures.rglob("*.json")):
            if p.name.endswith(".truth.json"):
                truth = truth_analysis(p)
                name = p.name.removesuffix(".truth.json")
                songs[f"{name} (truth)"] = (truth, truth)
                if analyze and Path(truth.source.path).is_file():
                    from stages.analyze import AnalyzeConfig
                    from stages.analyze import analyze as run_analyze

                    t0 = time.perf_counter()
                    got = run_analyze(Path(truth.source.path), AnalyzeConfig())
                    print(f"analyzed {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
                    songs[f"{name} (analyzed)"] = (got, truth)
                continue
            try:
                a = AudioAnalysis.model_validate_json(p.read_text())
            except (ValidationError, ValueError, UnicodeDecodeError):
                continue
            songs[p.stem] = (a, a)
    for name, kw in SYNTHETIC.items():
        a = synthetic_analysis(**kw)
        songs[name] = (a, a)
    return songs


def measure(a: AudioAnalysis, plan: ShotPlan, truth: AudioAnalysis) -> dict[str, float]:
    """Quality figures of one plan against the analysis it was made from; words and sections from ``truth``."""
    fps = plan.render.fps
    tpl = load_template(plan.render.style)
    beats = {int(round(b.t_s * fps)) for b in a.beats}
    down = {int(round(t * fps)) for t in a.downbeats}
    cuts = [int(round(s.start_s * fps)) for s in plan.shots[1:]]
    words = [(w.start_s, w.end_s) for ln in truth.lyrics.lines for w in ln.words]
    in_word = [any(x + 0.03 < c / fps < y - 0.03 for x, y in words) for c in cuts]
    period = 60.0 / a.bpm
    starts = np.array([s.start_s for s in plan.shots])
    lines = [ln.words[0].start_s if ln.words else ln.start_s for ln in truth.lyrics.lines]
    line_hits = [bool(np.any((starts >= t - 0.75 * period - 1 / fps) & (starts <= t + 0.25 * period))) for t in lines]
    bounds = [int(round(s.start_s * fps)) for s in sorted(truth.sections, key=lambda s: s.start_s)[1:]]
    cutset = set(cuts)
    # boundaries are moved onto the nearest beat (downbeat preferred): count one within a beat
    bound_hits = [any(abs(b - c) <= period * fps + 1 for c in cutset) for b in bounds]
    scale = tpl.tempo_scale(a.bpm)
    lo_s, hi_s = tpl.shot_s
    in_beats, in_secs = [], []
    for s in plan.shots[1:-1]:  # the first and last shots end at the song's edges, not on beats
        lo_b, hi_b = (x * scale for x in tpl.grammar(s.section).cut_beats)
        n = s.duration_s / period
        in_beats.append(lo_b - BEAT_TOLERANCE <= n <= hi_b + BEAT_TOLERANCE)
        in_secs.append(lo_s - 1e-6 <= s.duration_s <= hi_s + 1e-6)
    pairs = [(s.framing, s.camera.move) for s in plan.shots]
    fr = Counter(s.framing for s in plan.shots)
    entropy = -sum(c / len(plan.shots) * math.log2(c / len(plan.shots)) for c in fr.values())

    def share(xs: list[bool]) -> float:
        return float(np.mean(xs)) if xs else float("nan")

    return {
        "shots": len(plan.shots),
        "on_beat": share([c in beats for c in cuts]),
        "on_downbeat": share([c in down for c in cuts]),
        "in_word": share(in_word),
        "line_starts": share(line_hits),
        "section_cuts": share(bound_hits),
        "in_beat_range": share(in_beats),
        "in_s_range": share(in_secs),
        "framings": len(fr),
        "framing_bits": entropy,
        "moves": len({s.camera.move for s in plan.shots}),
        "repeats": sum(p == q for p, q in zip(pairs, pairs[1:], strict=False)),
        "takes": sum(s.continues_from is not None for s in plan.shots),
    }


def _pct(x: float) -> str:
    return "  –  " if math.isnan(x) else f"{100 * x:5.1f}"


def main() -> None:
    """Run the benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", type=Path, default=ROOT / "tests" / "fixtures")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--styles", default=",".join(t.name for t in list_templates()))
    ap.add_argument("--analyze", action="store_true", help="also plan from stages.analyze on the fixture audio")
    args = ap.parse_args()
    songs = load_songs(args.fixtures, args.analyze)
    styles = args.styles.split(",")
    direct(next(iter(songs.values()))[0], None, DirectConfig())  # warm-up: imports (torch via models.camera)
    rows = []
    lengths: dict[tuple[str, str], list[float]] = defaultdict(list)
    for name, (a, truth) in songs.items():
        for style in styles:
            ms, ms_all = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                plan = direct(a, None, DirectConfig(style=style, seed=seed))
                ms.append(1000 * (time.perf_counter() - t0))
                ms_all.append(measure(a, plan, truth))
                for s in plan.shots[1:-1]:
                    lengths[(style, s.section)].append(
                        s.duration_s * a.bpm / 60.0 / load_template(style).tempo_scale(a.bpm)
                    )
            avg = {k: float(np.nanmean([m[k] for m in ms_all])) for k in ms_all[0]}
            rows.append((name, style, a.source.duration_s, a.bpm, avg, statistics.median(ms)))
    head = (
        f"{'song':<28} {'style':<12} {'dur s':>6} {'bpm':>5} {'shots':>5} {'beat%':>6} {'down%':>6} "
        f"{'word%':>6} {'line%':>6} {'sect%':>6} {'rngB%':>6} {'rngS%':>6} {'fram':>4} {'bits':>4} "
        f"{'move':>4} {'rep':>3} {'take':>4} {'ms':>6}"
    )
    print(f"Plan quality: mean over {args.seeds} seed(s) per row")
    print(head)
    print("-" * len(head))
    for name, style, dur, bpm, m, t in rows:
        print(
            f"{name[:28]:<28} {style:<12} {dur:6.1f} {bpm:5.1f} {m['shots']:5.1f} {_pct(m['on_beat']):>6} "
            f"{_pct(m['on_downbeat']):>6} {_pct(m['in_word']):>6} {_pct(m['line_starts']):>6} "
            f"{_pct(m['section_cuts']):>6} {_pct(m['in_beat_range']):>6} {_pct(m['in_s_range']):>6} "
            f"{m['framings']:4.1f} {m['framing_bits']:4.2f} {m['moves']:4.1f} {m['repeats']:3.0f} {m['takes']:4.1f} "
            f"{t:6.1f}"
        )
    all_on_beat = min(m["on_beat"] for *_, m, _ in rows)
    print(f"\nminimum share of cuts on beats over all rows: {100 * all_on_beat:.1f} %")
    print("\nShot length per section (in beats at the template's reference tempo) against cut_beats")
    print(f"{'style':<12} {'section':<13} {'template':>9} {'shots':>6} {'min':>5} {'median':>6} {'max':>5} {'in%':>6}")
    for (style, section), xs in sorted(lengths.items()):
        lo, hi = load_template(style).grammar(section).cut_beats
        inside = np.mean([lo - BEAT_TOLERANCE <= x <= hi + BEAT_TOLERANCE for x in xs])
        print(
            f"{style:<12} {section:<13} {f'{lo:g}-{hi:g}':>9} {len(xs):6d} {min(xs):5.1f} "
            f"{statistics.median(xs):6.1f} {max(xs):5.1f} {100 * inside:6.1f}"
        )


if __name__ == "__main__":
    main()
