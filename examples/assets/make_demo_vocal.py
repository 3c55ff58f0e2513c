"""Make `demo_vocal.ogg`: every word of the demo song's lyrics, spoken once by espeak-ng.

Run once by a maintainer (needs the Debian package `espeak-ng`); the output is committed so
`examples/make_demo_song.py` needs nothing but numpy and soundfile. The words lie back to
back with short gaps; `demo_vocal.json` gives each word's span in the file.

    python examples/assets/make_demo_vocal.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 22050
GAP_S = 0.08
LYRICS = [
    "city lights are calling me tonight",
    "I keep on running through the rain",
    "hold on hold on to the light",
    "we are the fire in the night",
    "every heartbeat is a drum",
    "every step a brand new day",
]


def speak(word: str, pitch: int = 55, speed: int = 165) -> np.ndarray:
    """One word spoken by espeak-ng, as float32 at 22.05 kHz with leading/trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "w.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", str(speed), "-p", str(pitch), "-w", str(wav), word], check=True
        )
        y, sr = sf.read(wav, dtype="float32")
    if sr != SR:
        raise RuntimeError(f"espeak-ng wrote {sr} Hz, expected {SR}")
    return trim(y)


def trim(y: np.ndarray, floor_db: float = -35.0) -> np.ndarray:
    """Cut leading and trailing audio more than ``floor_db`` below the peak (5 ms frames)."""
    hop = SR // 200
    n = len(y) // hop
    rms = np.sqrt((y[: n * hop].reshape(n, hop) ** 2).mean(axis=1) + 1e-12)
    on = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    return y[on[0] * hop : (on[-1] + 1) * hop]


def main() -> None:
    """Speak each distinct word once and write the ogg file and its word index."""
    words = sorted({w.lower() for line in LYRICS for w in line.split()})
    parts, index, t = [], {}, 0.0
    for w in words:
        y = speak(w)
        y = 0.8 * y / np.abs(y).max()
        index[w] = [round(t, 5), round(t + len(y) / SR, 5)]
        parts += [y, np.zeros(int(GAP_S * SR), np.float32)]
        t += len(y) / SR + int(GAP_S * SR) / SR
    audio = np.concatenate(parts)
    sf.write(HERE / "demo_vocal.ogg", audio, SR, format="OGG", subtype="VORBIS", compression_level=0.6)
    (HERE / "demo_vocal.json").write_text(json.dumps({"sample_rate": SR, "words": index}, indent=1) + "\n")


if __name__ == "__main__":
    main()
