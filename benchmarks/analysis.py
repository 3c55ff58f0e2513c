"""Rhythm accuracy and analysis speed, every figure next to plain madmom's from the same run.

For each song, ``mvdirector analyze SONG --asr none`` runs as a user runs it (a fresh process, so
CPU time includes start-up and imports; user+sys of the child, from getrusage). Plain madmom runs
in this process on the same decoded audio, with madmom's defaults: ``RNNBeatProcessor`` +
``DBNBeatTrackingProcessor`` for beats and ``RNNDownBeatProcessor`` + ``DBNDownBeatTrackingProcessor``
(3 and 4 beats per bar) for downbeats; its CPU time is warm (models loaded, imports excluded).

Scores (mir_eval, ±70 ms): beat F, downbeat F; tempo = 60 / median beat interval; the tempo
class compares each of our beat intervals with the truth's at the same time (so tempo changes
count right): a median ratio of 2, 3, 1/2, 1/3, 3/2 or 2/3 (±8 %) is an octave error, else "ok"
or "off".
Songs: the fixtures (``tests/fixtures/songs``: ``<name>.ogg`` + ``<name>.truth.json``), and with
``--real DIR`` a folder of recordings with ``<name>.beats`` files (one beat per line: time and
optionally its position in the bar, 1 = downbeat, or ``bar.beat``). A recording without a
``.beats`` file is scored by agreement with plain madmom's beats (a proxy, column ``agree``).
``benchmarks/tools/make_real_set.py`` builds such a folder from public annotated recordings.

    python benchmarks/analysis.py [--real DIR [--no-fixtures]] [--songs DIR] [--beats madmom|librosa]
                                  [--long-minutes N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "songs"
AUDIO = (".wav", ".flac", ".ogg", ".mp3", ".m4a")
OCTAVES = {"x2": 2.0, "x3": 3.0, "/2": 0.5, "/3": 1 / 3, "x3/2": 1.5, "x2/3": 2 / 3}


@dataclass
class Truth:
    """Reference beats and downbeats (downbeats may be empty)."""

    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int | None = None


@dataclass
class Row:
    """One song's figures, ours and madmom's."""

    name: str
    minutes: float
    ours: dict = field(default_factory=dict)
    madmom: dict = field(default_factory=dict)


def read_truth(audio: Path) -> Truth | None:
    """The song's truth: ``.truth.json`` (fixtures) or ``.beats`` (annotated recordings); None if absent."""
    tj = audio.with_suffix(".truth.json")
    if tj.exists():
        t = json.loads(tj.read_text())
        return Truth(np.array([b["t_s"] for b in t["beats"]]), np.array(t["downbeats"]), t.get("beats_per_bar"))
    bf = audio.with_suffix(".beats")
    if not bf.exists():
        return None
    times, down = [], []
    for line in bf.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        times.append(float(parts[0]))
        if len(parts) > 1:
            pos = parts[1].split(".")[-1] if "." in parts[1] else parts[1]
            if int(float(pos)) == 1:
                down.append(float(parts[0]))
    return Truth(np.array(times), np.array(down))


def tempo(beats: np.ndarray) -> float:
    """60 / median inter-beat interval (0 if fewer than 3 beats)."""
    return float(60.0 / np.median(np.diff(beats))) if len(beats) > 2 else 0.0


def tempo_ratio(beats: np.ndarray, ref: np.ndarray) -> float:
    """Median over our beats of (reference interval / our interval) at the same time: follows tempo changes."""
    if len(beats) < 3 or len(ref) < 3:
        return 0.0
    mid = (beats[1:] + beats[:-1]) / 2
    inside = (mid > ref[0]) & (mid < ref[-1])
    if not inside.any():
        return 0.0
    ref_ibi = np.interp(mid[inside], (ref[1:] + ref[:-1]) / 2, np.diff(ref))
    return float(np.median(ref_ibi / np.diff(beats)[inside]))


def octave(ratio: float) -> str:
    """'ok', an octave-error name from `OCTAVES`, or 'off', for a tempo ratio ours/truth."""
    if ratio <= 0:
        return "off"
    if abs(ratio - 1) <= 0.08:
        return "ok"
    for name, r in OCTAVES.items():
        if abs(ratio / r - 1) <= 0.08:
            return name
    return "off"


class PlainMadmom:
    """madmom's own beat and downbeat pipelines with their default settings."""

    def __init__(self) -> None:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
        from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

        self.beat_rnn, self.beat_dbn = RNNBeatProcessor(), DBNBeatTrackingProcessor(fps=100)
        self.down_rnn = RNNDownBeatProcessor()
        self.down_dbn = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)

    def __call__(self, path: Path) -> tuple[np.ndarray, np.ndarray, float]:
        """Beats, downbeats and CPU seconds (all threads) of one file."""
        from madmom.audio.signal import Signal

        from mvdirector.media.audio import load_audio

        y, sr = load_audio(path, sr=44100)
        sig = Signal(y, sample_rate=sr, num_channels=1)
        c0 = time.process_time()
        beats = np.asarray(self.beat_dbn(self.beat_rnn(sig)), float)
        bars = self.down_dbn(self.down_rnn(sig))
        cpu = time.process_time() - c0
        return beats, bars[bars[:, 1] == 1, 0], cpu


def run_cli(path: Path, beats: str) -> tuple[dict, float]:
    """``mvdirector analyze PATH --asr none`` in a fresh process: the analysis JSON and its CPU seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "analysis.json"
        cmd = [sys.executable, "-m", "mvdirector.cli", "analyze", str(path), "--asr", "none", "--beats", beats]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([*cmd, "-q", "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"analyze failed on {path.name}: {proc.stderr.strip()}")
        if proc.stderr.strip():
            print(f"  ! {path.name} wrote to stderr: {proc.stderr.strip()[:200]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return json.loads(out.read_text()), cpu


def _pair(ours: dict, madmom: dict, key: str) -> str:
    return f"{ours.get(key, np.nan):.3f}/{madmom.get(key, np.nan):.3f}"


def scores(beats: np.ndarray, downbeats: np.ndarray, truth: Truth | None, anchor: np.ndarray) -> dict:
    """Beat F, downbeat F, tempo and its octave class against the truth (or agreement with ``anchor``)."""
    import mir_eval

    out = {"tempo": tempo(beats), "agree": mir_eval.beat.f_measure(anchor, beats)}
    if truth is not None:
        out["beat_f"] = mir_eval.beat.f_measure(truth.beats, beats)
        out["down_f"] = mir_eval.beat.f_measure(truth.downbeats, downbeats) if len(truth.downbeats) else np.nan
        out["octave"] = octave(tempo_ratio(beats, truth.beats))
    return out


def evaluate(songs: list[Path], beats: str) -> list[Row]:
    """Analyse every song both ways and print one row each."""
    madmom = PlainMadmom()
    head = (
        f"{'song':32s} {'beat F us/mm':>13s} {'downbeat F':>13s} {'tempo true/us/mm':>20s} {'octave us/mm':>13s}"
        f" {'bpb t/us':>8s} {'agree':>6s} {'CPU s/min us/mm':>16s}"
    )
    print(head)
    rows = []
    for path in songs:
        truth = read_truth(path)
        mm_beats, mm_down, mm_cpu = madmom(path)
        analysis, cpu = run_cli(path, beats)
        ours_beats = np.array([b["t_s"] for b in analysis["beats"]])
        ours_down = np.array([b["t_s"] for b in analysis["beats"] if b["position"] == 1])
        minutes = analysis["source"]["duration_s"] / 60
        row = Row(path.stem, minutes)
        row.ours = scores(ours_beats, ours_down, truth, mm_beats) | {"cpu": cpu, "bpb": analysis["beats_per_bar"]}
        row.madmom = scores(mm_beats, mm_down, truth, mm_beats) | {"cpu": mm_cpu}
        rows.append(row)
        o, m = row.ours, row.madmom

        true_t = f"{tempo(truth.beats):6.1f}" if truth is not None else "     -"
        bpb = f"{truth.beats_per_bar or '-'}/{o['bpb']}" if truth is not None else f"-/{o['bpb']}"
        flag = "  <<" if truth is not None and o["beat_f"] < m["beat_f"] - 0.005 else ""
        print(
            f"{path.stem[:32]:32s} {_pair(o, m, 'beat_f'):>13s} {_pair(o, m, 'down_f'):>13s}"
            f" {true_t}/{o['tempo']:6.1f}/{m['tempo']:6.1f} {o.get('octave', '-') + '/' + m.get('octave', '-'):>13s}"
            f" {bpb:>8s} {o['agree']:6.3f} {o['cpu'] / minutes:7.2f}/{m['cpu'] / minutes:<7.2f}{flag}"
        )
    return rows


def summary(rows: list[Row], title: str) -> None:
    """Means over the labelled songs, octave-error counts, agreement on unlabelled ones, CPU per minute."""
    lab = [r for r in rows if "beat_f" in r.ours]
    unlab = [r for r in rows if "beat_f" not in r.ours]
    minutes = sum(r.minutes for r in rows)
    print(f"\n{title}: {len(lab)} annotated, {len(unlab)} unannotated, {minutes:.1f} min of audio")
    if lab:
        for who in ("ours", "madmom"):
            vals = [getattr(r, who) for r in lab]
            gross = sum(v["octave"] != "ok" for v in vals)
            errors = ", ".join(
                f"{r.name}:{getattr(r, who)['octave']}" for r in lab if getattr(r, who)["octave"] != "ok"
            )
            print(
                f"  {who:7s} beat F {np.mean([v['beat_f'] for v in vals]):.3f}"
                f"  downbeat F {np.nanmean([v['down_f'] for v in vals]):.3f}"
                f"  tempo errors {gross} of {len(vals)} ({errors or '-'})"
            )
        worse = [r.name for r in lab if r.ours["beat_f"] < r.madmom["beat_f"] - 0.005]
        print(f"  songs where our beat F is below madmom's: {worse or 'none'}")
    if unlab:
        print(f"  agreement with plain madmom's beats (unannotated): {np.mean([r.ours['agree'] for r in unlab]):.3f}")
    print(
        f"  CPU s per minute of audio: ours {sum(r.ours['cpu'] for r in rows) / minutes:.2f} (fresh CLI process,"
        f" start-up included; per-song mean {np.mean([r.ours['cpu'] / r.minutes for r in rows]):.2f}),"
        f" plain madmom {sum(r.madmom['cpu'] for r in rows) / minutes:.2f} (warm, beats + downbeats only)"
    )


def long_file(minutes: float, beats: str) -> None:
    """CPU time and peak memory of one long file made by tiling a fixture song (a fresh CLI process)."""
    import soundfile as sf

    y, sr = sf.read(FIXTURES / "pop_120_4-4.ogg", dtype="float32")
    reps = int(np.ceil(minutes * 60 * sr / len(y)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        with sf.SoundFile(path, "w", sr, 1, format="FLAC") as f:
            for _ in range(reps):
                f.write(y)
        analysis, cpu = run_cli(path, beats)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    mins = analysis["source"]["duration_s"] / 60
    print(
        f"long file {mins:.1f} min: {cpu:.1f} CPU-s ({cpu / mins:.2f} s/min), {len(analysis['beats'])} beats,"
        f" peak RSS of the analyze process {peak:.0f} MiB"
    )


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=Path, default=FIXTURES, help="fixture folder (truth.json files)")
    ap.add_argument("--real", type=Path, default=None, help="folder of recordings with optional .beats files")
    ap.add_argument("--no-fixtures", action="store_true", help="with --real: skip the fixture songs")
    ap.add_argument("--beats", default="madmom", choices=["madmom", "librosa"])
    ap.add_argument("--long-minutes", type=float, default=0.0, help="only time one tiled file this long")
    args = ap.parse_args()
    if args.long_minutes > 0:
        long_file(args.long_minutes, args.beats)
        return
    fixtures = None if args.no_fixtures else args.songs
    for folder, title in ((fixtures, "fixtures"), (args.real, "real recordings")):
        if folder is None:
            continue
        songs = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO)
        print(f"== {title} ({folder})")
        summary(evaluate(songs, args.beats), title)


if __name__ == "__main__":
    main()
