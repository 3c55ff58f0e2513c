"""The shot plan: shots on the frame grid, cameras, transitions, lyric overlays and the continuity DAG."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mvdirector import continuity
from mvdirector.rules import (
    CLOSE_FRAMINGS,
    MAX_OVERLAY_WORDS,
    MAX_REFERENCES,
    MAX_TEXT_CHARS,
    Fps,
    Height,
    Width,
    check_grades,
    frame_index,
    on_frame_grid,
    snap_to_grid,
)
from mvdirector.schemas.analysis import Word
from mvdirector.schemas.base import (
    MAX_SONG_S,
    SECTION_LABELS,
    CameraMoveName,
    Contract,
    Easing,
    Framing,
    RendererName,
    Seconds,
    SectionLabel,
    Seed,
    TransitionKind,
)
from mvdirector.schemas.reference import ReferenceId, ReferenceKind

if TYPE_CHECKING:  # networkx is imported where a plan's graph is built: `analyze` never needs it
    import networkx as nx

Coordinate = Annotated[float, Field(ge=-100, le=100)]
"""A camera position component, in subject distances."""
Angle = Annotated[float, Field(ge=-720, le=720)]
"""A camera rotation component, in degrees."""
OptionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
OptionValue = float | int | bool | Annotated[str, Field(max_length=MAX_TEXT_CHARS)]

class CameraKeyframe(Contract):
    """A camera pose at shot-relative time fraction ``t`` (0 = first frame, 1 = last).

    Position is in units of the framing's subject distance (the subject sits at z = 1 in
    front of the base camera; +x right, +y up, +z forward). Rotation is yaw, pitch, roll
    in degrees; ``fov_deg`` is the vertical field of view, with 0 meaning "the framing's".
    ``easing`` shapes the motion from this keyframe to the next.
    """

    t: float = Field(ge=0, le=1)
    position: tuple[Coordinate, Coordinate, Coordinate] = (0.0, 0.0, 0.0)
    rotation_deg: tuple[Angle, Angle, Angle] = (0.0, 0.0, 0.0)
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

    line: str = Field(max_length=MAX_TEXT_CHARS)
    words: list[Word] = Field(default_factory=list, max_length=MAX_OVERLAY_WORDS)


class Shot(Contract):
    """One shot of the plan."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    start_s: Seconds
    end_s: Seconds
    section: SectionLabel
    framing: Framing = "medium"
    camera: Camera = Field(default_factory=Camera)
    prompt: str = Field(default="", max_length=MAX_TEXT_CHARS)
    lyric: LyricOverlay | None = None
    transition_in: Transition = Field(default_factory=Transition)
    energy: float = Field(default=0.5, ge=0, le=1)
    seed: Seed = 0
    continues_from: str | None = Field(default=None, max_length=64)
    renderer: RendererName | None = None
    renderer_options: dict[OptionKey, OptionValue] = Field(default_factory=dict, max_length=64)
    reference: ReferenceId | None = None
    """Id of the photo this shot shows (one of ``ShotPlan.references``); None: the singer's photo."""

    @property
    def duration_s(self) -> float:
        """Length of the shot in seconds."""
        return self.end_s - self.start_s

    def frame_range(self, fps: float) -> tuple[int, int]:
        """First frame and one-past-last frame of this shot at ``fps``."""
        return frame_index(self.start_s, fps), frame_index(self.end_s, fps)

    def n_frames(self, fps: float) -> int:
        """Number of frames of this shot at ``fps``."""
        a, b = self.frame_range(fps)
        return b - a


class RenderSettings(Contract):
    """Output size, frame rate, renderer, style and global seed."""

    width: Width = 1280
    height: Height = 720
    fps: Fps = 24.0
    renderer: RendererName = "procedural"
    style: str = Field(default="cinematic", max_length=64)
    seed: Seed = 0
    grades: dict[str, dict[str, float]] | None = Field(
        default=None,
        description="the style's colour grades (section label or default → control → value), copied from its "
        "template when the plan was made; None: the built-in style's",
    )

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: dict[str, dict[str, float]] | None) -> dict[str, dict[str, float]] | None:
        return None if v is None else check_grades(v, SECTION_LABELS, "render.grades")


class SongRef(Contract):
    """The song a plan belongs to."""

    path: str = Field(max_length=4096)
    sha256: str = Field(max_length=64)
    duration_s: float = Field(gt=0, le=MAX_SONG_S)
    bpm: float = Field(default=120.0, gt=0, le=1000)
    beats_per_bar: int = Field(default=4, ge=1, le=16)


class ReferenceRef(Contract):
    """A photo the plan uses: its id (what shots name), file and content, what it shows, and its main face.

    ``face_px`` is the height of the main face in the photo's pixels (0: no face; None: not
    recorded, as in plans made before several photos); ``frontal`` says whether it faces the camera.
    """

    id: ReferenceId = "singer"
    path: str = Field(max_length=4096)
    sha256: str = Field(max_length=64)
    kind: ReferenceKind = "singer"
    face_px: int | None = Field(default=None, ge=0)
    frontal: bool | None = None

    @property
    def shows_singer(self) -> bool:
        """Whether shots of this photo show the singer (their identity is measured)."""
        return self.kind != "scene"

    def close_up_problem(self) -> str | None:
        """Why this photo cannot fill a close-up (a scene, or no face), or None."""
        if self.kind == "scene":
            return "is a scene (no singer)"
        if self.face_px == 0:
            return "shows no face"
        return None


class ShotPlan(Contract):
    """An editable shot plan: shots tiling the song plus a DAG of continuity edges."""

    song: SongRef
    reference: ReferenceRef | None = None
    """The singer's photo (the first of ``references``; plans with one photo had only this)."""
    references: list[ReferenceRef] = Field(default_factory=list, max_length=MAX_REFERENCES)
    """Every photo the plan may use, the singer first; a shot names one by id in ``Shot.reference``."""
    render: RenderSettings = Field(default_factory=RenderSettings)
    shots: list[Shot] = Field(max_length=100_000)

    @model_validator(mode="before")
    @classmethod
    def _one_photo_plans(cls, data: object) -> object:
        """A plan with only ``reference`` (made before several photos) lists it as its one photo; one with only
        ``references`` names the first as ``reference``; ``reference: null`` is a plan without photos."""
        if isinstance(data, dict):
            if "reference" in data and data["reference"] is None:
                data = {**data, "references": []}
            elif not data.get("references") and data.get("reference") is not None:
                data = {**data, "references": [data["reference"]]}
            elif data.get("references") and data.get("reference") is None:
                data = {**data, "reference": data["references"][0]}
        return data

    @model_validator(mode="after")
    def _check(self) -> ShotPlan:
        for msg in plan_problems(self):
            raise ValueError(msg)
        return self

    @property
    def n_frames(self) -> int:
        """Frames of the whole video at the plan's fps."""
        return frame_index(self.song.duration_s, self.render.fps)

    def shot(self, shot_id: str) -> Shot:
        """The shot with id ``shot_id``."""
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)

    def reference_of(self, shot: Shot) -> ReferenceRef | None:
        """The photo ``shot`` shows (the singer's when it names none), or None when the plan lists no photo."""
        for r in self.references:
            if shot.reference is None or r.id == shot.reference:
                return r
        return None

    def photo_for(self, shot: Shot, ids: list[str]) -> str | None:
        """Which of the photos given to a render (``ids``, the singer's first) ``shot`` shows, or None.

        The plan's singer is the render's singer whatever its file is called now; another photo is
        found by its id (made from its file name).
        """
        if not ids:
            return None
        if not self.references:  # a plan that lists no photos: a shot names one of the render's, or the singer
            return ids[0] if shot.reference is None else shot.reference if shot.reference in ids else None
        ref = self.reference_of(shot)
        if ref is None:
            return None
        return ids[0] if ref.id == self.references[0].id else ref.id if ref.id in ids else None

    def graph(self) -> nx.DiGraph:
        """Continuity DAG: an edge a → b when shot b continues from shot a."""
        return continuity.graph(self.shots)

    def render_order(self) -> list[str]:
        """Shot ids with every shot after the one it continues from (plan order on ties)."""
        return continuity.render_order(self.shots)

    def takes(self) -> list[list[str]]:
        """Groups of shots that continue each other, each in render order; takes may render in parallel."""
        return continuity.takes(self.shots)

    def dependents(self, shot_id: str) -> list[str]:
        """The shots to re-render when ``shot_id`` changes: itself and every shot continuing from it."""
        return continuity.dependents(self.shots, shot_id)


def plan_problems(plan: ShotPlan) -> list[str]:
    """Every rule a plan breaks, as messages naming the shot, the field and the fix."""
    problems: list[str] = []
    fps = plan.render.fps
    dur = plan.song.duration_s
    end_frames = frame_index(dur, fps)
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
    if frame_index(last.end_s, fps) != end_frames:
        problems.append(
            f"shot '{last.id}' ends at {last.end_s:.3f} s but the song is {dur:.3f} s — the last shot "
            f"must end at {end_frames / fps:.6f} s; shorten or extend it in plan.json or re-plan"
        )
    problems.extend(continuity.problems(plan.shots))
    problems.extend(reference_problems(plan))
    return problems


def reference_problems(plan: ShotPlan) -> list[str]:
    """Photos the plan lists, and each shot's photo: it must exist, and a close-up must show a face."""
    refs = plan.references
    out: list[str] = []
    ids = [r.id for r in refs]
    if len(set(ids)) != len(ids):
        out.append(f"references ids {ids} repeat — give each photo a unique id")
    if refs and (refs[0].kind != "singer" or [r.kind for r in refs].count("singer") != 1):
        out.append("references: the first photo must be the singer's and the only one of kind 'singer'")
    if refs and plan.reference is not None and plan.reference.sha256 != refs[0].sha256:
        out.append("reference must be the singer's photo, the first of references — make them the same")
    known = ", ".join(ids) or "none"
    for s in plan.shots:
        ref = plan.reference_of(s)
        if s.reference is not None and ref is None and refs:
            out.append(
                f"shot '{s.id}' reference '{s.reference}' is not one of the plan's photos ({known}) — "
                "name one of them, or add the photo with --ref and re-plan"
            )
        elif ref is not None and s.framing in CLOSE_FRAMINGS and (why := ref.close_up_problem()):
            good = [r.id for r in refs if r.close_up_problem() is None]
            out.append(
                f"shot '{s.id}' is a {s.framing} but its reference '{ref.id}' {why} — "
                + (f"use a photo with the singer's face ({', '.join(good)})" if good else "use a wider framing")
            )
    return out
