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


# -------------------------------------------------------------- publishing: formats, captions, subtitles


@dataclass(frozen=True)
class AspectFormat:
    """A social/video format: an aspect ratio, its file-name tag and its default size (None: the ``--size``)."""

    name: str  # as the user writes it: "9:16"
    ratio: tuple[int, int]
    default_size: tuple[int, int] | None

    @property
    def tag(self) -> str:
        """File-system-safe spelling used in output names and work-directory folders: ``9x16``."""
        return f"{self.ratio[0]}x{self.ratio[1]}"


ASPECTS: dict[str, AspectFormat] = {
    a.name: a
    for a in (
        AspectFormat("16:9", (16, 9), None),
        AspectFormat("9:16", (9, 16), (1080, 1920)),
        AspectFormat("1:1", (1, 1), (1080, 1080)),
        AspectFormat("4:5", (4, 5), (1080, 1350)),
    )
}
"""The formats ``--formats`` takes; 16:9 is rendered at ``--size`` (or the plan's size)."""
ASPECT_TOLERANCE_PX = 2
"""A size matches an aspect when its height is within this many pixels of width × ratio (even rounding)."""


@dataclass(frozen=True)
class FormatSpec:
    """One entry of ``--formats``: an aspect and, optionally, its size (``9:16=720x1280``)."""

    aspect: AspectFormat
    size: tuple[int, int] | None = None

    def resolved_size(self, base: tuple[int, int]) -> tuple[int, int]:
        """The size to render: the one given, else the aspect's default, else ``base`` (the ``--size``)."""
        size = self.size or self.aspect.default_size or base
        check_aspect(self.aspect, size)
        return size


def check_aspect(aspect: AspectFormat, size: tuple[int, int]) -> None:
    """Raise when ``size`` is not of ``aspect``'s ratio (within even rounding)."""
    w, h = size
    rw, rh = aspect.ratio
    if abs(w * rh / rw - h) > ASPECT_TOLERANCE_PX:
        raise ValueError(
            f"format {aspect.name} would be rendered at {w}x{h}, which is not {aspect.name}; "
            f"give its size as --formats {aspect.name}=WxH (e.g. {aspect.name}={_example(aspect, w)})"
        )


def _example(aspect: AspectFormat, width: int) -> str:
    rw, rh = aspect.ratio
    h = round(width * rh / rw / 2) * 2
    return f"{width}x{max(16, h)}"


def fitting_size(aspect: AspectFormat, width: int, multiple: int) -> tuple[int, int]:
    """The widest size of ``aspect`` up to ``width`` whose sides are multiples of ``multiple`` (a renderer's)."""
    rw, rh = aspect.ratio
    for w in range(width // multiple * multiple, multiple - 1, -multiple):
        h = round(w * rh / rw / multiple) * multiple
        if h >= multiple and abs(w * rh / rw - h) <= ASPECT_TOLERANCE_PX:
            return w, h
    return rw * multiple, rh * multiple


def parse_format(text: str) -> FormatSpec:
    """``'9:16'`` or ``'9:16=720x1280'`` → a FormatSpec; ValueError naming the rule otherwise."""
    name, sep, size_text = str(text).strip().partition("=")
    name = name.strip().replace("x", ":").replace("X", ":").replace("/", ":")
    if name not in ASPECTS:
        raise ValueError(f"format '{text}' is unknown (use {', '.join(ASPECTS)}, optionally =WxH)")
    aspect = ASPECTS[name]
    if not sep:
        return FormatSpec(aspect)
    size = parse_size(size_text)
    check_aspect(aspect, size)
    return FormatSpec(aspect, size)


def check_formats(specs: tuple[str, ...]) -> tuple[str, ...]:
    """Each entry parses and names another aspect; returns them normalised (``9:16``, ``9:16=720x1280``)."""
    out, seen = [], set()
    for text in specs:
        spec = parse_format(text)
        if spec.aspect.name in seen:
            raise ValueError(f"format {spec.aspect.name} is given twice in --formats")
        seen.add(spec.aspect.name)
        out.append(spec.aspect.name + (f"={spec.size[0]}x{spec.size[1]}" if spec.size else ""))
    return tuple(out)


def split_formats(value: object) -> object:
    """``'16:9, 9:16'`` (the command line, a CSV cell) → a tuple; lists and tuples pass through."""
    if isinstance(value, str):
        found = tuple(p.strip() for p in value.split(",") if p.strip())
        if not found:  # '' or ',' is a mistake, not a request for the plain single video
            raise ValueError(f"'{value}' names no format (use {', '.join(ASPECTS)}, comma-separated)")
        return found
    return value


Formats = Annotated[tuple[str, ...], AfterValidator(check_formats)]

CAPTION_MODES = ("burn", "soft", "both", "none")
"""``--captions``: burn the lyric lines into the picture, mux them as a soft subtitle track, both, or neither."""


def burns_captions(mode: str) -> bool:
    """Whether renderers draw the lyric lines into the picture under ``--captions mode``."""
    return mode in ("burn", "both")


def muxes_captions(mode: str) -> bool:
    """Whether the video carries the lyric lines as a soft subtitle track under ``--captions mode``."""
    return mode in ("soft", "both")


SUBTITLE_CODECS = {".mp4": "mov_text", ".m4v": "mov_text", ".mov": "mov_text", ".mkv": "srt"}
"""The soft subtitle codec each output container holds (the mov muxer takes no SubRip; Matroska takes it)."""
BIBLIOGRAPHIC_CONTAINERS = (".mkv", ".mov")
"""Containers whose language tag is ISO 639-2/B (Matroska's rule; QuickTime's classic table leans on it)."""

_ISO639_1_TO_2T = dict(
    (pair[:2], pair[2:]) for pair in """
aaaar ababk aeave afafr akaka amamh anarg arara asasm avava ayaym azaze babak bebel bgbul bibis bmbam bnben bobod
brbre bsbos cacat ceche chcha cocos crcre csces cuchu cvchv cycym dadan dedeu dvdiv dzdzo eeewe elell eneng eoepo
esspa etest eueus fafas ffful fifin fjfij fofao frfra fyfry gagle gdgla glglg gngrn guguj gvglv hahau heheb hihin
hohmo hrhrv hthat huhun hyhye hzher iaina idind ieile igibo iiiii ikipk ioido isisl itita iuiku jajpn jvjav kakat
kgkon kikik kjkua kkkaz klkal kmkhm knkan kokor krkau kskas kukur kvkom kwcor kykir lalat lbltz lglug lilim lnlin
lolao ltlit lulub lvlav mgmlg mhmah mimri mkmkd mlmal mnmon mrmar msmsa mtmlt mymya nanau nbnob ndnde nenep ngndo
nlnld nnnno nonor nrnbl nvnav nynya ococi ojoji omorm orori ososs papan pipli plpol pspus ptpor quque rmroh rnrun
roron rurus rwkin sasan scsrd sdsnd sesme sgsag shhbs sisin skslk slslv smsmo snsna sosom sqsqi srsrp ssssw stsot
susun svswe swswa tatam tetel tgtgk ththa titir tktuk tltgl tntsn toton trtur tstso tttat twtwi tytah uguig ukukr
ururd uzuzb veven vivie vovol wawln wowol xhxho yiyid yoyor zazha zhzho zuzul""".split()
)
"""ISO 639-1 → ISO 639-2/T (terminology) codes, from the ISO 639-3 tables (184 languages)."""
_ISO639_2T_TO_B = {
    "bod": "tib", "ces": "cze", "cym": "wel", "deu": "ger", "ell": "gre", "eus": "baq", "fas": "per", "fra": "fre",
    "hye": "arm", "isl": "ice", "kat": "geo", "mkd": "mac", "mri": "mao", "msa": "may", "mya": "bur", "nld": "dut",
    "ron": "rum", "slk": "slo", "sqi": "alb", "zho": "chi",
}
"""The 20 languages whose ISO 639-2 bibliographic code differs from the terminology one."""


def subtitle_language(code: str | None, suffix: str) -> str:
    """The three-letter code a subtitle track of a ``suffix`` file is tagged with (``und`` when unknown).

    ``code`` is the analysis' ISO 639-1 or 639-2/3 code (``en``, ``de``, ``yue``); MP4 wants 639-2/T
    (``deu``), Matroska 639-2/B (``ger``).
    """
    if not code:
        return "und"
    code = code.lower()
    three = _ISO639_1_TO_2T.get(code, code if len(code) == 3 else "und")
    if suffix.lower() in BIBLIOGRAPHIC_CONTAINERS:
        return _ISO639_2T_TO_B.get(three, three)
    return three
