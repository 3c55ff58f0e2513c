"""analyze(): contract, beats against a synthesized grid, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from mvdirector.errors import InputError
from stages.analyze import AnalyzeConfig, analyze

SR = 22050


def _click_song(path: Path, bpm: float = 120.0, beats_per_bar: int = 4, dur_s: float = 20.0, start_s: float = 1.0):
    """Kick on downbeats, snare on backbeats, hats on every beat, a chord per bar; returns beat times."""
    rng = np.random.default_rng(1)
    n = int(dur_s * SR)
    x = np.zeros(n, np.float32)
    beats = np.arange(start_s, dur_s - 0.3, 60.0 / bpm)
    k = np.arange(int(0.25 * SR))
    for i, tb in enumerate(beats):
        a = int(tb * SR)
        seg = slice(a, min(n, a + k.size))
        m = seg.stop - a
        if i % beats_per_bar == 0:
            x[seg] += (0.9 * np.exp(-k / 1500) * np.sin(2 * np.pi * 55 * k / SR))[:m]
        else:
            x[seg] += (0.25 * rng.standard_normal(k.size) * np.exp(-k / 700))[:m]
        x[seg] += (0.08 * rng.standard_normal(k.size) * np.exp(-k / 90))[:m]
    t = np.arange(n) / SR
    for b, tb in enumerate(beats[::beats_per_bar]):
        f = (220.0, 174.6, 261.6, 196.0)[b % 4]
        a, e = int(tb * SR), min(n, int((tb + beats_per_bar * 60 / bpm) * SR))
        x[a:e] += 0.05 * sum(np.sin(2 * np.pi * f * r * t[a:e]) for r in (1.0, 1.26, 1.5))
    sf.write(path, x, SR)
    return beats


@pytest.mark.parametrize("tracker", ["madmom", "librosa"])
def test_beats_and_downbeats_on_a_click_song(tmp_path: Path, tracker: str) -> None:
    song = tmp_path / "click.wav"
    truth = _click_song(song, bpm=120.0)
    a = analyze(song, AnalyzeConfig(beats=tracker, asr="none"))
    assert a.source.sha256 and a.source.sample_rate == SR and a.source.channels == 1
    assert abs(a.source.duration_s - 20.0) < 0.01
    est = np.array(a.beat_times)
    assert mir_eval.beat.f_measure(truth, est) >= 0.9
    assert abs(a.bpm - 120.0) < 3.0
    assert a.beats_per_bar == 4
    assert mir_eval.beat.f_measure(truth[::4], np.array(a.downbeats)) >= 0.8
    # contract: sections tile the song, energy in range, json round trip
    assert a.sections[0].start_s == 0.0 and abs(a.sections[-1].end_s - a.source.duration_s) < 1e-3
    for s0, s1 in zip(a.sections, a.sections[1:], strict=False):
        assert s0.end_s == s1.start_s
    assert all(0.0 <= v <= 1.0 for v in a.energy.values)
    assert len(a.energy.values) >= 20.0 * a.energy.fps
    assert type(a).model_validate_json(a.model_dump_json()) == a


def test_no_beats_placed_in_a_silent_intro(tmp_path: Path) -> None:
    song = tmp_path / "late.wav"
    truth = _click_song(song, dur_s=16.0, start_s=5.0)
    a = analyze(song, AnalyzeConfig(asr="none"))
    assert min(a.beat_times) > 4.8
    assert mir_eval.beat.f_measure(truth, np.array(a.beat_times)) >= 0.9
    assert a.energy.at(2.0) == 0.0 and a.energy.at(8.0) > 0.5


def test_missing_short_silent_and_corrupt_audio_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        analyze(tmp_path / "nope.wav", AnalyzeConfig(asr="none"))
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * np.random.default_rng(0).standard_normal(SR * 2).astype(np.float32), SR)
    with pytest.raises(InputError, match="at least 3 s"):
        analyze(short, AnalyzeConfig(asr="none"))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR * 5, np.float32), SR)
    with pytest.raises(InputError, match="silent"):
        analyze(silent, AnalyzeConfig(asr="none"))
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 20)
    with pytest.raises(InputError):
        analyze(corrupt, AnalyzeConfig(asr="none"))


def test_config_is_strict_and_checks_the_lyrics_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        AnalyzeConfig(beats="aubio")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AnalyzeConfig(unknown=1)  # type: ignore[call-arg]
    song = tmp_path / "s.wav"
    _click_song(song, dur_s=5.0)
    with pytest.raises(InputError, match="lyrics file"):
        analyze(song, AnalyzeConfig(asr="none", lyrics=str(tmp_path / "missing.lrc")))


def test_onset_strength_peaks_on_the_beats(tmp_path: Path) -> None:
    song = tmp_path / "click.wav"
    truth = _click_song(song, dur_s=10.0)
    a = analyze(song, AnalyzeConfig(asr="none"))
    onset = a.onset_strength
    assert onset is not None and onset.fps == a.energy.fps and len(onset.values) == len(a.energy.values)
    on_beat = np.mean([onset.at(t) for t in truth])
    off_beat = np.mean([onset.at(t + 0.25) for t in truth[:-1]])
    assert on_beat > 0.5 and on_beat > 3 * off_beat
