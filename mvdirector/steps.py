"""The pipeline's steps: each calls one stage's public entry, or reuses its output from the work directory.

A step's output is reused when it was made under the same cache key: sha256 of the stage's
name, VERSION, config and the content hashes of its inputs (`mvdirector.cache`). Paths never
enter a key, so a song or work directory can move without recomputing anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from mvdirector.cache import cache_key, model_fingerprint
from mvdirector.deliver import Publication, format_folder, mux_settings, video_id
from mvdirector.media.atomic import file_sha256, write_json_atomic
from mvdirector.planio import load_plan, save_plan
from mvdirector.progress import Reporter
from mvdirector.request import Delivery, RenderRequest
from mvdirector.rules import burns_captions, reference_ids
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, ReferenceSet, RenderReport, ShotClip, ShotPlan
from mvdirector.shots import ShotExecutor, get_renderer, plan_shot_tasks, plan_warnings, render_shots
from mvdirector.workdir import CACHE, IDENTITY_CACHE, KEYS, THUMBNAILS, Workdir
from stages import analyze as analyze_stage
from stages import assemble as assemble_stage
from stages import direct as direct_stage
from stages import reference as reference_stage
from stages.render import ShotJob

T = TypeVar("T", bound=BaseModel)
PATH_FIELDS = ("lyrics", "vocals")
"""AnalyzeConfig fields naming files: their content, not their path, enters the analysis key."""


def _sha(path: Path | None) -> str | None:
    return file_sha256(path) if path is not None else None


def _cached(wd: Workdir, name: str, key: str, model: type[T]) -> T | None:
    """The work directory's ``name`` when made under ``key`` and still a valid ``model``; else None (remade)."""
    from mvdirector.errors import MvError
    from mvdirector.loaders import load_contract

    if not wd.fresh(name, key):
        return None
    try:
        return load_contract(wd.path(name), model, name)
    except MvError:  # edited or damaged by hand: made again
        return None


def analysis(req: RenderRequest, wd: Workdir, rep: Reporter) -> AudioAnalysis:
    """Analyse the song, or reuse `analysis.json` made from the same audio, files and config."""
    cfg = req.analyze_config()
    inputs = {"song": file_sha256(req.song), "lyrics": _sha(req.lyrics)}
    if req.vocals is not None:
        inputs["vocals"] = file_sha256(req.vocals)
    key = cache_key("analyze", analyze_stage.VERSION, cfg.model_dump(exclude=set(PATH_FIELDS)), inputs)
    name = "analysis.json"
    result = _cached(wd, name, key, AudioAnalysis) if not req.forced("analyze") else None
    if result is not None:
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


REFERENCES, SINGER = "references.json", "reference.json"
PHOTO_OUTPUTS = (REFERENCES, SINGER, KEYS, CACHE)
"""What the photo step and the renderer's preparation write in a work directory (`references`, `prepare_renderer`)."""


def references(req: RenderRequest, wd: Workdir, rep: Reporter) -> ReferenceSet:
    """Inspect the photos and sort them into singer, looks and scenes, or reuse `references.json` made from the
    same photos (by content and name, in the same order). `reference.json` holds the singer's photo alone."""
    photos = [p.absolute() for p in req.photos()]
    shas = [file_sha256(p) for p in photos]
    ids = reference_ids([p.stem for p in photos])
    key = cache_key("reference", reference_stage.VERSION, {"allow_others": req.allow_others},
                    {"images": shas, "ids": ids})
    name = REFERENCES
    if wd.fresh(name, key) and not req.forced("reference"):
        refs = ReferenceSet.model_validate_json(wd.path(name).read_text())
        rep.finish("reference", "cached")
        return refs.model_copy(update={"photos": [  # the same files, maybe moved since
            ph.model_copy(update={"path": str(p)}) for ph, p in zip(refs.photos, photos, strict=True)]})
    rep.start("reference", float(len(photos)))
    infos = []
    for k, (path, sha) in enumerate(zip(photos, shas, strict=True)):
        seen = reference_stage.inspected(sha)  # the pre-flight already looked at several photos
        if seen is not None:
            infos.append(seen.model_copy(update={"path": str(path)}))
        else:
            infos.append(reference_stage.inspect_reference(
                path, progress=lambda f, m, k=k: rep.update("reference", k + f, m)))
    refs = reference_stage.sort_photos(infos, req.allow_others)
    for photo in refs.photos:
        for w in photo.warnings:
            rep.warn(w)
    write_json_atomic(wd.path(SINGER), refs.singer)
    write_json_atomic(wd.path(name), refs)
    wd.record(name, key)
    kinds = [p.kind for p in refs.photos]
    said = f"{len(refs.singer.faces)} face(s)" if len(kinds) == 1 else ", ".join(
        f"{kinds.count(k)} {k}{'s' if kinds.count(k) > 1 else ''}" for k in ("singer", "look", "scene") if k in kinds)
    rep.finish("reference", said)
    return refs


def prepare_renderer(req: RenderRequest, wd: Workdir, refs: ReferenceSet) -> None:
    """Let the request's renderer prepare, once, what its shots of the singer's photo and this song need (a
    backend with a ``prepare`` method: e.g. a subject matte), so shots that render side by side find it ready.
    Other photos are prepared by the first shot that shows them."""
    if req.plan is not None:  # the plan may name another renderer
        return
    prepare = getattr(get_renderer(req.renderer, req.renderer_options), "prepare", None)
    if prepare is not None:
        voice = (req.vocals or req.song).absolute()
        prepare(refs.singer, Path(refs.singer.path).absolute(), voice, wd.path(CACHE).absolute())


def photos_to_draw(req: RenderRequest, wd: Workdir, refs: ReferenceSet) -> tuple[dict[str, ReferenceInfo],
                                                                                   dict[str, Path]]:
    """Each photo as the renderers draw it, by id, and its image file. A scene has no main face (it is framed
    as a place, even with people small in it). With ``--colour-match`` a look or scene is a copy brought into
    the singer's palette (kept in ``cache/palette/``, named by what it is made from), described by its own
    content hash; without it, the photo itself."""
    infos: dict[str, ReferenceInfo] = {}
    images: dict[str, Path] = {}
    singer = refs.singer
    for photo in refs.photos:
        image = Path(photo.path).absolute()
        if photo.kind == "scene":  # a scene is drawn as a place: no face to frame, cut out or animate
            photo = photo.model_copy(update={"primary": None})
        if req.colour_match and photo.kind != "singer":
            made = cache_key("palette", reference_stage.PALETTE_VERSION, {"kind": photo.kind},
                             {"photo": photo.sha256, "singer": singer.sha256})
            out = wd.path(f"cache/palette/{photo.id}.{made[:16]}.png").absolute()
            own, face = photo.primary_face, singer.primary_face
            faces = (tuple(own.box), tuple(face.box)) if own is not None and face is not None else None
            if not out.is_file():
                reference_stage.write_matched(image, Path(singer.path), photo.kind, out, faces)
            photo = photo.model_copy(update={"path": str(out), "sha256": file_sha256(out)})
            image = out
        infos[photo.id], images[photo.id] = photo, image
    return infos, images


def plan(req: RenderRequest, wd: Workdir, analysis: AudioAnalysis, refs: ReferenceSet, rep: Reporter) -> ShotPlan:
    """The shot plan: the user's --plan, else `plan.json` if its inputs are unchanged, else a new one.

    A `plan.json` in the work directory that a person edited is kept as long as the song, what the
    director sees of the photos (ids, kinds, faces) and the direction settings are unchanged; a photo
    replaced by another of the same kind only updates the plan's list of photos.
    """
    if req.plan is not None:
        plan, warnings = req.user_plan(analysis.source.duration_s)
        for w in warnings:
            rep.warn(w)
        plan = direct_stage.fill_keyframes(plan)  # a hand-changed move with its keyframes deleted
        rep.finish("direct", f"{len(plan.shots)} shots from {req.plan}")
        return plan
    cfg = req.direct_config()
    listed = [reference_stage.reference_ref(p) for p in refs.photos]
    inputs = {
        "analysis": model_fingerprint(analysis),
        "references": [r.model_dump(mode="json", exclude={"path", "sha256"}) for r in listed],
        "style": direct_stage.fingerprint(cfg),
    }
    key = cache_key("direct", direct_stage.VERSION, cfg, inputs)
    name = "plan.json"
    if wd.fresh(name, key) and not req.forced("direct"):
        plan, warnings = load_plan(wd.path(name))
        for w in warnings:
            rep.warn(w)
        if plan.references != listed:  # the same photos by what they show; new files or contents
            plan = plan.model_copy(update={"references": listed, "reference": listed[0]})
            save_plan(plan, wd.path(name))
        rep.finish("direct", f"{len(plan.shots)} shots (plan.json reused)")
        return direct_stage.fill_keyframes(plan)
    if wd.path(name).exists() and wd.keys.get(name) and wd.keys.get(name) != key:
        backup = wd.path(f"plan.{time.strftime('%Y%m%d-%H%M%S')}.json")
        wd.path(name).replace(backup)
        rep.warn(f"inputs changed: re-planned; the previous plan.json is kept as {backup.name}")
    rep.start("direct", 1.0)
    plan = direct_stage.direct(analysis, refs, cfg, progress=lambda f, m: rep.update("direct", f, m))
    save_plan(plan, wd.path(name))
    wd.record(name, key)
    for w in direct_stage.unused_photos(plan):
        rep.warn(w)
    rep.finish("direct", f"{len(plan.shots)} shots")
    return plan


def shots(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    analysis: AudioAnalysis,
    refs: ReferenceSet,
    rep: Reporter,
    executor: ShotExecutor | None = None,
    on_shot: Callable[[str, bool], None] | None = None,
) -> list[ShotClip]:
    """Render every shot whose clip is missing, in this process or on ``executor``; the clips in plan order.

    Each shot draws its own photo (`ShotJob.for_shot`). Without an executor, ``req.jobs`` picks one
    (`mvdirector.executors.shot_executor`): with ``auto``, shots that can start at once render side by side
    on the usable cores, in threads or processes as their backend declares — unless a renderer of the plan
    takes a whole GPU per shot.
    """
    from mvdirector.executors import InlineExecutor, shot_executor

    infos, images = photos_to_draw(req, wd, refs)
    singer = refs.singer
    job = ShotJob(
        plan, plan.shots[0], analysis, infos[singer.id], images[singer.id], req.song.absolute(),
        cache_dir=wd.path(CACHE).absolute(), vocals_path=req.vocals.absolute() if req.vocals else None,
        singer=singer, references=infos, reference_images=images, burn_captions=burns_captions(req.captions),
    ).for_shot(plan.shots[0].id)
    extra = {"vocals": file_sha256(req.vocals)} if req.vocals is not None else None
    tasks = plan_shot_tasks(job, wd.root, req.renderer_options, req.forced("render"), extra)
    for warning in plan_warnings(job, tasks):
        rep.warn(warning)
    own = None
    if executor is None:
        todo = [t for t in tasks if not t.cached]
        executor = own = shot_executor(req.jobs, todo, plan.render.width * plan.render.height, rep.warn)
    try:
        return render_shots(job, tasks, executor or InlineExecutor(), rep, on_shot)
    finally:
        if own is not None:
            own.shutdown()


def sound_track() -> assemble_stage.EarlyTrack:
    """This run's early sound-track encode: ``start_sound_track`` starts it, ``stopped_on_error()`` wraps what
    may fail; the assembler collects it, and one nobody collects is stopped at exit."""
    return assemble_stage.EarlyTrack()


def start_sound_track(track: assemble_stage.EarlyTrack, req: RenderRequest, wd: Workdir) -> None:
    """Start encoding the videos' sound track now, at low priority, so it fills the CPU time the other steps
    leave idle (every format shares ``-o``'s suffix, so one track)."""
    suffix = req.resolved_out().suffix.lower()
    track.start(req.song, suffix, req.assemble_config().audio, wd.path("audio"))


def video(
    req: RenderRequest,
    wd: Workdir,
    plan: ShotPlan,
    clips: list[ShotClip],
    refs: ReferenceSet,
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
        "reference": refs.singer.sha256,
        "photos": [p.kind for p in refs.photos],
        "out": out_id,
        **mux_inputs,
    }
    key = cache_key("assemble", assemble_stage.VERSION, cfg, inputs)
    name = f"video:{out_id}"
    fresh = wd.fresh_file(name, key, out) and all(c.cached for c in clips) and not req.forced("assemble")
    if fresh and (folder / "report.json").exists():
        try:
            previous = RenderReport.model_validate_json((folder / "report.json").read_text())
        except (ValueError, OSError):
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
        plan, clips, req.song, out, cfg, reference=refs.singer, progress=lambda f, m: rep.update("assemble", f, m)
    )
    wd.record_file(name, key, out)
    rep.finish("assemble", str(out))
    return report, False
