"""Measure song-structure analysis and print a table, next to two baselines from the same run.

For every song the stage runs once (beats, vocals, energy); then three structure analyses
share those inputs:

- ``new``: the sections in the stage's output (`stages.analyze.sections`);
- ``prev``: the previous algorithm (``stages/analyze/sections.py`` at commit ``PREVIOUS``, read
  with ``git show``; bar-synchronous chroma+MFCC novelty, repetition groups);
- ``agglo``: plain librosa — beat-synchronous chroma + MFCC, ``librosa.segment.agglomerative``
  with one segment per 15 s, no labels (each segment its own group).

Scores (mir_eval.segment): boundary hit-rate F at ±0.5 s and ±3 s (first and last boundary
trimmed) and pairwise frame-label F, where a label is the section label plus its repeat group
(so two choruses must share a group, and a verse must not share one with a chorus). Also the
number of sections and the CPU seconds per minute of audio of the new structure step.

Sets: the fixture songs (``tests/fixtures/songs``, ``tests/fixtures/form_songs``) and, with
``--real DIR``, public recordings found in DIR whose annotations live in
``benchmarks/structure_refs/<name>.json`` (see that folder's README for sources; recordings
with ``"expect": "part"`` have no boundaries annotated and only report their labels).

    python benchmarks/structure.py [--real DIR] [--asr none|auto] [--no-fixtures]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages.analyze import AnalyzeConfig, analyze  # noqa: E402
from stages.analyze import energy as energy_mod  # noqa: E402
from stages.analyze import sections as sections_mod  # noqa: E402
from stages.analyze.stage import SR_FEATURES, decode  # noqa: E402

PREVIOUS = "eec46c4"  # the last commit with the previous structure algorithm
REFS = ROOT / "benchmarks" / "structure_refs"
FIXTURE_DIRS = (ROOT / "tests" / "fixtures" / "songs", ROOT / "tests" / "fixtures" / "form_songs")


def previous_algorithm():  # noqa: ANN201 - a module loaded from git
    """The previous sections module, loaded from git into the stages.analyze package (None if git can't)."""
    try:
        src = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{PREVIOUS}:stages/analyze/sections.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("stages.analyze._sections_previous", loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "stages.analyze"
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    exec(compile(src, f"{PREVIOUS}:sections.py", "exec"), mod.__dict__)  # noqa: S102 - our own history
    return mod


def agglomerative(y: np.ndarray, beats: list[float], duration_s: float) -> list[tuple[float, float]]:
    """Plain librosa baseline: beat-synchronous chroma + MFCC, agglomerative clustering, a segment per 15 s."""
    import librosa

    hop = 512
    chroma = librosa.feature.chroma_cqt(y=y, sr=SR_FEATURES, hop_length=hop)
    mfcc = librosa.feature.mfcc(y=y, sr=SR_FEATURES, hop_length=hop, n_mfcc=13)
    frames = librosa.time_to_frames(beats, sr=SR_FEATURES, hop_length=hop)
    feats = librosa.util.sync(np.vstack([chroma, mfcc / (np.abs(mfcc).max() + 1e-9)]), frames)
    k = int(np.clip(round(duration_s / 15.0), 2, feats.shape[1] - 1))
    bounds = librosa.segment.agglomerative(feats, k)
    times = librosa.frames_to_time(librosa.util.fix_frames(frames, x_min=0)[bounds], sr=SR_FEATURES, hop_length=hop)
    edges = sorted({0.0, *[float(t) for t in times if 0.0 < t < duration_s], duration_s})
    return list(zip(edges[:-1], edges[1:], strict=True))


def score(ref: list[dict], est: list[tuple[float, float, str]], duration_s: float) -> dict[str, float]:
    """Hit-rate F at 0.5 and 3 s, pairwise label F (label + group strings)."""
    import mir_eval

    ri = np.array([[s["start_s"], s["end_s"] or duration_s] for s in ref])
    ei = np.array([[a, b] for a, b, _ in est])
    ri[-1, 1] = ei[-1, 1] = duration_s
    out = {}
    for w in (0.5, 3.0):
        out[f"F@{w:g}"] = mir_eval.segment.detection(ri, ei, window=w, trim=True)[2] if len(ri) > 1 else 1.0
    ref_lab = [f"{s['label']}{s.get('group', '')}" for s in ref]
    out["pairF"] = mir_eval.segment.pairwise(ri, ref_lab, ei, [lab for _, _, lab in est])[2]
    out["n"] = len(est)
    return out


def songs(args: argparse.Namespace) -> list[tuple[str, Path, dict]]:
    """(set, audio, reference) of every song to measure."""
    out = []
    if not args.no_fixtures:
        for folder in FIXTURE_DIRS:
            for truth in sorted(folder.glob("*.truth.json")):
                out.append(
                    (
                        folder.name,
                        truth.with_name(truth.name.replace(".truth.json", ".ogg")),
                        json.loads(truth.read_text()),
                    )
                )
    if args.real:
        for ref in sorted(REFS.glob("*.json")):
            audio = sorted(p for p in args.real.glob(f"{ref.stem}*") if p.suffix in (".ogg", ".wav", ".flac", ".mp3"))
            if audio:
                out.append(("real", audio[0], json.loads(ref.read_text())))
    return out


def run(args: argparse.Namespace) -> None:
    """Analyse each song, print a row per song and method, and a mean per set and method."""
    prev = previous_algorithm()
    methods = ["new", "prev", "agglo"] if prev is not None else ["new", "agglo"]
    cols = ["F@0.5", "F@3", "pairF", "n"]
    print(f"{'set':10s} {'song':36s} {'method':6s} " + " ".join(f"{c:>6s}" for c in cols) + "  cpu s/min  labels")
    table: dict[tuple[str, str], list[dict]] = {}
    for set_name, audio, ref in songs(args):
        a = analyze(audio, AnalyzeConfig(asr=args.asr))
        y, source = decode(audio)
        dur = source.duration_s
        loud = energy_mod.loudness(y, SR_FEATURES)
        values = np.asarray(a.energy.values)
        down = a.downbeats
        words = None if args.asr == "none" else sum(len(line.words) for line in a.lyrics.lines)
        c0 = time.process_time()
        new = sections_mod.find_sections(
            y, SR_FEATURES, down, dur, loud, values, a.energy.fps, a.vocal_activity,
            beats=a.beat_times, meter=a.beats_per_bar, asr_words=words,
        )  # fmt: skip
        cpu = (time.process_time() - c0) / dur * 60
        del new  # this re-run only times the step; the stage's own sections are scored
        results = {"new": [(s.start_s, s.end_s, f"{s.label}{s.group}") for s in a.sections]}
        labels = {"new": " ".join(f"{s.label}{s.group}" for s in a.sections)}
        if prev is not None:
            old = prev.find_sections(y, SR_FEATURES, down, dur, loud, values, a.energy.fps, a.vocal_activity, 4.0)
            results["prev"] = [(s.start_s, s.end_s, f"{s.label}{s.group}") for s in old]
            labels["prev"] = " ".join(f"{s.label}{s.group}" for s in old)
        agg = agglomerative(y, a.beat_times, dur)
        results["agglo"] = [(s, e, f"seg{i}") for i, (s, e) in enumerate(agg)]
        labels["agglo"] = ""
        for m in methods:
            if ref.get("sections"):
                row = score(ref["sections"], results[m], dur)
            else:  # annotated only as "part" music: how many sections, labelled how
                row = {"F@0.5": np.nan, "F@3": np.nan, "pairF": np.nan, "n": len(results[m])}
            table.setdefault((set_name, m), []).append(row)
            cpu_s = f"{cpu:9.2f}" if m == "new" else " " * 9
            print(
                f"{set_name:10s} {audio.stem[:36]:36s} {m:6s} "
                + " ".join(f"{row[c]:6.2f}" if c != "n" else f"{row[c]:6d}" for c in cols)
                + f"  {cpu_s}  {labels[m][:90]}"
            )
    print()
    for (set_name, m), rows in table.items():
        mean = {
            c: float(np.nanmean([r[c] for r in rows])) if any(np.isfinite(r[c]) for r in rows) else np.nan for c in cols
        }
        print(f"{set_name:10s} {'MEAN of ' + str(len(rows)):36s} {m:6s} " + " ".join(f"{mean[c]:6.2f}" for c in cols))


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=None, help="folder of recordings named as in structure_refs/")
    ap.add_argument("--asr", default="none", help="ASR for the analysis (auto lets Whisper veto false vocals)")
    ap.add_argument("--no-fixtures", action="store_true")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
