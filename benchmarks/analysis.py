"""Measure the analyze stage on the ground-truth fixture songs and print a table.

Scores with mir_eval: beat and downbeat F-measure (±70 ms), section boundary hit rate
(F-measure at ±0.5 s and ±3 s, first/last boundary excluded), frame-level label accuracy,
word-onset mean absolute error and share within 0.3 s (words matched by text alignment),
seconds of compute per minute of audio per component (wall clock; ``total_cpu`` is CPU
seconds of all threads, a fairer figure on a shared machine), and the process's peak memory.

    python benchmarks/analysis.py [--beats madmom|librosa] [--asr auto|none] [--songs DIR] [--lyrics-file txt|lrc]
                                  [--long-minutes N]   # also time an N-minute file (memory check)
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages.analyze import AnalyzeConfig, analyze_timed  # noqa: E402
from stages.analyze.align import align_words  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "songs"


def _intervals(sections: list[dict], duration: float) -> tuple[np.ndarray, list[str]]:
    iv = np.array([[s["start_s"], min(s["end_s"], duration)] for s in sections])
    return iv, [s["label"] for s in sections]


def score(truth: dict, analysis) -> dict[str, float]:  # noqa: ANN001 - AudioAnalysis
    """All accuracy figures of one analysis against its truth file."""
    import mir_eval

    ref_beats = np.array([b["t_s"] for b in truth["beats"]])
    est_beats = np.array(analysis.beat_times)
    out = {
        "beat_f": mir_eval.beat.f_measure(ref_beats, est_beats),
        "downbeat_f": mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(analysis.downbeats)),
    }
    dur = analysis.source.duration_s
    ref_iv, ref_lab = _intervals(truth["sections"], dur)
    est = [s.model_dump() for s in analysis.sections]
    est_iv, est_lab = _intervals(est, dur)
    ref_iv[-1, 1] = est_iv[-1, 1] = dur
    for w in (0.5, 3.0):
        if len(ref_iv) > 1:
            _, _, f = mir_eval.segment.detection(ref_iv, est_iv, window=w, trim=True)
        else:
            f = float(len(est_iv) == 1)
        out[f"hr@{w:g}"] = f
    grid = np.arange(0, dur, 0.1)
    ref_at = [ref_lab[min(len(ref_lab) - 1, np.searchsorted(ref_iv[:, 0], t, side="right") - 1)] for t in grid]
    est_at = [est_lab[min(len(est_lab) - 1, np.searchsorted(est_iv[:, 0], t, side="right") - 1)] for t in grid]
    out["label_acc"] = float(np.mean([a == b for a, b in zip(ref_at, est_at, strict=True)]))
    ref_words = [(w["text"], w["start_s"]) for line in truth["lines"] for w in line["words"]]
    est_words = [(w.text, w.start_s) for line in analysis.lyrics.lines for w in line.words]
    if ref_words and est_words:
        pairs = align_words([w for w, _ in ref_words], [w for w, _ in est_words])
        errs = np.array([abs(ref_words[i][1] - est_words[j][1]) for i, j in pairs if j is not None])
        out["word_recall"] = len(errs) / len(ref_words)
        out["word_mae"] = float(errs.mean()) if errs.size else float("nan")
        out["word_0.3"] = float((errs <= 0.3).mean()) if errs.size else 0.0
    return out


def _write_lyrics(truth: dict, kind: str, folder: Path) -> Path:
    """The truth's lyric lines as a user would give them: plain .txt, or .lrc with line times."""
    path = folder / f"{truth['name'] if 'name' in truth else 'song'}.{kind}"
    if kind == "txt":
        path.write_text("\n".join(line["text"] for line in truth["lines"]) + "\n")
    else:
        rows = [f"[{int(ln['start_s'] // 60):02d}:{ln['start_s'] % 60:05.2f}]{ln['text']}" for ln in truth["lines"]]
        path.write_text("\n".join(rows) + "\n")
    return path


def run(songs: list[Path], config: AnalyzeConfig, lyrics_kind: str | None = None) -> None:
    """Analyse each song, print one row per song and a mean row."""
    cols = ["beat_f", "downbeat_f", "hr@0.5", "hr@3", "label_acc", "word_recall", "word_mae", "word_0.3"]
    comp_cols = ["decode", "energy", "beats", "vocals", "lyrics", "sections", "total", "total_cpu"]
    head = f"{'song':24s} " + " ".join(f"{c:>10s}" for c in cols) + " | s/min: " + " ".join(
        f"{c:>8s}" for c in comp_cols
    )
    print(head)
    rows, per_min = [], []
    for path in songs:
        truth = json.loads(path.with_suffix(".truth.json").read_text())
        cfg = config
        tmp = tempfile.TemporaryDirectory()
        if lyrics_kind and truth["lines"]:
            cfg = config.model_copy(update={"lyrics": str(_write_lyrics(truth, lyrics_kind, Path(tmp.name)))})
        t0, c0 = time.perf_counter(), time.process_time()
        analysis, timings = analyze_timed(path, cfg)
        tmp.cleanup()
        timings["total"] = time.perf_counter() - t0
        timings["total_cpu"] = time.process_time() - c0
        s = score(truth, analysis)
        minutes = analysis.source.duration_s / 60
        pm = {k: timings.get(k, 0.0) / minutes for k in comp_cols}
        rows.append(s)
        per_min.append(pm)
        print(
            f"{path.stem:24s} "
            + " ".join(f"{s.get(c, float('nan')):10.3f}" for c in cols)
            + " | s/min: "
            + " ".join(f"{pm[c]:8.2f}" for c in comp_cols)
        )
    mean = {c: float(np.nanmean([r.get(c, np.nan) for r in rows])) for c in cols}
    mpm = {c: float(np.mean([p[c] for p in per_min])) for c in comp_cols}
    print(f"{'MEAN':24s} " + " ".join(f"{mean[c]:10.3f}" for c in cols) + " | s/min: " + " ".join(
        f"{mpm[c]:8.2f}" for c in comp_cols
    ))
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def long_file(minutes: float, config: AnalyzeConfig) -> None:
    """Time and memory for one long file made by tiling a fixture song."""
    import soundfile as sf

    y, sr = sf.read(FIXTURES / "pop_120_4-4.ogg", dtype="float32")
    reps = int(np.ceil(minutes * 60 * sr / len(y)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        with sf.SoundFile(path, "w", sr, 1, format="FLAC") as f:
            for _ in range(reps):
                f.write(y)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        analysis, timings = analyze_timed(path, config)
        dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mins = analysis.source.duration_s / 60
    print(
        f"long file {mins:.1f} min: {dt:.1f} s ({dt / mins:.2f} s/min), {len(analysis.beats)} beats, "
        f"{len(analysis.sections)} sections, peak RSS {peak:.0f} MiB (before {before:.0f} MiB)"
    )


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beats", default="madmom", choices=["madmom", "librosa"])
    ap.add_argument("--asr", default="auto")
    ap.add_argument("--songs", type=Path, default=FIXTURES)
    ap.add_argument("--long-minutes", type=float, default=0.0)
    ap.add_argument(
        "--lyrics-file", choices=["txt", "lrc"], default=None, help="give each song its true lyrics as a file to align"
    )
    args = ap.parse_args()
    config = AnalyzeConfig(beats=args.beats, asr=args.asr)
    songs = sorted(args.songs.glob("*.ogg")) + sorted(args.songs.glob("*.wav"))
    if args.long_minutes > 0:
        long_file(args.long_minutes, config)
    else:
        run(songs, config, args.lyrics_file)


if __name__ == "__main__":
    main()
