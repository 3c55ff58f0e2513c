"""stages.analyze.spectral equals librosa's functions of the same names (the reference it replaces)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from stages.analyze import spectral

SR = 22050


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    """Noise, a chord with vibrato and clicks: every feature sees something."""
    rng = np.random.default_rng(7)
    t = np.arange(int(3.3 * SR)) / SR
    y = 0.05 * rng.standard_normal(t.size)
    for f in (110.0, 277.2, 329.6, 440.0):
        y += 0.2 * np.sin(2 * np.pi * f * t + 0.3 * np.sin(2 * np.pi * 5 * t))
    y[:: SR // 4] += 0.8
    return y.astype(np.float32)


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (4096, 512), (1024, 256)])
def test_stft_power(signal: np.ndarray, n_fft: int, hop: int) -> None:
    ref = np.abs(librosa.stft(signal, n_fft=n_fft, hop_length=hop)) ** 2
    ours = spectral.stft_power(signal, n_fft, hop)
    assert ours.shape == ref.shape
    assert np.allclose(ours, ref, rtol=1e-3, atol=1e-3 * ref.max())


def test_filterbanks() -> None:
    for n_mels, fmin, fmax in [(128, 0.0, None), (96, 150.0, 4000.0), (64, 0.0, None)]:
        ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=n_mels, fmin=fmin, fmax=fmax)
        assert np.allclose(spectral.mel_filterbank(SR, 2048, n_mels, fmin, fmax), ref, atol=1e-6)
    for tuning in (0.0, -0.3):
        ref = librosa.filters.chroma(sr=SR, n_fft=4096, tuning=tuning)
        assert np.allclose(spectral.chroma_filterbank(SR, 4096, tuning), ref, atol=1e-6)


def test_features_from_power(signal: np.ndarray) -> None:
    power = spectral.stft_power(signal, 4096, 512)
    assert np.allclose(
        spectral.chroma(power, SR, 4096), librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0), atol=1e-5
    )
    mel = spectral.mel_filterbank(SR, 4096, 64) @ power
    assert np.allclose(mel, librosa.feature.melspectrogram(S=power, sr=SR, n_mels=64), rtol=1e-4, atol=1e-6)
    db = spectral.power_to_db(mel)
    assert np.allclose(db, librosa.power_to_db(mel), atol=1e-3)
    assert np.allclose(spectral.mfcc(db, 13), librosa.feature.mfcc(S=db, n_mfcc=13), atol=1e-2)


def test_onset_strength(signal: np.ndarray) -> None:
    ref = librosa.onset.onset_strength(y=signal, sr=SR, hop_length=512)
    power = spectral.stft_power(signal, 2048, 512)
    ours = spectral.onset_strength(spectral.power_to_db(spectral.mel_filterbank(SR, 2048) @ power))
    assert ours.shape == ref.shape
    assert np.allclose(ours, ref, atol=1e-2 * ref.max())


def test_framewise_shares_one_stft_per_chunk() -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal(512 * 6000).astype(np.float32)
    calls: list[int] = []

    def energy(p: np.ndarray) -> np.ndarray:
        calls.append(p.shape[1])
        return p.sum(axis=0)

    loud, peak = spectral.framewise(y, [energy, lambda p: np.vstack([p.max(axis=0), p.argmax(axis=0)])])
    whole = spectral.stft_power(y)
    assert loud.shape == (1, whole.shape[1]) and peak.shape == (2, whole.shape[1])
    assert np.allclose(loud[0], whole.sum(axis=0), rtol=1e-4)
    assert len(calls) == 3  # 6001 frames in chunks of 2600: the STFT ran three times, not six
