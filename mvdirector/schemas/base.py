"""The base of every contract and the names their fields draw from."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

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
RendererName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
"""A renderer backend's name; which names exist is the registry's rule (`stages.render.RENDERERS`)."""


SEED_MAX = 2**63 - 1
"""Largest seed a plan or request may carry."""
MAX_SONG_S = 6 * 3600.0
"""Longest song (seconds) a contract may describe."""
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Seconds = Annotated[float, Field(ge=0, le=MAX_SONG_S)]
"""A time on the song's clock."""


class Contract(BaseModel):
    """Base of every contract: frozen, no unknown fields, only finite numbers, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    schema_version: int = SCHEMA_VERSION

