"""Every data contract that crosses a stage boundary (DESIGN §3).

All contracts are frozen pydantic models that forbid unknown fields and carry a
``schema_version``. Units are in the field names. Times inside a plan lie on the frame
grid of ``ShotPlan.render.fps``; shot-relative times (lyric words) are seconds from the
shot's start.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # networkx is imported where a plan's graph is built: `analyze` never needs it
    import networkx as nx

SCHEMA_VERSION = 1
FRAME_EPS = 1e-6

SectionLabel = Literal[
    "intro", "verse", "pre_chorus", "chorus", "bridge", "instrumental", "outro", "part"
]  # "part": music without verse/chorus form; its section's group id names it (0 = part A, 1 = B, …)
SECTION_LABELS: tuple[str, ...] = SectionLabel.__args__  # type: ignore[attr-defined]

Framing = Literal["extreme_close_up", "close_up", "medium", "wide", "extreme_wide"]
FRAMINGS: tuple[str, ...] = Framing.__args__  # type: ignore[attr-defined]

CameraMoveName = Literal[
    "static", "push_in", "pull_out", "pan", "tilt", "orbit", "crane", "dolly_zoom", "handheld"
]
CAMERA_MOVES: tuple[str, ...] = CameraMoveName.__args__  # type: ignore[attr-defined]

Easing = Literal["linear", "ease_in", "ease_out", "ease_in_out"]
TransitionKind = Literal["cut", "crossfade", "flash", "whip"]
RendererName = Literal["procedural", "dit"]


class Contract(BaseModel):
    """Base of every contract: frozen, no unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: int = SCHEMA_VERSION


def on_frame_grid(t_s: float, fps: float) -> bool:
    """True when ``t_s`` is a whole number of frames at ``fps``."""
    x = t_s * fps
    return abs(x - round(x)) <= FRAME_EPS * max(1.0, abs(x))


def snap_to_grid(t_s: float, fps: float) -> float:
    """The frame-grid time nearest to ``t_s``."""
    return round(t_s * fps) / fps


# --------------------------------------------------------------------------- analysis


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
        i = min(len(self.values) - 1, max(0, int(round(t_s * self.fps))))
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

    start_s: float
    end_s: float
    text: str
    confidence: float = Field(default=1.0, ge=0, le=1)


class LyricLine(Contract):
    """A line of lyrics with its words."""

    start_s: float
    end_s: float
    text: str
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


# -------------------------------------------------------------------------- reference


class Face(Contract):
    """A detected face: box (x0, y0, x1, y1) in pixels, 68 landmarks, 128-d identity embedding."""

    box: tuple[int, int, int, int]
    score: float = 1.0
    landmarks: list[tuple[float, float]] = Field(default_factory=list)
    embedding: list[float] = Field(default_factory=list)

    @property
    def area(self) -> int:
        """Box area in pixels."""
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


class ReferenceInfo(Contract):
    """The singer's portrait as inspected once: size, faces and which face is the singer."""

    path: str
    sha256: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    faces: list[Face] = Field(default_factory=list)
    primary: int | None = None
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _primary_in_range(self) -> ReferenceInfo:
        if self.primary is not None and not (0 <= self.primary < len(self.faces)):
            raise ValueError(f"primary face index {self.primary} is out of range 0..{len(self.faces) - 1}")
        return self

    @property
    def primary_face(self) -> Face | None:
        """The singer's face, if one was found."""
        return None if self.primary is None else self.faces[self.primary]


# ------------------------------------------------------------------------------- plan


class CameraKeyframe(Contract):
    """A camera pose at shot-relative time fraction ``t`` (0 = first frame, 1 = last).

    Position is in units of the framing's subject distance (the subject sits at z = 1 in
    front of the base camera; +x right, +y up, +z forward). Rotation is yaw, pitch, roll
    in degrees; ``fov_deg`` is the vertical field of view, with 0 meaning "the framing's".
    ``easing`` shapes the motion from this keyframe to the next.
    """

    t: float = Field(ge=0, le=1)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fov_deg: float = Field(default=0.0, ge=0, lt=180)
    easing: Easing = "ease_in_out"


class Camera(Contract):
    """A named move, its intensity and easing, and the explicit keyframes it expands to.

    ``direction`` is +1 or -1: pan right/left, tilt up/down, orbit clockwise/counter,
    crane up/down. When ``keyframes`` is non-empty it is what renderers follow; to change
    the move by hand, edit ``move`` and delete ``keyframes`` (they are re-expanded).
    """

    move: CameraMoveName = "static"
    intensity: float = Field(default=0.5, ge=0, le=1)
    easing: Easing = "ease_in_out"
    direction: Literal[-1, 1] = 1
    keyframes: list[CameraKeyframe] = Field(default_factory=list)

    @field_validator("keyframes")
    @classmethod
    def _sorted(cls, v: list[CameraKeyframe]) -> list[CameraKeyframe]:
        ts = [k.t for k in v]
        if ts != sorted(ts):
            raise ValueError("camera keyframes must be in increasing t")
        if v and (ts[0] != 0.0 or ts[-1] != 1.0):
            raise ValueError("camera keyframes must start at t=0 and end at t=1")
        return v


class Transition(Contract):
    """How a shot enters: cut, crossfade, flash or whip, ``beats`` long (0 for a cut)."""

    kind: TransitionKind = "cut"
    beats: float = Field(default=0.0, ge=0, le=8)

    @model_validator(mode="after")
    def _cut_has_no_length(self) -> Transition:
        if self.kind == "cut" and self.beats != 0:
            raise ValueError("a 'cut' transition has no length; set beats to 0 or pick crossfade/flash/whip")
        return self


class LyricOverlay(Contract):
    """The lyric line shown in a shot; word times are seconds from the shot's start."""

    line: str
    words: list[Word] = Field(default_factory=list)


class Shot(Contract):
    """One shot of the plan."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    start_s: float = Field(ge=0)
    end_s: float
    section: SectionLabel
    framing: Framing = "medium"
    camera: Camera = Field(default_factory=Camera)
    prompt: str = ""
    lyric: LyricOverlay | None = None
    transition_in: Transition = Field(default_factory=Transition)
    energy: float = Field(default=0.5, ge=0, le=1)
    seed: int = Field(default=0, ge=0)
    continues_from: str | None = None
    renderer: RendererName | None = None
    renderer_options: dict[str, float | int | str | bool] = Field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length of the shot in seconds."""
        return self.end_s - self.start_s

    def frame_range(self, fps: float) -> tuple[int, int]:
        """First frame and one-past-last frame of this shot at ``fps``."""
        return int(round(self.start_s * fps)), int(round(self.end_s * fps))

    def n_frames(self, fps: float) -> int:
        """Number of frames of this shot at ``fps``."""
        a, b = self.frame_range(fps)
        return b - a


class RenderSettings(Contract):
    """Output size, frame rate, renderer, style and global seed."""

    width: int = Field(default=1280, ge=16, le=7680)
    height: int = Field(default=720, ge=16, le=4320)
    fps: float = Field(default=24.0, gt=0, le=120)
    renderer: RendererName = "procedural"
    style: str = "cinematic"
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _even(self) -> RenderSettings:
        if self.width % 2 or self.height % 2:
            raise ValueError(
                f"size {self.width}x{self.height} has an odd side; H.264 needs even sizes, e.g. "
                f"{self.width + self.width % 2}x{self.height + self.height % 2}"
            )
        return self


class SongRef(Contract):
    """The song a plan belongs to."""

    path: str
    sha256: str
    duration_s: float = Field(gt=0)
    bpm: float = Field(default=120.0, gt=0)
    beats_per_bar: int = Field(default=4, ge=1)


class ReferenceRef(Contract):
    """The portrait a plan belongs to."""

    path: str
    sha256: str


class ShotPlan(Contract):
    """An editable shot plan: shots tiling the song plus a DAG of continuity edges."""

    song: SongRef
    reference: ReferenceRef | None = None
    render: RenderSettings = Field(default_factory=RenderSettings)
    shots: list[Shot]

    @model_validator(mode="after")
    def _check(self) -> ShotPlan:
        for msg in plan_problems(self):
            raise ValueError(msg)
        return self

    @property
    def n_frames(self) -> int:
        """Frames of the whole video at the plan's fps."""
        return int(round(self.song.duration_s * self.render.fps))

    def shot(self, shot_id: str) -> Shot:
        """The shot with id ``shot_id``."""
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)

    def graph(self) -> nx.DiGraph:
        """Continuity DAG: an edge a → b when shot b continues from shot a."""
        import networkx as nx

        g = nx.DiGraph()
        for s in self.shots:
            g.add_node(s.id)
        for s in self.shots:
            if s.continues_from:
                g.add_edge(s.continues_from, s.id)
        return g


def plan_problems(plan: ShotPlan) -> list[str]:
    """Every rule a plan breaks, as messages naming the shot, the field and the fix."""
    problems: list[str] = []
    fps = plan.render.fps
    dur = plan.song.duration_s
    end_frames = int(round(dur * fps))
    if not plan.shots:
        return ["the plan has no shots — re-plan with `mvdirector plan`"]
    ids: set[str] = set()
    for s in plan.shots:
        if s.id in ids:
            problems.append(f"shot id '{s.id}' is used twice — give each shot a unique id")
        ids.add(s.id)
    prev_end = 0.0
    for i, s in enumerate(plan.shots):
        for field in ("start_s", "end_s"):
            t = getattr(s, field)
            if not on_frame_grid(t, fps):
                problems.append(
                    f"shot '{s.id}' {field}={t} is not on the {fps:g} fps frame grid — use "
                    f"{snap_to_grid(t, fps):.6f} (`mvdirector validate --fix` snaps it)"
                )
        if s.end_s <= s.start_s:
            problems.append(f"shot '{s.id}' ends at {s.end_s:.3f} s, not after its start {s.start_s:.3f} s")
        if s.n_frames(fps) < 1:
            problems.append(f"shot '{s.id}' is shorter than one frame at {fps:g} fps")
        if i == 0 and s.start_s != 0:
            problems.append(f"shot '{s.id}' starts at {s.start_s:.3f} s; the first shot must start at 0")
        if i > 0 and abs(s.start_s - prev_end) > 0.5 / fps:
            kind = "gap" if s.start_s > prev_end else "overlap"
            problems.append(
                f"shot '{s.id}' starts at {s.start_s:.3f} s but the previous shot ends at {prev_end:.3f} s "
                f"({kind}) — shots must tile the song"
            )
        prev_end = s.end_s
    last = plan.shots[-1]
    if int(round(last.end_s * fps)) != end_frames:
        problems.append(
            f"shot '{last.id}' ends at {last.end_s:.3f} s but the song is {dur:.3f} s — the last shot "
            f"must end at {end_frames / fps:.6f} s; shorten or extend it in plan.json or re-plan"
        )
    for s in plan.shots:
        if s.continues_from is not None and s.continues_from not in ids:
            problems.append(
                f"shot '{s.id}' continues_from '{s.continues_from}', which is not a shot in this plan"
            )
        if s.continues_from == s.id:
            problems.append(f"shot '{s.id}' continues_from itself")
    if not problems:
        import networkx as nx

        g = nx.DiGraph()
        g.add_edges_from((s.continues_from, s.id) for s in plan.shots if s.continues_from)
        try:
            cycle = nx.find_cycle(g)
            names = " → ".join(a for a, _ in cycle) + f" → {cycle[0][0]}"
            problems.append(f"continues_from edges form a cycle: {names} — remove one of them")
        except nx.NetworkXNoCycle:
            pass
    return problems


# ------------------------------------------------------------------------ render/report


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
