"""The `ShotRenderer` protocol every backend implements, and the registry that picks one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mvdirector.errors import InputError
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, Shot, ShotPlan

Progress = Callable[[float, str], None]

RENDERERS: dict[str, str] = {
    "procedural": "stages.procedural:ProceduralRenderer",
    "dit": "stages.dit:DitRenderer",
}


@dataclass(frozen=True)
class ShotJob:
    """Everything a renderer needs to render one shot."""

    plan: ShotPlan
    shot: Shot
    analysis: AudioAnalysis
    reference: ReferenceInfo
    reference_image: Path
    song_path: Path
    previous_clip: Path | None = None
    cache_dir: Path | None = None
    """A folder where a renderer may keep per-reference preparations between runs (the work directory's)."""
    vocals_path: Path | None = None
    """The singer's isolated vocal stem (``--vocals``), when given: it drives every vocal feature."""

    @property
    def n_frames(self) -> int:
        """Frames this shot must have."""
        return self.shot.n_frames(self.plan.render.fps)


@runtime_checkable
class ShotRenderer(Protocol):
    """A backend that turns one planned shot into a video clip."""

    name: str
    VERSION: str

    def fingerprint(self) -> dict[str, str]:
        """Options and weight hashes that change the output (they enter the cache key)."""
        ...

    def render_shot(self, job: ShotJob, out_path: Path, progress: Progress | None = None) -> dict[str, float]:
        """Write exactly ``job.n_frames`` frames at plan size to ``out_path``; return metrics."""
        ...


def make_renderer(name: str, **options: Any) -> ShotRenderer:
    """Instantiate the renderer registered as ``name`` with its options."""
    if name not in RENDERERS:
        raise InputError(f"unknown renderer '{name}'", f"use one of {', '.join(RENDERERS)}")
    module, _, attr = RENDERERS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(**options)
