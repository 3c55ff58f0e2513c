"""Shared fixtures: a tiny synthetic song with a known beat grid and a small portrait."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def synth_song(path: Path, bpm: float = 120.0, seconds: float = 8.0, sr: int = 22050, beats_per_bar: int = 4) -> Path:
    """Write a drum-and-chord loop whose beats fall exactly every 60/bpm s (downbeats accented)."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, dtype=np.float64)
    period = 60.0 / bpm
    rng = np.random.default_rng(0)
    k = 0
    while k * period < seconds:
        start = int(k * period * sr)
        down = k % beats_per_bar == 0
        length = min(n - start, int(0.12 * sr))
        env = np.exp(-np.arange(length) / (0.025 * sr))
        if down:  # kick
            f = 60 + 90 * np.exp(-np.arange(length) / (0.01 * sr))
            y[start:start + length] += 0.9 * env * np.sin(2 * np.pi * np.cumsum(f) / sr)
        y[start:start + length] += (0.25 if down else 0.15) * env * rng.standard_normal(length)  # hat/snare
        k += 1
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7)]
    bar = beats_per_bar * period
    for i, f in enumerate(np.array(chords)[(np.floor(t / bar) % 2).astype(int)].T):
        y += 0.05 * np.sin(2 * np.pi * f * t + i)
    y /= np.max(np.abs(y)) * 1.1
    import soundfile as sf

    sf.write(str(path), y.astype(np.float32), sr)
    return path


@pytest.fixture(scope="session")
def click_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8 s, 120 bpm, 4/4 synthetic song (wav)."""
    return synth_song(tmp_path_factory.mktemp("song") / "song.wav")


@pytest.fixture(scope="session")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public-domain astronaut portrait from scikit-image, 256 px, as PNG."""
    from PIL import Image
    from skimage import data

    p = tmp_path_factory.mktemp("ref") / "singer.png"
    Image.fromarray(data.astronaut()).resize((256, 256)).save(p)
    return p


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster (and cost less CPU on a busy machine) on one thread: ``pytestmark`` it per module."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
