"""The assembler's VERSION and configuration: everything that changes the finished video."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mvdirector.media.video import CLIP_PRESET
from mvdirector.rules import CodecName

VERSION = "1"


class AssembleConfig(BaseModel):
    """Output format and checks of the assembler.

    ``identity_threshold`` is a dlib embedding *distance*: a shot whose singer is farther
    than this from the reference face is listed as a warning (dlib's same-person rule is
    0.6). ``reencode="always"`` re-encodes every shot (at ``crf``) instead of joining
    compatible hard-cut clips as they are. Clips are joined as they are only when our
    encoder at ``crf``/``preset`` would write the same parameter sets, so a ``crf`` other
    than the clips' re-encodes everything at that ``crf``. ``audio``: ``auto`` copies the
    song's stream when the container takes it without changing its timing (AAC from
    m4a/mp4, PCM into .mov), else encodes AAC; ``aac`` always encodes; ``copy`` fails when
    copying is impossible. ``consistency`` measures identity and colour on
    ``samples_per_shot`` frames of every shot and writes thumbnails (``thumbnails_dir``,
    default ``<video stem>.thumbs/`` beside the video).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    codec: CodecName = "h264"
    crf: int = Field(default=18, ge=0, le=51)
    preset: str = CLIP_PRESET
    colour_match: bool = False
    identity_threshold: float = Field(default=0.6, gt=0)
    faststart: bool = True
    audio: Literal["auto", "aac", "copy"] = "auto"
    reencode: Literal["auto", "always"] = "auto"
    consistency: bool = True
    samples_per_shot: int = Field(default=3, ge=1, le=32)
    thumbnails_dir: str | None = None
    identity_cache: str | None = None
    """JSON file memoising per-frame identity between runs (the pipeline puts it in the work directory)."""
    audio_cache: str | None = None
    """Folder keeping the song's encoded AAC track between runs (keyed by the song's content)."""
    piece_cache: str | None = None
    """Folder keeping re-encoded pieces (transitions, graded shots) between runs, keyed by their inputs."""
    measure_cache: str | None = None
    """Folder keeping each shot's measurement and thumbnail between runs, keyed by the parts it comes from."""
    subtitles: str | None = None
    """An SRT file muxed as a soft subtitle track (its codec follows the container, `rules.SUBTITLE_CODECS`)."""
    subtitle_language: str = "und"
    """The track's ISO 639-2 language tag (`rules.subtitle_language`)."""
    subtitle_default: bool = False
    """Whether players show the track unless the viewer turns it off (off when the lines are also burned in)."""
    chapters: str | None = None
    """An ffmetadata file of chapter markers muxed into the video."""
