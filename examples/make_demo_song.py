"""Synthesize the ~44 s demo song with an exactly known beat grid, sections and words.

Drums, bass and chords are made here in numpy; the spoken vocal comes from the committed
`examples/assets/demo_vocal.ogg` (espeak-ng words, see `assets/make_demo_vocal.py`), placed
one word per beat. Writes `examples/out/demo_song.wav` (44.1 kHz stereo) and
`examples/out/demo_song.truth.json` (beats, downbeats, sections, lyric lines and words), and the
isolated vocal as `examples/out/demo_vocals.wav` (a stem for `--vocals`).

    python examples/make_demo_song.py [--out examples/out]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 44100
BPM = 116.0
BEATS_PER_BAR = 4
LEAD_IN_S = 0.5
TAIL_S = 2.0
BEAT_S = 60.0 / BPM
BAR_S = BEATS_PER_BAR * BEAT_S

# (label, bars, chord roots as MIDI notes with quality, lyric lines sung in the section)
VERSE_CHORDS = [(57, "m"), (52, "m"), (53, ""), (55, "")]  # Am Em F G
CHORUS_CHORDS = [(48, ""), (55, ""), (57, "m"), (53, "")]  # C G Am F
SONG = [
    ("intro", 2, VERSE_CHORDS, []),
    ("verse", 4, VERSE_CHORDS, ["city lights are calling me tonight", "I keep on running through the rain"]),
    ("chorus", 4, CHORUS_CHORDS, ["hold on hold on to the light", "we are the fire in the night"]),
    ("verse", 4, VERSE_CHORDS, ["every heartbeat is a drum", "every step a brand new day"]),
    ("chorus", 4, CHORUS_CHORDS, ["hold on hold on to the light", "we are the fire in the night"]),
    ("outro", 2, CHORUS_CHORDS, []),
]


def hz(note: float) -> float:
    """Frequency of a MIDI note number."""
    return 440.0 * 2.0 ** ((note - 69) / 12)


def add(buf: np.ndarray, t_s: float, sig: np.ndarray, gain: float = 1.0) -> None:
    """Mix ``sig`` into ``buf`` starting at ``t_s`` (clipped at the end)."""
    a = int(round(t_s * SR))
    if a >= len(buf):
        return
    n = min(len(sig), len(buf) - a)
    buf[a : a + n] += gain * sig[:n]


def kick() -> np.ndarray:
    """A sine kick sweeping 120 → 45 Hz."""
    t = np.arange(int(0.3 * SR)) / SR
    f = 45 + 75 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.12)


def snare(rng: np.random.Generator) -> np.ndarray:
    """Noise burst plus a 185 Hz body."""
    t = np.arange(int(0.2 * SR)) / SR
    return 0.6 * rng.standard_normal(t.size) * np.exp(-t / 0.05) + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04)


def hat(rng: np.random.Generator) -> np.ndarray:
    """High-passed noise tick."""
    n = rng.standard_normal(int(0.05 * SR))
    return np.diff(n, prepend=0.0) * np.exp(-np.arange(n.size) / (0.012 * SR)) * 0.5


def tone(freq: float, dur_s: float, partials: int = 6, decay_s: float = 1.0, bright: float = 1.0) -> np.ndarray:
    """A saw-like additive tone with attack and exponential decay."""
    t = np.arange(int(dur_s * SR)) / SR
    y = sum((bright**k) * np.sin(2 * np.pi * freq * (k + 1) * t) / (k + 1) for k in range(partials))
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / decay_s)
    env[-int(0.01 * SR) :] *= np.linspace(1, 0, int(0.01 * SR))
    return y * env


def chord_notes(root: int, quality: str) -> list[int]:
    """Root-position triad an octave up from ``root``."""
    third = 3 if quality == "m" else 4
    return [root + 12, root + 12 + third, root + 19]


def load_vocal() -> tuple[np.ndarray, dict[str, list[float]]]:
    """The committed espeak-ng words (resampled to 44.1 kHz) and their spans in the file."""
    import soxr

    y, sr = sf.read(HERE / "assets" / "demo_vocal.ogg", dtype="float32")
    index = json.loads((HERE / "assets" / "demo_vocal.json").read_text())["words"]
    return soxr.resample(y, sr, SR).astype(np.float32), index


def make_song(out_dir: Path) -> tuple[Path, Path]:
    """Render the demo song and its ground truth into ``out_dir``; returns both paths."""
    rng = np.random.default_rng(7)
    n_bars = sum(bars for _, bars, _, _ in SONG)
    duration = LEAD_IN_S + n_bars * BAR_S + TAIL_S
    drums = np.zeros(int(duration * SR))
    bass = np.zeros_like(drums)
    pads = np.zeros_like(drums)
    lead = np.zeros_like(drums)
    vocal = np.zeros_like(drums)
    voc, index = load_vocal()
    k, s = kick(), snare(rng)
    beats, sections, lines = [], [], []
    bar = 0
    for label, bars, chords, lyric in SONG:
        start = LEAD_IN_S + bar * BAR_S
        sections.append({"start_s": 0.0 if bar == 0 else round(start, 6), "label": label})
        loud = {"intro": 0.5, "verse": 0.55, "chorus": 1.0, "outro": 0.5}[label]
        for b in range(bars):
            t_bar = start + b * BAR_S
            root, quality = chords[b % len(chords)]
            for pos in range(BEATS_PER_BAR):
                tb = t_bar + pos * BEAT_S
                beats.append({"t_s": round(tb, 6), "bar": bar + b + 1, "position": pos + 1})
                chorus = label == "chorus"
                for half in (0.0, 0.5) if chorus else (0.0,):
                    add(drums, tb + half * BEAT_S, hat(rng), 0.35 * loud)
                if label in ("verse", "chorus") or (label == "outro" and pos == 0):
                    if pos in (0, 2) or chorus:
                        add(drums, tb, k, 0.9 * loud)
                    if pos in (1, 3) and label != "outro":
                        add(drums, tb, s, 0.55 * loud)
                if label == "verse" and pos in (0, 2):
                    add(bass, tb, tone(hz(root - 12), 0.9 * BEAT_S, 8, 0.3, 0.7), 0.3)
                if chorus:
                    for half in (0.0, 0.5):
                        add(bass, tb + half * BEAT_S, tone(hz(root - 12), 0.45 * BEAT_S, 8, 0.2, 0.8), 0.35)
                    for q in range(4):
                        note = chord_notes(root, quality)[(pos * 4 + q) % 3] + 12
                        add(lead, tb + q * BEAT_S / 4, tone(hz(note), BEAT_S / 4, 4, 0.08, 0.5), 0.12)
            for note in chord_notes(root, quality):
                add(pads, t_bar, tone(hz(note) * (1 + 0.002 * rng.standard_normal()), BAR_S, 5, 1.5, 0.6), 0.1 * loud)
        for li, text in enumerate(lyric):
            words = []
            for wi, w in enumerate(text.split()):
                t0 = start + (li * 2 * BEATS_PER_BAR + wi) * BEAT_S
                a, e = index[w.lower()]
                clip = voc[int(a * SR) : int(e * SR)]
                add(vocal, t0, clip, 0.9)
                words.append({"start_s": round(t0, 6), "end_s": round(t0 + len(clip) / SR, 6), "text": w})
            lines.append({"start_s": words[0]["start_s"], "end_s": words[-1]["end_s"], "text": text, "words": words})
        bar += bars
    for i, sec in enumerate(sections):
        sec["end_s"] = sections[i + 1]["start_s"] if i + 1 < len(sections) else round(duration, 6)
    left = drums + bass + 0.8 * pads + 0.6 * lead + vocal
    right = drums + bass + 1.2 * pads + 1.0 * lead + vocal
    mix = np.stack([left, right], axis=1)
    gain = 0.89 / np.abs(mix).max()
    mix *= gain
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / "demo_song.wav"
    sf.write(wav, mix.astype(np.float32), SR, subtype="PCM_16")
    # The isolated vocal at the mix's level (for `mvdirector render ... --vocals demo_vocals.wav`).
    sf.write(out_dir / "demo_vocals.wav", (vocal * gain).astype(np.float32), SR, subtype="PCM_16")
    truth = {
        "duration_s": round(len(mix) / SR, 6),
        "bpm": BPM,
        "beats_per_bar": BEATS_PER_BAR,
        "beats": beats,
        "downbeats": [b["t_s"] for b in beats if b["position"] == 1],
        "sections": sections,
        "lines": lines,
    }
    truth_path = out_dir / "demo_song.truth.json"
    truth_path.write_text(json.dumps(truth, indent=1) + "\n")
    return wav, truth_path


def main() -> None:
    """Command-line entry: write the demo song and its truth file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    wav, truth = make_song(args.out)
    print(f"wrote {wav} and {truth}")  # noqa: T201 - a script, not library code


if __name__ == "__main__":
    main()
