"""The subject separation is kept in the work directory, so a new process skips GrabCut."""

from __future__ import annotations

import numpy as np
import pytest

import stages.procedural as proc
from stages.procedural import layers
from stages.reference import inspect_reference


def test_separation_survives_a_new_process(tmp_path, portrait, monkeypatch):
    from mvdirector.media.image import load_image

    image = load_image(portrait)
    ref = inspect_reference(portrait)
    proc._SEPARATION_CACHE.clear()
    first = proc._separation(image, ref, tmp_path)
    saved = list(tmp_path.glob("separation-*.npz"))
    assert len(saved) == 1

    proc._SEPARATION_CACHE.clear()  # as if in a fresh process: only the disk remains

    def no_grabcut(*a, **k):
        raise AssertionError("separate() ran although a saved separation exists")

    monkeypatch.setattr(layers, "separate", no_grabcut)
    again = proc._separation(image, ref, tmp_path)
    assert again.scale == pytest.approx(first.scale) and again.coverage == pytest.approx(first.coverage)
    assert np.array_equal(again.matte, first.matte) and np.array_equal(again.background, first.background)


def test_unreadable_saved_separation_is_ignored(tmp_path):
    bad = tmp_path / "separation-x.npz"
    bad.write_bytes(b"not an npz")
    assert layers.load_separation(bad) is None
    assert layers.load_separation(tmp_path / "missing.npz") is None


def test_prepare_leaves_the_matte_the_rig_and_the_voice_in_the_cache(tmp_path, portrait):
    """What the pipeline calls beside the analysis: afterwards a shot finds everything on disk."""
    import soundfile as sf

    from stages.procedural import ProceduralRenderer
    from stages.procedural import rig as rig_module

    t = np.arange(16000) / 16000.0
    song = tmp_path / "song.wav"
    sf.write(song, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    ref = inspect_reference(portrait)
    cache = tmp_path / "cache"
    cache.mkdir()
    proc._SEPARATION_CACHE.clear()
    rig_module._SETUPS.clear()
    ProceduralRenderer().prepare(ref, portrait, song, cache)
    names = {p.name.split("-")[0] for p in cache.iterdir()}
    assert ref.primary_face is not None and {"separation", "rig", "voice"} <= names
