"""The demo song script runs offline in seconds and analyze() recovers its known grid and form."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import mir_eval
import numpy as np
import soundfile as sf

from stages.analyze import AnalyzeConfig, analyze

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "make_demo_song.py"


def test_demo_song_is_made_fast_and_analysed_right(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_demo_song", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    t0 = time.perf_counter()
    wav, truth_path = mod.make_song(tmp_path)
    assert time.perf_counter() - t0 < 30  # "a few seconds"; generous for a loaded CI machine
    truth = json.loads(truth_path.read_text())
    info = sf.info(wav)
    assert info.samplerate == 44100 and info.channels == 2
    assert 40 <= info.duration <= 50 and abs(info.duration - truth["duration_s"]) < 1e-3
    assert [s["label"] for s in truth["sections"]] == ["intro", "verse", "chorus", "verse", "chorus", "outro"]
    assert len(truth["lines"]) == 8 and truth["lines"][0]["words"][0]["text"] == "city"

    a = analyze(wav, AnalyzeConfig(asr="none"))
    ref = np.array([b["t_s"] for b in truth["beats"]])
    assert mir_eval.beat.f_measure(ref, np.array(a.beat_times)) >= 0.95
    assert mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(a.downbeats)) >= 0.9
    assert a.source.channels == 2 and a.beats_per_bar == 4 and abs(a.bpm - 116) < 2
    assert [s.label for s in a.sections] == [s["label"] for s in truth["sections"]]
    starts = np.array([s.start_s for s in a.sections])
    assert np.abs(starts - np.array([s["start_s"] for s in truth["sections"]])).max() < 0.1
