"""The lyrics step: which language, whether the recogniser may speak, and how words get times.

1. The language: ``--language``, else the lyrics file's text (`language.text_language`), else
   what a multilingual Whisper detects in the voiced audio.
2. A recogniser that cannot transcribe that language (the bundled tiny.en with French lyrics)
   is not run: its English guesses would be invented words. With no text and no
   ``--language``, an English-only model keeps only phrases that hold together as English
   (`english_filter`), and none when most do not. Either way the user gets one warning line
   (`Lyrics.warning`).
3. Word times: recognised words, or a lyrics file aligned to them; without usable recognised
   words a file is aligned by its syllables to the voice (`sung_align`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mvdirector.schemas import LanguageGuess, LyricLine, Lyrics, Segment, Word

from . import language as lang_mod
from . import lyrics as lyrics_mod
from .align import fill_times, normalize
from .config import AnalyzeConfig
from .lyrics_file import fit_to_song, read_lyrics
from .sung_align import SungWord, align_syllables, normalised_onset, voice_from_segments
from .syllables import syllable_count

Progress = Callable[[float, str], None]
MIN_LOGPROB = -1.1  # an English-only model's phrase below this mean token log-probability is not trusted
MIN_WORD_PROB = 0.35  # ... nor one whose words average below this probability
MIN_KEPT = 0.5  # when less than this share of the words passes, none is kept: the song is not in English


@dataclass(frozen=True)
class Voice:
    """What the vocal-activity step knows: segments, voice-band onset strength and its frame rate."""

    segments: list[Segment]
    onset: np.ndarray
    fps: float


def _loop(words: list[str]) -> bool:
    """True when a phrase of 3+ words repeats back to back, or one word 4 times: Whisper's hallucination loops."""
    w = [normalize(x) for x in words]
    for n in range(3, 9):
        if any(w[i : i + n] == w[i + n : i + 2 * n] for i in range(len(w) - 2 * n + 1)):
            return True
    return any(len(set(w[i : i + 4])) == 1 for i in range(len(w) - 3))


def english_filter(asr: lyrics_mod.AsrResult) -> tuple[lyrics_mod.AsrResult, str | None, float]:
    """An English-only model's transcript of a song in an unknown language: the phrases that hold
    together as English, a reason when so few do that none is kept, and the share kept.

    Forced onto French or German singing, such a model writes English-sounding words with low
    token log-probabilities, or falls into loops ("behold, behold, …", a stock phrase twice).
    """
    # A hallucination loop is dropped whatever the language (Whisper loops on English music too), so it
    # does not count for or against the song being English.
    segs = [s for s in lyrics_mod.trusted_segments(asr) if not _loop([w.text for w in s.words])]
    keep = [
        s
        for s in segs
        if s.avg_logprob >= MIN_LOGPROB and np.mean([w.probability for w in s.words]) >= MIN_WORD_PROB
    ]
    n_all, n_keep = sum(len(s.words) for s in segs), sum(len(s.words) for s in keep)
    reason = None
    if n_all and n_keep < MIN_KEPT * n_all:
        keep, reason = [], f"{n_all - n_keep} of its {n_all} words were unsure"
    return replace(asr, segments=keep), reason, (n_keep / n_all if n_all and keep else 0.0)


def _guess(g: lang_mod.Guess | None) -> LanguageGuess | None:
    return LanguageGuess(code=g.code, confidence=g.confidence, by=g.by) if g else None


def run(
    y16: Callable[[float, float], np.ndarray],
    duration_s: float,
    config: AnalyzeConfig,
    voice: Voice,
    backend: tuple[str, str] | None,
    progress: Progress,
    clips: list[tuple[float, float]],
    refine: Callable[[list[float], list[float]], list[float]],
    place: Callable[[float, float, int], list[float] | None],
) -> tuple[Lyrics, lyrics_mod.AsrResult | None, str]:
    """Lyrics (with languages and any warning), the ASR result when it ran and was kept, and a provenance line.

    ``y16(start_s, end_s)`` makes 16 kHz audio on demand (only when a recogniser runs), a stretch at a
    time, so a long song is never held whole at 16 kHz.
    """
    lyrics_file = read_lyrics(config.lyrics) if config.lyrics else None
    file_lines = fit_to_song(lyrics_file.lines, duration_s) if lyrics_file else None
    text_guess = lang_mod.text_language("\n".join(ln.text for ln in file_lines)) if file_lines else None
    wanted = lang_mod.final_language(config.language, text_guess, None)
    warning = None
    asr = None
    english = None
    model_name = ""
    if backend is not None:
        langs = lyrics_mod.model_languages(*backend)
        model_name = lyrics_mod.model_display_name(*backend)
        if wanted is not None and langs is not None and wanted.code not in langs:
            warning = (
                f"the lyrics are in '{wanted.code}' (from {wanted.by}) but the Whisper model {model_name} "
                f"transcribes only English, so no words were recognised"
                + ("; the lyrics file was aligned to the singing by syllables" if file_lines else "")
                + "; pass --asr-model DIR with a multilingual Whisper model"
            )
        else:
            asr = lyrics_mod.transcribe_song(
                y16, duration_s, backend[0], backend[1], wanted.code if wanted else None, progress, clips
            )
            asr = lyrics_mod.refine_asr_times(asr, refine)
            if langs is not None and wanted is None:
                asr, doubt, kept = english_filter(asr)
                if asr.words:  # what an English-only model kept is English, as sure as the share kept
                    english = lang_mod.Guess("en", round(kept, 3), f"{model_name} transcript (English-only model)")
                if doubt:
                    warning = (
                        f"the singing does not sound like English to the English-only Whisper model {model_name} "
                        f"({doubt}), so no words were kept; pass --language CODE, --lyrics FILE, or --asr-model "
                        "DIR with a multilingual Whisper model"
                    )
    audio_guess = None
    if asr is not None and asr.language_probability is not None:
        audio_guess = lang_mod.Guess(asr.language, round(asr.language_probability, 3), f"audio: {asr.model}")
    final = lang_mod.final_language(config.language, text_guess, audio_guess) or english
    if backend is not None and lyrics_mod.model_languages(*backend) is not None:
        audio_note = f"audio language not identified ({model_name} is English-only)"
    else:
        audio_note = ""

    if file_lines is not None:
        name = Path(config.lyrics or "").name
        if asr is not None and asr.words:
            lyrics = lyrics_mod.lyrics_from_file(file_lines, asr, duration_s, place)
            by = f"file {name} aligned with {asr.backend} {asr.model}"
        else:
            lyrics = sung_lyrics(file_lines, final.code if final else None, voice, duration_s)
            by = f"file {name} aligned by syllables (pyphen) to voice onsets in the vocal regions, no ASR words"
    elif asr is not None and asr.segments:
        lyrics = lyrics_mod.lyrics_from_asr(asr)
        by = f"{asr.backend} {asr.model}"
    else:
        lyrics = Lyrics(source="none")
        by = "none" if backend is None else f"none ({model_name} words not used)"
    if audio_note:
        by += f"; {audio_note}"
    if lyrics_file is not None and lyrics_file.warning:
        warning = f"{lyrics_file.warning}; {warning}" if warning else lyrics_file.warning
    lyrics = lyrics.model_copy(
        update={
            "language": final.code if final else None,
            "language_confidence": final.confidence if final else None,
            "text_language": _guess(text_guess),
            "audio_language": _guess(audio_guess),
            "warning": warning,
        }
    )
    if final is not None:
        by += f"; language {final.code} from {final.by}"
    return lyrics, asr, by


def sung_lyrics(lines: list[lyrics_mod.FileLine], language: str | None, voice: Voice, duration_s: float) -> Lyrics:
    """A lyrics file placed on the singing without recognised words (`sung_align`).

    A plain text is aligned over the whole song; a timed file (.lrc, .srt) line by line inside
    each line's span.
    """
    prob = voice_from_segments(voice.segments, len(voice.onset), voice.fps)
    onset = normalised_onset(voice.onset, prob)
    out: list[LyricLine] = []
    if all(ln.start_s is not None for ln in lines):
        for ln in lines:
            start = float(ln.start_s or 0.0)
            end = float(ln.end_s) if ln.end_s is not None else min(duration_s, start + 5.0)
            end = min(max(end, start + 0.1), duration_s)
            a, b = int(start * voice.fps), max(int(start * voice.fps) + 1, int(end * voice.fps))
            words = ln.text.split()
            times = _align_or_spread([words], language, prob[a:b], onset[a:b], voice.fps, start)
            out.append(_line(ln.text, words, [(x + start, y + start) for x, y in times], start, end))
        return Lyrics(source="file", lines=out)
    per_line = [ln.text.split() for ln in lines]
    times = _align_or_spread(per_line, language, prob, onset, voice.fps, 0.0)
    k = 0
    for ln, words in zip(lines, per_line, strict=True):
        if words:
            span = times[k : k + len(words)]
            out.append(_line(ln.text, words, span, span[0][0], span[-1][1]))
        k += len(words)
    return Lyrics(source="file", lines=out)


def _align_or_spread(
    lines: list[list[str]], language: str | None, prob: np.ndarray, onset: np.ndarray, fps: float, offset: float
) -> list[tuple[float, float]]:
    """Word (start, end) seconds from the frame span's start; spread by length when the syllables do not fit."""
    words = [
        SungWord(syllable_count(w, language), j == len(ws) - 1) for ws in lines for j, w in enumerate(ws)
    ]
    try:
        return align_syllables(words, prob, onset, fps)
    except ValueError:
        flat = [w for ws in lines for w in ws]
        span = len(prob) / fps
        return fill_times(len(flat), {}, 0.0, span, [len(normalize(w)) for w in flat])


def _line(text: str, words: list[str], times: list[tuple[float, float]], start: float, end: float) -> LyricLine:
    ws = [
        Word(start_s=round(a, 3), end_s=round(max(b, a + 0.01), 3), text=w, confidence=0.5)
        for w, (a, b) in zip(words, times, strict=True)
    ]
    return LyricLine(start_s=round(start, 3), end_s=round(max(end, start), 3), text=text, words=ws)
