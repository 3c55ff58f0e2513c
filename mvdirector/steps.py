"""The pipeline's steps: each calls one stage's public entry, or reuses its output from the work directory.

A step's output is reused when it was made under the same cache key: sha256 of the stage's
name, VERSION, config and the content hashes of its inputs (`mvdirector.cache`). Paths never
enter a key, so a song or work directory can move without recomputing anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mvdirector.cache import cache_key, model_fingerprint
from mvdirector.deliver import Publication, format_folder, mux_settings, video_id
from mvdirector.media.atomic import file_sha256, write_json_atomic
from mvdirector.planio import load_plan, save_plan
from mvdirector.progress import Reporter
from mvdirector.request import Delivery, RenderRequest
from mvdirector.rules import burns_captions
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, RenderReport, ShotClip, ShotPlan
from mvdirector.shots import ShotExecutor, plan_shot_tasks, render_shots
from mvdirector.workdir import IDENTITY_CACHE, THUMBNAILS, Workdir
from stages import analyze as analyze_stage
from stages import assemble as assemble_stage
from stages import direct as direct_stage
from stages import reference as reference_stage
from stages.render import ShotJob, renderer_spec

PATH_FIELDS = ("lyrics", "vocals")
"""AnalyzeConfig fields naming files: their content, not their path, enters the analysis key."""


def _sha(path: Path | None) -> str | None:
    return file_sha256(path) if path is not None else None


def analysis(req: RenderRequest, wd: Workdir, rep: Reporter) -> AudioAnalysis:
    """Analyse the song, or reuse `analysis.json` made from the same audio, files and config."""
    cfg = req.analyze_config()
    inputs = {"song": file_sha256(req.song), "lyrics": _sha(req.lyrics)}
    if req.vocals is not None:
        inputs["vocals"] = file_sha256(req.vocals)
    key = cache_key("analyze", analyze_stage.VERSION, cfg.model_dump(exclude=set(PATH_FIELDS)), inputs)
    name = "analysis.json"
    if wd.fresh(name, key) and not req.forced("analyze"):
        result = AudioAnalysis.model_validate_json(wd.path(name).read_text())
        if result.lyrics.warning:
            rep.warn(result.lyrics.warning)
        rep.finish("analyze", "cached")
        return result
    rep.start("analyze", 1.0)
    result = analyze_stage.analyze(req.song, cfg, progress=lambda f, m: rep.update("analyze", f, m))
    write_json_atomic(wd.path(name), result)
    wd.record(name, key)
    if result.lyrics.warning:
        rep.warn(result.lyrics.warning)
    rep.finish("analyze", f"{result.bpm:.1f} bpm, {len(result.beats)} beats, {len(result.sections)} sections")
    return result


def reference(req: RenderRequest, wd: Workdir, rep: Reporter) -> ReferenceInfo:
    """Inspect the portrait, or reuse `reference.json` made from the same image."""
    key = cache_key("reference", reference_stage.VERSION, None, {"image": file_sha256(req.reference)})
    name = "reference.json"
    if wd.fresh(name, key) and not req.forced("reference"):
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


def plan(req: RenderRequest, wd: Workdir, analysis: AudioAnalysis, reference: ReferenceInfo, rep: Reporter) -> ShotPlan:
    """The shot plan: the user's --plan, else `plan.json` if its inputs are unchanged, else a new one.

    A `plan.json` in the work directory that a person edited is kept as long as the song,
    reference and direction settings it was made from are unchanged.
    """
    if req.plan is not None:
        plan, warnings = req.user_plan(analysis.source.duration_s)
        for w in warnings:
            rep.warn(w)
        plan = direct_stage.fill_keyframes(plan)  # a hand-changed move with its keyframes deleted
        rep.finish("direct", f"{len(plan.shots)} shots from {req.plan}")
        return plan
    cfg = req.direct_config()
    inputs = {
        "analysis": model_fingerprint(analysis),
        "reference": model_fingerprint(reference),
        "style": direct_stage.fingerprint(cfg),
    }
    key = cache_key("direct", direct_stage.VERSION, cfg, inputs)
    name = "plan.json"
    if wd.fresh(name, key) and not req.forced("direct"):
        plan, warnings = load_plan(wd.path(name))
        for w in warnings:
            rep.warn(w)
        rep.finish("direct", f"{len(plan.shots)} shots (plan.json reused)")
        return direct_stage.fill_keyframes(plan)
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


def shots(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    analysis: AudioAnalysis,
    reference: ReferenceInfo,
    rep: Reporter,
    executor: ShotExecutor | None = None,
    on_shot: Callable[[str, bool], None] | None = None,
) -> list[ShotClip]:
    """Render every shot whose clip is missing, in this process or on ``executor``; the clips in plan order.

    With ``req.jobs > 1`` and no executor, independent takes render in a local process pool —
    unless a renderer of the plan takes a whole GPU per shot (its declaration says so).
    """
    from mvdirector.executors import InlineExecutor, LocalExecutor

    job = ShotJob(
        plan, plan.shots[0], analysis, reference, req.reference.absolute(), req.song.absolute(),
        cache_dir=wd.path("cache").absolute(), vocals_path=req.vocals.absolute() if req.vocals else None,
        burn_captions=burns_captions(req.captions),
    )
    extra = {"vocals": file_sha256(req.vocals)} if req.vocals is not None else None
    tasks = plan_shot_tasks(job, wd.root, req.renderer_options, req.forced("render"), extra)
    own = None
    if executor is None and req.jobs > 1:
        gpu = sorted({t.renderer for t in tasks if renderer_spec(t.renderer).gpu})
        if gpu:
            rep.warn(f"--jobs is ignored: the {', '.join(gpu)} renderer takes a whole GPU for each shot")
        else:
            executor = own = LocalExecutor(req.jobs)
    try:
        return render_shots(job, tasks, executor or InlineExecutor(), rep, on_shot)
    finally:
        if own is not None:
            own.shutdown()


def video(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    clips: list[ShotClip],
    reference: ReferenceInfo,
    rep: Reporter,
    delivery: Delivery | None = None,
    pub: Publication | None = None,
) -> tuple[RenderReport, bool]:
    """Assemble the final video of ``delivery`` (default: the request's one video), or reuse it when it
    was made from the same clips and settings; ``pub`` adds the subtitle track and chapters to the mux.

    Returns the report and whether the video was reused.
    The record in ``keys.json`` also holds the video's size and mtime, so a video replaced by
    hand is made again.
    """
    delivery = delivery or req.deliveries((plan.render.width, plan.render.height))[0]
    out = delivery.video
    folder = format_folder(wd, delivery)
    out_id = video_id(wd, delivery)  # a video inside the work directory is named relative to it, so it can move
    settings, mux_inputs, mux_paths = mux_settings(req, pub, out)
    cfg = req.assemble_config().model_copy(update=settings)
    inputs = {
        "clips": [c.cache_key for c in clips],
        "plan": model_fingerprint(plan),
        "song": file_sha256(req.song),
        "reference": reference.sha256,
        "out": out_id,
        **mux_inputs,
    }
    key = cache_key("assemble", assemble_stage.VERSION, cfg, inputs)
    name = f"video:{out_id}"
    fresh = wd.fresh_file(name, key, out) and all(c.cached for c in clips) and not req.forced("assemble")
    if fresh and (folder / "report.json").exists():
        try:
            previous = RenderReport.model_validate_json((folder / "report.json").read_text())
        except ValueError:
            previous = None
        if previous is not None and Path(previous.video).name == out.name:
            rep.finish("assemble", f"{out.name} is up to date")
            return previous.model_copy(update={"video": str(out)}), True
    rep.start("assemble", 1.0)
    # Memos, thumbnails and the mux's files are not inputs (their content is): they stay out of the key above.
    cfg = cfg.model_copy(
        update={"identity_cache": str(folder / IDENTITY_CACHE), "audio_cache": str(wd.path("audio")),
                "piece_cache": str(folder / "pieces"), "measure_cache": str(folder / "measure"),
                "thumbnails_dir": str(folder / THUMBNAILS), **mux_paths}
    )
    report = assemble_stage.assemble(
        plan, clips, req.song, out, cfg, reference=reference, progress=lambda f, m: rep.update("assemble", f, m)
    )
    wd.record_file(name, key, out)
    rep.finish("assemble", str(out))
    return report, False
