"""The analyze stage's configuration: everything that changes an `AudioAnalysis`."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ASR_CHOICES = re.compile(r"^(auto|none|faster-whisper|openai-whisper(:[\w.\-]+)?)$")
"""The lyric recognisers ``asr`` may name."""


class AnalyzeConfig(BaseModel):
    """Options of `stages.analyze.analyze`; all of them belong in the stage's cache key.

    ``beats`` picks the beat tracker: ``madmom`` (RNN + DBN, model licence CC BY-NC-SA, the
    default) or ``librosa`` (ISC licence, for commercial use). ``asr`` picks the lyric
    recogniser: ``auto`` (faster-whisper with the bundled tiny.en model when installed, else
    none), ``none``, ``faster-whisper`` or ``openai-whisper:<size>``; ``asr_model`` is a local
    model directory (CTranslate2 for faster-whisper) or checkpoint file (openai-whisper).
    ``lyrics`` is a user lyrics file (.txt, .lrc or .srt) that is aligned to the audio.
    ``meters`` are the bar lengths (in beats) the downbeat tracker chooses from: 2 covers 2/4
    and 6/8 (two dotted-quarter beats of three eighths), 3 covers 3/4, 4 covers 4/4.
    ``language`` (ISO code) is passed to a multilingual Whisper model; an English-only model
    refuses any other language with a clear error. ``vocals`` is an isolated vocal stem on the
    song's clock: vocal activity and ASR listen to it instead of the mix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    beats: Literal["madmom", "librosa"] = "madmom"
    asr: str = Field(default="auto", max_length=64)
    asr_model: str | None = Field(default=None, max_length=4096)
    lyrics: str | None = Field(default=None, max_length=4096)
    language: str | None = Field(default=None, max_length=8)
    vocals: str | None = Field(default=None, max_length=4096)
    meters: tuple[int, ...] = Field(default=(2, 3, 4), max_length=8)
    min_bpm: float = Field(default=55.0, gt=10, lt=400)
    max_bpm: float = Field(default=215.0, gt=10, lt=400)
    min_section_s: float = Field(default=4.0, ge=0, le=600)
    energy_fps: float = Field(default=10.0, gt=0, le=100)

    @field_validator("asr")
    @classmethod
    def _asr(cls, v: str) -> str:
        if not ASR_CHOICES.match(v):
            raise ValueError(f"--asr '{v}' is not auto, none, faster-whisper or openai-whisper:SIZE (e.g. small)")
        return v
