"""The render stage: the `ShotRenderer` protocol, the job it renders, and the registry of backends.

Each backend is declared once in ``RENDERERS`` with what it needs — its typed options, a GPU,
weights, a size multiple — so the framework asks the declaration instead of testing names.
Adding a backend is one line there (e.g. ``RendererSpec("s2v", "stages.s2v:S2VRenderer",
"stages.s2v:S2VOptions", gpu=True, weights=True, generative=True, size_multiple=16)``).
Pieces every backend draws with live beside this file: ``framing`` (where the camera looks),
``camera_path`` (the planned move per frame) and ``captions`` (lyric overlays); what the
generative backends share (typed options, raw tails, the camera guide, the native clock,
captions over generated frames) is in ``options`` and ``generative``; backends import those,
never each other's packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mvdirector.errors import InputError
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, ReferenceRef, Shot, ShotPlan

__all__ = ["RENDERERS", "RendererSpec", "ShotJob", "ShotRenderer", "check_plan", "make_renderer", "renderer_spec"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ShotJob:
    """Everything a renderer needs to render one shot; the scheduler makes one per shot (``for_shot``).

    ``reference`` and ``reference_image`` are the photo *this shot* shows — the singer's, another
    look of the singer, or a scene (``shot_reference.kind``) — as the renderer must draw it (with
    ``--colour-match``, a copy brought into the singer's palette, whose ``sha256`` is its own).
    ``singer`` is the singer's photo as inspected: identity is always measured against its face.
    ``references`` and ``reference_images`` hold every photo of the render by plan id, so
    ``for_shot`` can resolve another shot's photo; a job made for one photo may leave them empty.
    """

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
    singer: ReferenceInfo | None = None
    """The singer's photo as inspected (None: ``reference`` is the singer's)."""
    references: Mapping[str, ReferenceInfo] = field(default_factory=dict)
    """Every photo of the render as drawn, by plan id, the singer's first."""
    reference_images: Mapping[str, Path] = field(default_factory=dict)
    """The image file of each photo in ``references``, by plan id."""
    burn_captions: bool = True
    """Whether the shot's lyric line may be drawn into the picture (``--captions soft|none`` say no; it enters
    the shot's cache key). A backend draws captions only when this and its own ``captions`` option allow."""

    @property
    def n_frames(self) -> int:
        """Frames this shot must have."""
        return self.shot.n_frames(self.plan.render.fps)

    @property
    def shot_reference(self) -> ReferenceRef | None:
        """How the plan lists this shot's photo (id, kind singer/look/scene, face), None for a plan without photos."""
        return self.plan.reference_of(self.shot)

    @property
    def shows_singer(self) -> bool:
        """Whether the shot shows the singer (its photo is the singer's or a look), so identity is measured."""
        return self.reference.kind != "scene"

    @property
    def identity_reference(self) -> ReferenceInfo | None:
        """The photo whose face this shot's singer is measured against; None for a scene."""
        return (self.singer or self.reference) if self.shows_singer else None

    @property
    def photo_id(self) -> str | None:
        """Plan id of the photo of ``references`` this shot is drawn from (None when the job holds no photos)."""
        return self.plan.photo_for(self.shot, list(self.references)) if self.references else None

    @property
    def reference_key(self) -> str:
        """The content a shot's pixels and measurements depend on among the photos: its own photo, and the
        singer's when it shows the singer through another photo (identity is measured against that face)."""
        singer = self.singer
        if not self.shows_singer or singer is None or singer.sha256 == self.reference.sha256:
            return self.reference.sha256
        return f"{self.reference.sha256}+{singer.sha256}"

    def for_shot(self, shot_id: str, previous_clip: Path | None = None) -> ShotJob:
        """The job of another shot of the same render, with that shot's photo."""
        job = replace(self, shot=self.plan.shot(shot_id), previous_clip=previous_clip)
        rid = job.photo_id
        if rid is None:
            return job
        return replace(job, reference=self.references[rid], reference_image=self.reference_images[rid])

    def input_files(self) -> dict[str, Path]:
        """Every input file a shot may read, by name (the song, the vocal stem, each photo ``photo:<id>``)."""
        files = {"song_path": self.song_path, "reference_image": self.reference_image}
        if self.vocals_path is not None:
            files["vocals_path"] = self.vocals_path
        files.update({f"photo:{rid}": p for rid, p in self.reference_images.items()})
        return files

    def with_input_files(self, files: Mapping[str, Path]) -> ShotJob:
        """This job reading the files named as in `input_files` from other paths (e.g. copies on a Ray node)."""
        plain = {k: v for k, v in files.items() if not k.startswith("photo:")}
        images = {rid: files.get(f"photo:{rid}", p) for rid, p in self.reference_images.items()}
        return replace(self, **plain, reference_images=images)


@runtime_checkable
class ShotRenderer(Protocol):
    """A backend that turns one planned shot into a video clip.

    It may also have ``prepare(reference, reference_image, voice, cache_dir)``: what every shot of a portrait
    and song needs first, done once before the shots render (the pipeline calls it beside the analysis).
    """

    name: str
    VERSION: str

    def fingerprint(self) -> dict[str, str]:
        """Options and weight hashes that change the output (they enter the cache key)."""
        ...

    def render_shot(self, job: ShotJob, out_path: Path, progress: Progress | None = None) -> dict[str, float]:
        """Write exactly ``job.n_frames`` frames at plan size to ``out_path``; return metrics."""
        ...

    # Optional: ``check_plan(job) -> list[str]``, called once per run before any of its shots
    # renders (``job`` is any job of the plan): it may refuse the plan (an MvError) and returns
    # warnings for a person about the render as a whole. See :func:`check_plan`.


def check_plan(renderer: ShotRenderer, job: ShotJob) -> list[str]:
    """The renderer's warnings about the whole plan (its optional ``check_plan``); it may raise an MvError."""
    hook = getattr(renderer, "check_plan", None)
    return list(hook(job)) if callable(hook) else []


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
    chains: bool = True
    """A shot that ``continues_from`` another starts from that shot's finished clip (``ShotJob.previous_clip``), so
    it renders after it. False: the backend makes a take continuous from the plan alone, so shots render at once."""
    threads: bool = False
    """Its ``render_shot`` may run in several threads of one process at once (most of its work releases the GIL),
    so shots render side by side in threads, without worker processes."""

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
        RendererSpec("procedural", "stages.procedural:ProceduralRenderer", "stages.procedural:ProceduralOptions",
                     chains=False, threads=True),
        RendererSpec(
            "dit", "stages.dit:DitRenderer", "stages.dit:DitOptions", gpu=True, weights=True, generative=True,
            size_multiple=16,
        ),
        RendererSpec("s2v", "stages.s2v:S2VRenderer", "stages.s2v:S2VOptions", gpu=True, weights=True,
                     generative=True, size_multiple=16),
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
