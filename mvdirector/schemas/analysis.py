"""What the analysis hears: the song's source, beats, sections, energy, vocals and lyrics."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mvdirector.rules import MAX_TEXT_CHARS, frame_index
from mvdirector.schemas.base import MAX_SONG_S, Contract, SectionLabel


class AudioSource(Contract):
    """The audio file an analysis or plan was made from."""

    path: str
    sha256: str
    duration_s: float = Field(gt=0)
    sample_rate: int = Field(gt=0)
    channels: int = Field(default=1, ge=1)


class Beat(Contract):
    """One beat: its time, 1-based bar number and 1-based position in the bar (1 = downbeat)."""

    t_s: float = Field(ge=0)
    bar: int = Field(ge=0)
    position: int = Field(ge=1)


class Section(Contract):
    """A structural section; ``group`` ties repeats (two choruses share a group id)."""

    start_s: float = Field(ge=0)
    end_s: float
    label: SectionLabel
    group: int = Field(default=0, ge=0)
    energy: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Section:
        if self.end_s <= self.start_s:
            raise ValueError(f"section ends at {self.end_s} s, not after its start {self.start_s} s")
        return self


class EnergyCurve(Contract):
    """A loudness curve sampled at ``fps``, values in 0..1."""

    fps: float = Field(gt=0)
    values: list[float] = Field(default_factory=list)

    @field_validator("values")
    @classmethod
    def _unit(cls, v: list[float]) -> list[float]:
        for i, x in enumerate(v):
            if not (0.0 <= x <= 1.0) or math.isnan(x):
                raise ValueError(f"energy value {x} at index {i} is outside 0..1")
        return v

    def at(self, t_s: float) -> float:
        """Energy at time ``t_s`` (nearest sample; 0.5 when the curve is empty)."""
        if not self.values:
            return 0.5
        i = min(len(self.values) - 1, max(0, frame_index(t_s, self.fps)))
        return self.values[i]


class Segment(Contract):
    """A time span, e.g. where a voice is active."""

    start_s: float = Field(ge=0)
    end_s: float

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end_s < self.start_s:
            raise ValueError(f"segment ends at {self.end_s} s before it starts at {self.start_s} s")
        return self


class Word(Contract):
    """One word with its time span and recognition confidence (1.0 for given text)."""

    start_s: float = Field(ge=-MAX_SONG_S, le=MAX_SONG_S)
    end_s: float = Field(ge=-MAX_SONG_S, le=MAX_SONG_S)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    confidence: float = Field(default=1.0, ge=0, le=1)


class LyricLine(Contract):
    """A line of lyrics with its words."""

    start_s: float = Field(ge=-MAX_SONG_S, le=MAX_SONG_S)
    end_s: float = Field(ge=-MAX_SONG_S, le=MAX_SONG_S)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    words: list[Word] = Field(default_factory=list)


class LanguageGuess(Contract):
    """A guess of the lyrics' language: ISO 639 code, confidence and what made it."""

    code: str
    confidence: float = Field(ge=0, le=1)
    by: str


class Lyrics(Contract):
    """Lyrics with word timings; ``source`` says where the words came from.

    ``language`` is the final call (None when unknown, never "en" by default), made from
    ``--language``, else ``text_language`` (the lyrics file's text), else ``audio_language``
    (a multilingual Whisper's detection); ``language_confidence`` is that guess's confidence.
    ``warning`` is one line for the user when the words could not be recognised or were dropped.
    """

    source: Literal["asr", "file", "none"] = "none"
    language: str | None = None
    language_confidence: float | None = Field(default=None, ge=0, le=1)
    text_language: LanguageGuess | None = None
    audio_language: LanguageGuess | None = None
    warning: str | None = None
    lines: list[LyricLine] = Field(default_factory=list)


class AudioAnalysis(Contract):
    """Everything the director needs to know about a song."""

    source: AudioSource
    bpm: float = Field(gt=0)
    beats_per_bar: int = Field(ge=1, le=16)
    beats: list[Beat]
    sections: list[Section]
    energy: EnergyCurve
    onset_strength: EnergyCurve | None = None
    vocal_activity: list[Segment] = Field(default_factory=list)
    lyrics: Lyrics = Field(default_factory=Lyrics)
    provenance: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> AudioAnalysis:
        times = [b.t_s for b in self.beats]
        if any(b <= a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError("beats must be strictly increasing in time")
        for s in self.sections:
            if s.end_s > self.source.duration_s + 1e-3:
                dur = self.source.duration_s
                raise ValueError(f"section {s.label} ends at {s.end_s:.3f} s, after the song's {dur:.3f} s")
        return self

    @property
    def downbeats(self) -> list[float]:
        """Times of the beats at position 1."""
        return [b.t_s for b in self.beats if b.position == 1]

    @property
    def beat_times(self) -> list[float]:
        """Times of all beats."""
        return [b.t_s for b in self.beats]
