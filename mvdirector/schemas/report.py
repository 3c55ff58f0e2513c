"""What rendering and assembly made: clips, per-shot measurements and the render report."""

from __future__ import annotations

from pydantic import Field

from mvdirector.schemas.base import Contract


class ShotClip(Contract):
    """A rendered shot on disk."""

    shot_id: str
    path: str
    frames: int = Field(ge=1)
    fps: float = Field(gt=0)
    width: int
    height: int
    cache_key: str
    cached: bool = False
    render_s: float = 0.0
    metrics: dict[str, float] = Field(default_factory=dict)


class ShotReport(Contract):
    """Per-shot line of the render report."""

    shot_id: str
    start_s: float
    end_s: float
    framing: str
    move: str
    cached: bool
    render_s: float
    identity_similarity: float | None = None
    identity_distance: float | None = None
    lab_mean: tuple[float, float, float] | None = None
    lab_std: tuple[float, float, float] | None = None
    warnings: list[str] = Field(default_factory=list)
    transition_in: str = "cut"
    identity_frames: int = 0
    colour_delta_e: float | None = None
    needs_rerender: bool = False
    thumbnail: str | None = None
    reference: str | None = None
    """Id of the photo the shot shows (``Shot.reference``)."""
    reference_kind: str | None = None
    """singer, look or scene; identity is measured against the singer's photo unless it is a scene."""


class RenderReport(Contract):
    """What a render made, how long it took and how consistent it is."""

    video: str
    duration_s: float
    song_duration_s: float
    frames: int
    fps: float
    width: int
    height: int
    av_offset_s: float = 0.0
    shots: list[ShotReport] = Field(default_factory=list)
    cache_hits: int = 0
    rendered: int = 0
    stage_s: dict[str, float] = Field(default_factory=dict)
    total_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)
    codec: str | None = None
    audio_codec: str | None = None
    copied_shots: int = 0
    reencoded_shots: int = 0
    reencoded_frames: int = 0
    assemble_s: float = 0.0
    mouth_strip: str | None = None  # an image of the mouth over one sung line, relative to the report
    mouth_strip_line: str | None = None
    aspect: str | None = None  # the format of this video ("9:16") when --formats asked for several
    cover: str | None = None  # the cover image beside the video
    subtitle_language: str | None = None  # ISO 639-2 tag of the soft subtitle track; None without one
    chapters: list[str] = Field(default_factory=list)  # chapter titles muxed into the video
    lyric_files: list[str] = Field(default_factory=list)  # .srt/.vtt/.lrc written beside the video
