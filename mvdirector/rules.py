"""The rules the contracts, the request and every command share, each written once.

The frame grid, the bounds of a video (frame rate, even size), codecs and the containers that
hold them, the stage names and language codes. `mvdirector.schemas` attaches them to its
fields (``Fps``, ``Width``, ``Height``); the request's preflight, the CLI and the batch
manifest call the same functions, so a value is accepted or refused one way everywhere.
A rule raises ``ValueError`` naming the value and the fix; pydantic turns it into a field
error, the request into one ``InputError`` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

# ------------------------------------------------------------------------ frame grid

FRAME_EPS = 1e-6


def frame_index(t_s: float, fps: float) -> int:
    """The frame at time ``t_s``: the one whole-frame boundary nearest to it."""
    return int(round(t_s * fps))


def on_frame_grid(t_s: float, fps: float) -> bool:
    """True when ``t_s`` is a whole number of frames at ``fps``."""
    x = t_s * fps
    return abs(x - round(x)) <= FRAME_EPS * max(1.0, abs(x))


def snap_to_grid(t_s: float, fps: float) -> float:
    """The frame-grid time nearest to ``t_s``."""
    return frame_index(t_s, fps) / fps


# ------------------------------------------------------------------ frame rate and size

FPS_RANGE = (1.0, 120.0)
WIDTH_RANGE = (16, 7680)
HEIGHT_RANGE = (16, 4320)


def check_fps(fps: float) -> float:
    """``fps`` when it lies in ``FPS_RANGE``."""
    lo, hi = FPS_RANGE
    if not lo <= fps <= hi:
        raise ValueError(f"fps {fps:g} is outside {lo:g}..{hi:g} (e.g. 24, 25 or 30)")
    return fps


def _side(name: str, bounds: tuple[int, int]):  # noqa: ANN202 - a validator
    def check(v: int) -> int:
        lo, hi = bounds
        if not lo <= v <= hi:
            raise ValueError(f"{name} {v} is outside {lo}..{hi}")
        if v % 2:
            raise ValueError(f"{name} {v} is odd; H.264 needs even sizes (use {v + 1})")
        return v

    return check


check_width = _side("width", WIDTH_RANGE)
check_height = _side("height", HEIGHT_RANGE)

Fps = Annotated[float, AfterValidator(check_fps)]
Width = Annotated[int, AfterValidator(check_width)]
Height = Annotated[int, AfterValidator(check_height)]


def parse_size(text: str) -> tuple[int, int]:
    """``'1280x720'`` → (1280, 720), each side checked; ValueError naming the rule otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"size '{text}' is not WIDTHxHEIGHT (e.g. 1280x720, 720x1280 or 1080x1080)")
    w, h = int(m.group(1)), int(m.group(2))
    try:
        return check_width(w), check_height(h)
    except ValueError as e:
        raise ValueError(f"size {w}x{h}: {e}") from None


# ------------------------------------------------------------------ codecs and containers


@dataclass(frozen=True)
class Codec:
    """A video codec the assembler writes, and the file suffixes that can hold it."""

    name: str
    suffixes: tuple[str, ...]
    segment_suffix: str  # what a piece re-encoded for joining is written as


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        Codec("h264", (".mp4", ".mov", ".mkv", ".m4v"), ".mp4"),
        Codec("h265", (".mp4", ".mov", ".mkv"), ".mp4"),
        Codec("prores", (".mov", ".mkv"), ".mov"),
    )
}


def check_codec(name: str) -> str:
    """``name`` when it is a codec of ``CODECS``."""
    if name not in CODECS:
        raise ValueError(f"codec '{name}' is unknown (use {', '.join(CODECS)})")
    return name


def check_container(codec: str, path: Path) -> None:
    """Raise when the file suffix of ``path`` cannot hold ``codec``."""
    suffixes = CODECS[check_codec(codec)].suffixes
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"output '{path.name}' cannot hold {codec}; name it with one of {', '.join(suffixes)}")


CodecName = Annotated[str, AfterValidator(check_codec)]

# ------------------------------------------------------------------------ stages, language

STAGES = ("analyze", "reference", "direct", "render", "assemble")
"""The pipeline's cached stages, in order; ``--force`` takes one of them or ``all``."""


def check_force(stage: str) -> str:
    """``stage`` when ``--force`` can recompute it."""
    if stage not in (*STAGES, "all"):
        raise ValueError(f"--force {stage} is not a stage (use one of {', '.join((*STAGES, 'all'))})")
    return stage


def check_language(code: str) -> str:
    """A lower-case ISO 639-1/-3 language code (``en``, ``de``, ``yue``)."""
    if not re.fullmatch(r"[A-Za-z]{2,3}", code):
        raise ValueError(f"language '{code}' is not an ISO 639 code (e.g. en, es, de or yue)")
    return code.lower()


ForceStage = Annotated[str, AfterValidator(check_force)]
Language = Annotated[str, AfterValidator(check_language)]

# ------------------------------------------------------------------------ colour grades

GRADE_CONTROLS: dict[str, tuple[float, float]] = {
    "saturation": (0.0, 3.0),  # 0 = monochrome, 1 = as shot
    "warmth": (-1.0, 1.0),
    "tint": (-1.0, 1.0),
    "contrast": (0.0, 3.0),  # 1 = as shot
    "lift": (-0.5, 0.5),
    "exposure": (0.0, 4.0),  # linear gain, 1 = as shot
    "split": (0.0, 2.0),
    "vignette": (0.0, 1.5),
    "grain": (0.0, 0.2),
    "bloom": (0.0, 1.0),
}
"""The colour controls a style's ``grades`` and a ``grade_<control>`` renderer option may set, with their bounds."""


def check_grade(control: str, value: object, where: str = "grade") -> float:
    """``value`` as a finite float within the bounds of colour ``control``; ValueError naming the fix otherwise."""
    from mvdirector.describe import unknown

    if control not in GRADE_CONTROLS:
        raise ValueError(f"{where}: {unknown('colour control', control, GRADE_CONTROLS)}")
    lo, hi = GRADE_CONTROLS[control]
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{where} {control}={value!r} is not a number (give a value in {lo:g}..{hi:g})") from None
    if not lo <= v <= hi:  # NaN fails too
        raise ValueError(f"{where} {control}={value!r} is outside {lo:g}..{hi:g}")
    return v


def check_grades(
    grades: dict[str, dict[str, float]], sections: tuple[str, ...], where: str = "grades"
) -> dict[str, dict[str, float]]:
    """``grades`` (one of ``sections`` or ``default`` → control → value), each value checked."""
    from mvdirector.describe import unknown

    labels = (*sections, "default")

    out: dict[str, dict[str, float]] = {}
    for label, controls in grades.items():
        if label not in labels:
            raise ValueError(f"{where}: {unknown('section', label, labels)}")
        out[label] = {k: check_grade(k, v, f"{where}.{label}") for k, v in controls.items()}
    return out

# ------------------------------------------------------------------------ sizes of plan text

MAX_OVERLAY_WORDS = 64
"""Most words one shot's lyric overlay may hold (a long sung line has about 20)."""
MAX_TEXT_CHARS = 2000
"""Longest prompt or lyric line a plan may hold."""

# ------------------------------------------------------------------------ disk space

VIDEO_BITS_PER_PIXEL = 0.3
"""A floor on what a rendered video takes: bits per pixel per frame. A grainy 720p clip at crf 18
(ultrafast, the clips' setting) measured 0.63; half of it is what any render surely needs."""


def video_bytes(width: int, height: int, fps: float, seconds: float) -> int:
    """About how many bytes a video of this size, rate and length takes at least (for the disk check)."""
    return int(width * height * fps * seconds * VIDEO_BITS_PER_PIXEL / 8)

# ------------------------------------------------------------------------ reference photos

MAX_REFERENCES = 32
"""At most this many photos per render (``--ref`` files and folders together)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""Files of a ``--ref`` folder that are taken as photos (other files are ignored)."""
SMALL_FACE_PX = 80
"""A main face shorter than this (box height, pixels) is too small for a sharp close-up."""
SCENE_FACE_SHARE = 0.12
"""A photo whose largest face is shorter than this share of the image height shows a place, not a person."""
FRONTAL_TURN = 0.5
"""A face turned less than this (``|turn|`` on -1..1 from the landmarks) faces the camera."""
CLOSE_FRAMINGS = ("extreme_close_up", "close_up")
"""Framings that fill the frame with the face: they need a photo with a good frontal face of the singer."""


def check_reference_count(n: int) -> int:
    """``n`` photos when there is at least one and at most ``MAX_REFERENCES``."""
    if n < 1:
        raise ValueError("no photo was given (--ref takes image files or a folder of them)")
    if n > MAX_REFERENCES:
        raise ValueError(f"{n} photos were given, more than {MAX_REFERENCES}; pick the best {MAX_REFERENCES}")
    return n


def reference_ids(stems: list[str]) -> list[str]:
    """Plan ids of photos named ``stems`` (in order, the singer's first): each name in id characters,
    made unique by a ``-2``, ``-3`` … suffix."""
    out: list[str] = []
    for stem in stems:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-")[:48] or "photo"
        rid, k = base, 2
        while rid in out:
            rid, k = f"{base}-{k}", k + 1
        out.append(rid)
    return out
