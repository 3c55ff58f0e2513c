"""Every data contract that crosses a stage boundary (DESIGN §3), with the rules on them.

All contracts are frozen pydantic models that forbid unknown fields and carry a
``schema_version``. Units are in the field names. Times inside a plan lie on the frame
grid of ``ShotPlan.render.fps``; shot-relative times (lyric words) are seconds from the
shot's start. One module per stage boundary: ``analysis`` (what the analyzer hears),
``reference`` (the photos: singer, looks, scenes), ``plan`` (the shot plan and its checks), ``report`` (clips and
the render report); ``base`` holds the contract base and the shared names. Import from here.
"""

from __future__ import annotations

from mvdirector.schemas.analysis import (  # noqa: F401
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    LanguageGuess,
    LyricLine,
    Lyrics,
    Section,
    Segment,
    Word,
)
from mvdirector.schemas.base import (  # noqa: F401
    CAMERA_MOVES,
    FRAMINGS,
    SCHEMA_VERSION,
    SECTION_LABELS,
    CameraMoveName,
    Contract,
    Easing,
    Framing,
    RendererName,
    SectionLabel,
    TransitionKind,
)
from mvdirector.schemas.plan import (  # noqa: F401
    Camera,
    CameraKeyframe,
    LyricOverlay,
    ReferenceRef,
    RenderSettings,
    Shot,
    ShotPlan,
    SongRef,
    Transition,
    plan_problems,
)
from mvdirector.schemas.reference import (  # noqa: F401
    REFERENCE_KINDS,
    Face,
    ReferenceId,
    ReferenceInfo,
    ReferenceKind,
    ReferenceSet,
)
from mvdirector.schemas.report import (  # noqa: F401
    RenderReport,
    ShotClip,
    ShotReport,
)

__all__ = [
    "AudioAnalysis",
    "AudioSource",
    "Beat",
    "CAMERA_MOVES",
    "Camera",
    "CameraKeyframe",
    "CameraMoveName",
    "Contract",
    "Easing",
    "EnergyCurve",
    "FRAMINGS",
    "Face",
    "Framing",
    "LanguageGuess",
    "LyricLine",
    "LyricOverlay",
    "Lyrics",
    "REFERENCE_KINDS",
    "ReferenceId",
    "ReferenceInfo",
    "ReferenceKind",
    "ReferenceRef",
    "ReferenceSet",
    "RenderReport",
    "RenderSettings",
    "RendererName",
    "SCHEMA_VERSION",
    "SECTION_LABELS",
    "Section",
    "SectionLabel",
    "Segment",
    "Shot",
    "ShotClip",
    "ShotPlan",
    "ShotReport",
    "SongRef",
    "Transition",
    "TransitionKind",
    "Word",
    "plan_problems",
]
