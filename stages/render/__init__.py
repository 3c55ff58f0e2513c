"""The render stage: the `ShotRenderer` protocol, the job it renders, and the registry of backends.

Each backend is declared once in ``RENDERERS`` with what it needs — its typed options, a GPU,
weights, a size multiple — so the framework asks the declaration instead of testing names.
Adding a backend is one line there (e.g. ``RendererSpec("s2v", "stages.s2v:S2VRenderer",
"stages.s2v:S2VOptions", gpu=True, weights=True, generative=True, size_multiple=16)``).
Pieces every backend draws with live beside this file: ``framing`` (where the camera looks),
``camera_path`` (the planned move per frame) and ``captions`` (lyric overlays); backends import
those, never each other's packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mvdirector.errors import InputError
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, Shot, ShotPlan

__all__ = ["RENDERERS", "RendererSpec", "ShotJob", "ShotRenderer", "make_renderer", "renderer_spec"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ShotJob:
    """Everything a renderer needs to render one shot; the scheduler makes one per shot."""

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
    """The isolated vocal stem the user gave (``--vocals``), on the song's clock; None to use the mix."""
    burn_captions: bool = True
    """Whether the shot's lyric line may be drawn into the picture (``--captions soft|none`` say no; it enters
    the shot's cache key). A backend draws captions only when this and its own ``captions`` option allow."""

    @property
    def n_frames(self) -> int:
        """Frames this shot must have."""
        return self.shot.n_frames(self.plan.render.fps)

    def for_shot(self, shot_id: str, previous_clip: Path | None = None) -> ShotJob:
        """The job of another shot of the same render."""
        return replace(self, shot=self.plan.shot(shot_id), previous_clip=previous_clip)


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


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class RendererSpec:
    """A backend as the framework sees it: where it lives and what it needs."""

    name: str
    renderer: str
    """``module:Class`` of the `ShotRenderer`, constructed with its options as keywords."""
    options: str
    """``module:Class`` of its typed options; ``Class.from_mapping(values, base=None, where=...)`` checks them."""
    gpu: bool = False
    """Each shot wants a whole GPU: Ray asks for one per task and ``--jobs`` does not start more processes."""
    weights: bool = False
    """It loads a checkpoint the user supplies (the ``weights`` option, ``--weights`` on the command line)."""
    generative: bool = False
    """Its picture changes with the seed, so a shot that misses the singer's identity is worth re-rendering."""
    size_multiple: int = 2
    """Width and height must be multiples of this."""

    def parse_options(self, values: Mapping[str, Any], base: Any = None, where: str | None = None) -> Any:
        """The typed options of ``values`` (over ``base``); InputError naming an unknown or bad option."""
        cls = _load(self.options)
        return cls.from_mapping(dict(values), base=base, where=where or "renderer option")

    def check_size(self, width: int, height: int) -> None:
        """InputError when the video size does not suit this backend."""
        m = self.size_multiple
        if width % m or height % m:
            raise InputError(
                f"size {width}x{height} is not a multiple of {m}, which the {self.name} renderer needs",
                f"use e.g. --size {max(m, width // m * m)}x{max(m, height // m * m)}",
            )


RENDERERS: dict[str, RendererSpec] = {
    s.name: s
    for s in (
        RendererSpec("procedural", "stages.procedural:ProceduralRenderer", "stages.procedural:ProceduralOptions"),
        RendererSpec(
            "dit", "stages.dit:DitRenderer", "stages.dit:DitOptions", gpu=True, weights=True, generative=True,
            size_multiple=16,
        ),
    )
}


def renderer_spec(name: str) -> RendererSpec:
    """The declaration of backend ``name``; InputError listing the backends when there is none."""
    if name not in RENDERERS:
        raise InputError(f"unknown renderer '{name}'", f"use one of {', '.join(RENDERERS)}")
    return RENDERERS[name]


def make_renderer(name: str, **options: Any) -> ShotRenderer:
    """Instantiate the renderer registered as ``name`` with its options (a missing checkpoint fails here)."""
    return _load(renderer_spec(name).renderer)(**options)
