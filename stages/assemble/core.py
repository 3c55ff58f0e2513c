"""The assembler (DESIGN §4 *assemble*): clips in plan order → one video with the song, and a report.

Steps: (1) check the clips against the plan and the song, and index each clip's packets
(where it can be cut without decoding); (2) find the transition windows and, with
``colour_match``, the grade transforms; (3) split the output into pieces: frames a
transition or grade changes are re-encoded, extended to the nearest clean cut points (an
IDR picture at the start of a copied part, a decode-order boundary at its end); everything
else is copied packet for packet, provided it shares the codec parameters our encoder
produces; (4) re-encode those pieces, applying grades and transitions frame by frame,
while the song's AAC track is encoded in the background; (5) join all parts with ffmpeg's
concat demuxer (stream copy) and mux the song, to a temporary name renamed into place;
(6) verify the frame count and measure the A/V offset; (7) measure identity and colour on
sampled frames of the result, write thumbnails, and return the ``RenderReport`` (the
pipeline writes it, with the whole run's timings, as ``report.json`` and ``report.html``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mvdirector import temps
from mvdirector.errors import InputError, MvError, PlanError
from mvdirector.media.atomic import atomic_output
from mvdirector.media.video import probe_video
from mvdirector.rules import CODECS, check_container
from mvdirector.schemas import ReferenceInfo, RenderReport, Shot, ShotClip, ShotPlan, ShotReport
from stages.assemble import audio as audio_mod
from stages.assemble import colour as colour_mod
from stages.assemble import concat, consistency, measured
from stages.assemble import memo as memo_mod
from stages.assemble.config import VERSION, AssembleConfig
from stages.assemble.pieces import Ctx, make_parts, part_ids, plan_pieces
from stages.assemble.timeline import Piece, sample_frames, shot_frame_ranges, transition_windows

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None

FACE_FRAMINGS = ("extreme_close_up", "close_up", "medium")
"""Framings in which the singer's face should be found; a miss there is a warning."""
COLOUR_JUMP_WARN_E = 25.0
"""ΔE between the means of neighbouring shots of one section above which a grade jump is reported."""


def _step(progress: Progress, lo: float, hi: float) -> Callable[[float, str], None]:
    def report(frac: float, msg: str) -> None:
        if progress:
            progress(lo + (hi - lo) * min(1.0, max(0.0, frac)), msg)

    return report


# ----------------------------------------------------------------------------- checks


def check_inputs(
    plan: ShotPlan, clips: list[ShotClip], song_path: Path, out_path: Path, config: AssembleConfig
) -> float:
    """Fail before heavy work when clips, song or output do not fit the plan; return the song's length."""
    from mvdirector.media.audio import audio_info

    fps = plan.render.fps
    try:
        check_container(config.codec, out_path)
    except ValueError as e:
        raise InputError(str(e)) from None
    want = [s.id for s in plan.shots]
    got = [c.shot_id for c in clips]
    if want != got:
        missing = [i for i in want if i not in got]
        extra = [i for i in got if i not in want]
        detail = (
            f"missing {missing[:3]}"
            if missing
            else f"unknown {extra[:3]}"
            if extra
            else "they are in a different order"
        )
        raise PlanError(
            f"the {len(clips)} clips do not match the plan's {len(want)} shots ({detail})",
            "render every shot of plan.json, in plan order",
        )
    for shot, clip in zip(plan.shots, clips, strict=True):
        n = shot.n_frames(fps)
        if clip.frames != n:
            raise PlanError(
                f"clip of shot '{shot.id}' has {clip.frames} frames but the shot needs {n} at {fps:g} fps",
                "re-render the shot",
            )
        if (clip.width, clip.height) != (plan.render.width, plan.render.height):
            raise PlanError(
                f"clip of shot '{shot.id}' is {clip.width}x{clip.height} but the plan asks "
                f"{plan.render.width}x{plan.render.height}",
                "re-render the shot",
            )
        if abs(clip.fps - fps) > 1e-6:
            raise PlanError(f"clip of shot '{shot.id}' is {clip.fps:g} fps but the plan is {fps:g} fps", "re-render it")
    song_s = audio_info(song_path).duration_s
    if abs(song_s - plan.song.duration_s) > 1.0 / fps:
        raise PlanError(
            f"the song '{song_path.name}' is {song_s:.3f} s but the plan was made for {plan.song.duration_s:.3f} s",
            "re-plan for this song (`mvdirector plan`)",
        )
    return song_s


# ------------------------------------------------------------------------ measurement


def _shot_measure_keys(
    ctx: Ctx,
    pieces: list[Piece],
    part_ids: list[str],
    picks: list[list[int]],
    ref_emb: list[float] | None,
    thumbs: Path | None,
) -> list[str]:
    """Per shot, a key of the parts its frames come from and everything its measurement depends on."""
    plan, cfg = ctx.plan, ctx.config
    keys = []
    for i, (shot, (a, b)) in enumerate(zip(plan.shots, ctx.ranges, strict=True)):
        parts = [[pid, p.start, p.end] for p, pid in zip(pieces, part_ids, strict=True) if p.start < b and a < p.end]
        keys.append(
            memo_mod.digest(
                {
                    "version": VERSION,
                    "range": [a, b],
                    "parts": parts,
                    "picks": picks[i],
                    "reference": ref_emb if _shows_singer(plan, shot) else None,
                    "threshold": cfg.identity_threshold,
                    "shot": [shot.id, shot.framing, shot.renderer or plan.render.renderer],
                    "thumbs": thumbs is not None,
                }
            )
        )
    return keys


def _measure(
    ctx: Ctx,
    video: Path,
    reference: ReferenceInfo | None,
    thumbs: Path | None,
    progress: Callable[[float, str], None],
    pieces: list[Piece] | None = None,
    part_ids: list[str] | None = None,
) -> tuple[list[dict[str, object]], list[str]]:
    """Identity, colour and a thumbnail per shot from sampled frames of the finished video.

    With ``config.measure_cache`` (and the pieces the video was joined from), shots whose parts
    are unchanged since an earlier run take their measurement from the memo and are not decoded.
    """
    plan, cfg = ctx.plan, ctx.config
    windows = list(ctx.windows_in.values())
    index = concat.clip_index(video)
    given = [measured.from_metrics(c.metrics) for c in ctx.clips]  # what the renderer measured itself
    given = [(colour_mod.transformed(st, ctx.transforms[i]) if st is not None and i in ctx.transforms else st, idn)
             for i, (st, idn) in enumerate(given)]  # as graded by --colour-match
    picks = [sample_frames(a, b, 1 if g[0] is not None and g[1] is not None else cfg.samples_per_shot, windows,
                           index.resumes) for (a, b), g in zip(ctx.ranges, given, strict=True)]
    ref_emb = reference.primary_face.embedding if reference and reference.primary_face else None
    shot_memo = memo_mod.MeasureMemo(cfg.measure_cache) if cfg.measure_cache and pieces and part_ids else None
    mkeys = _shot_measure_keys(ctx, pieces, part_ids, picks, ref_emb, thumbs) if shot_memo else []
    remembered: dict[int, dict[str, Any]] = {}
    if shot_memo is not None:
        for i, shot in enumerate(plan.shots):
            hit = shot_memo.get(mkeys[i], thumbs / f"{shot.id}.jpg" if thumbs is not None else None)
            if hit is not None:
                remembered[i] = hit
    wanted = {g for i, p in enumerate(picks) if i not in remembered for g in p}
    frames = consistency.gather_frames(
        video, wanted, lambda i: progress(0.6 * i / max(1, len(wanted)), "decoding samples"), index
    )
    per_shot: list[dict[str, object]] = []
    warnings: list[str] = []
    stats: list[colour_mod.LabStats] = []
    memo = consistency.IdentityMemo(cfg.identity_cache) if cfg.identity_cache and ref_emb else None
    for i, (shot, pick) in enumerate(zip(plan.shots, picks, strict=True)):
        progress(0.6 + 0.4 * i / len(plan.shots), f"checking shot {shot.id}")
        emb = ref_emb if _shows_singer(plan, shot) else None  # a scene has no singer to measure
        if i in remembered:
            entry = remembered[i]
            m = dict(entry["m"])
            m["warnings"] = list(entry["m"]["warnings"])
            for f in ("lab_mean", "lab_std"):
                if f in m:
                    m[f] = tuple(m[f])
            if entry.get("stats"):
                stats.append(colour_mod.LabStats(tuple(entry["stats"][0]), tuple(entry["stats"][1])))
            per_shot.append(m)
            continue
        imgs = [frames[g] for g in pick if g in frames]
        m = {"warnings": []}
        st, ident = given[i]
        if st is None and imgs:
            st = colour_mod.lab_stats(imgs)
        if st is not None:
            stats.append(st)
            m["lab_mean"] = tuple(round(x, 3) for x in st.mean)
            m["lab_std"] = tuple(round(x, 3) for x in st.std)
        if imgs and thumbs is not None:
            name = f"{shot.id}.jpg"
            consistency.write_thumbnail(imgs[len(imgs) // 2], thumbs / name)
            m["thumbnail"] = _relative(thumbs / name, thumbs.parent)
        if ident is None and emb and imgs:
            ident = consistency.shot_identity(imgs, emb, memo)
        if emb and ident is not None and ident.frames_sampled:
            m["identity_frames"] = ident.frames_with_face
            if ident.distance is not None and ident.similarity is not None:
                m["identity_distance"] = round(ident.distance, 4)
                m["identity_similarity"] = round(ident.similarity, 4)
                if ident.distance > cfg.identity_threshold:
                    renderer = shot.renderer or plan.render.renderer
                    msg = (
                        f"shot '{shot.id}': the singer's face is {ident.distance:.3f} from the reference "
                        f"(threshold {cfg.identity_threshold:g}, cosine {ident.similarity:.3f})"
                    )
                    if _generative(renderer):
                        m["needs_rerender"] = True
                        msg += " — marked for re-render; change its seed or prompt in plan.json"
                    m["warnings"].append(msg)  # type: ignore[union-attr]
            elif shot.framing in FACE_FRAMINGS:
                m["warnings"].append(  # type: ignore[union-attr]
                    f"shot '{shot.id}' ({shot.framing}): no face found in {ident.frames_sampled} sampled frame(s)"
                )
        per_shot.append(m)
        if shot_memo is not None:
            entry = {"m": m, "stats": [list(st.mean), list(st.std)] if st is not None else None}
            shot_memo.put(mkeys[i], entry, thumbs / f"{shot.id}.jpg" if thumbs is not None else None)
    if memo is not None:
        memo.save()
    if shot_memo is not None:
        shot_memo.save()
    if stats and len(stats) == len(plan.shots):
        whole = colour_mod.pooled(stats)
        for i, m in enumerate(per_shot):
            m["colour_delta_e"] = round(colour_mod.delta_e(stats[i].mean, whole.mean), 3)
            if i and plan.shots[i].section == plan.shots[i - 1].section:
                jump = colour_mod.delta_e(stats[i].mean, stats[i - 1].mean)
                if jump > COLOUR_JUMP_WARN_E:
                    m["warnings"].append(  # type: ignore[union-attr]
                        f"shot '{plan.shots[i].id}': grade jump of ΔE {jump:.1f} from the previous shot "
                        "of the "
                        f"{plan.shots[i].section} — assemble with colour matching (--colour-match)"
                    )
    for m in per_shot:
        warnings.extend(m["warnings"])  # type: ignore[arg-type]
    if ref_emb is None:
        warnings.append("no reference face: identity was not measured")
    return per_shot, warnings


def _shows_singer(plan: ShotPlan, shot: Shot) -> bool:
    """Whether a shot shows the singer (its photo is not a scene), so its identity is measured."""
    ref = plan.reference_of(shot)
    return ref is None or ref.shows_singer


def _mux_extras(config: AssembleConfig, out: Path) -> concat.MuxExtras:
    """The subtitle track and chapters the config asks the final mux to add."""
    from mvdirector.rules import SUBTITLE_CODECS

    return concat.MuxExtras(
        subtitles=Path(config.subtitles) if config.subtitles else None,
        subtitle_codec=SUBTITLE_CODECS.get(out.suffix.lower(), "mov_text"),
        subtitle_language=config.subtitle_language,
        subtitle_default=config.subtitle_default,
        chapters=Path(config.chapters) if config.chapters else None,
    )


def _generative(renderer: str) -> bool:
    """Whether a renderer's picture changes with the seed (then a shot that misses the singer is re-rendered)."""
    from stages.render import RENDERERS

    spec = RENDERERS.get(renderer)
    return spec is not None and spec.generative


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _colour_transforms(plan: ShotPlan, clips: list[ShotClip], samples: int) -> dict[int, colour_mod.ColourTransform]:
    """Grade-match transforms from statistics of frames sampled in each clip."""
    stats = []
    for shot, clip in zip(plan.shots, clips, strict=True):
        n = shot.n_frames(plan.render.fps)
        index = concat.clip_index(clip.path)
        picks = sample_frames(0, n, samples, [], index.resumes)
        frames = consistency.gather_frames(clip.path, picks, index=index)
        stats.append(colour_mod.lab_stats(list(frames.values())))
    kinds = [ref.kind if (ref := plan.reference_of(s)) is not None else "singer" for s in plan.shots]
    return colour_mod.match_transforms(plan, stats, kinds=kinds)


# ---------------------------------------------------------------------------- assemble


def assemble(
    plan: ShotPlan,
    clips: list[ShotClip],
    song_path: Path,
    out_path: Path,
    config: AssembleConfig,
    reference: ReferenceInfo | None = None,
    progress: Progress = None,
) -> RenderReport:
    """Join the shot clips into ``out_path`` with transitions and the song; return the render report.

    With ``config.consistency`` it also writes a thumbnail per shot to ``config.thumbnails_dir``
    (default ``<video stem>.thumbs/`` beside the video).
    """
    t0 = time.perf_counter()
    song_path, out_path = Path(song_path), Path(out_path)
    step = _step(progress, 0.0, 0.05)
    step(0.0, "checking clips")
    song_s = check_inputs(plan, clips, song_path, out_path, config)
    fps = plan.render.fps
    indexes = [concat.clip_index(c.path) for c in clips]
    for shot, ix in zip(plan.shots, indexes, strict=True):
        sig = ix.signature
        if sig.frames != shot.n_frames(fps) or (sig.width, sig.height) != (
            plan.render.width,
            plan.render.height,
        ):
            raise PlanError(
                f"clip file of shot '{shot.id}' holds {sig.frames} frames of {sig.width}x{sig.height}, not "
                f"{shot.n_frames(fps)} of {plan.render.width}x{plan.render.height}",
                "re-render the shot",
            )
    windows = transition_windows(plan)
    transforms: dict[int, colour_mod.ColourTransform] = {}
    if config.colour_match:
        _step(progress, 0.05, 0.1)(0.0, "matching colour")
        transforms = _colour_transforms(plan, clips, max(3, config.samples_per_shot))
    ranges = shot_frame_ranges(plan)
    ctx = Ctx(plan, clips, ranges, {w.index: w for w in windows}, transforms, config, indexes)
    audio_args, audio_label = concat.audio_args(song_path, out_path.suffix.lower(), config.audio)
    tag = "hvc1" if config.codec == "h265" else None

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with temps.temp_dir(out_path.parent, ".assemble-") as tmp:
        song_for_mux, mux_audio = song_path, audio_args
        audio_job = None
        cached_audio = audio_mod.cache_file(config.audio_cache, song_path, audio_args)
        early = cached_audio is not None and (cached_audio.is_file() or audio_mod.pending(cached_audio))
        if early:  # in the cache, or being encoded there since before the shots rendered
            song_for_mux, mux_audio = cached_audio, ["-c:a", "copy"]
        elif audio_args[:2] != ["-c:a", "copy"]:  # encode the sound while the picture is worked on
            song_for_mux, mux_audio = tmp / "audio.m4a", ["-c:a", "copy"]
            audio_job = concat.start_audio_encode(song_path, song_for_mux, audio_args)
        piece_cache = None
        if config.piece_cache:
            piece_cache = memo_mod.PieceCache(config.piece_cache, CODECS[config.codec].segment_suffix)
        ids = memo_mod.ContentIds()
        try:
            pieces = plan_pieces(ctx, windows, tmp)
            parts = make_parts(ctx, pieces, tmp, _step(progress, 0.1, 0.7), piece_cache, ids)
            keys = {ctx.indexes[p.shot].signature.key() for p in pieces if p.shot is not None}
            keys |= {concat.stream_signature(f).key() for f, p in zip(parts, pieces, strict=True) if not p.copy}
            if len(keys) > 1:
                log.warning("re-encoded pieces do not share the clips' codec parameters; re-encoding all")
                pieces = [Piece(0, plan.n_frames)]
                parts = make_parts(ctx, pieces, tmp, _step(progress, 0.1, 0.7), piece_cache, ids)
        except BaseException:
            if audio_job is not None:
                audio_job.kill()
                audio_job.wait()
            raise
        if early and not audio_mod.collect(cached_audio):  # the early encode failed: encode here, say why
            song_for_mux = tmp / "audio.m4a"
            audio_job = concat.start_audio_encode(song_path, song_for_mux, audio_args)
        if audio_job is not None:
            _step(progress, 0.7, 0.72)(0.0, "encoding the sound")
            concat.finish_audio_encode(audio_job, song_path)
            if cached_audio is not None:
                with atomic_output(cached_audio) as tmp_audio:
                    shutil.copyfile(song_for_mux, tmp_audio)
        _step(progress, 0.72, 0.75)(0.0, "joining and muxing the song")
        with atomic_output(out_path) as tmp_out:
            concat.join_and_mux(parts, song_for_mux, tmp_out, mux_audio, tag, config.faststart, tmp / "parts.txt",
                                _mux_extras(config, out_path))
            info = probe_video(tmp_out)
            if info.frames != plan.n_frames:
                raise MvError(
                    f"the joined video has {info.frames} frames but the plan has {plan.n_frames}",
                    "this is a bug in the assembler; please report it (AssembleConfig(reencode='always') avoids it)",
                )
            offset = concat.av_offset_s(tmp_out)
        if piece_cache is not None:
            piece_cache.prune()
    assemble_s = time.perf_counter() - t0

    warnings: list[str] = []
    duration = max(info.duration_s, info.audio_duration_s)
    if abs(duration - song_s) > 1.0 / fps:
        warnings.append(f"the video lasts {duration:.3f} s but the song {song_s:.3f} s (more than one frame apart)")
    if abs(offset) > 0.5 / fps:
        warnings.append(f"audio/video offset is {offset * 1000:.1f} ms (more than half a frame)")
    if config.subtitles and concat.subtitle_languages(out_path) != [config.subtitle_language]:
        warnings.append(f"the subtitle track of {out_path.name} could not be tagged '{config.subtitle_language}' "
                        f"(the {out_path.suffix} muxer does not know that code); .mp4 and .mkv take any")

    per_shot: list[dict[str, object]] = [{"warnings": []} for _ in plan.shots]
    thumbs: Path | None = None
    if config.consistency:
        thumbs = Path(config.thumbnails_dir) if config.thumbnails_dir else out_path.parent / f"{out_path.stem}.thumbs"
        per_shot, more = _measure(
            ctx, out_path, reference, thumbs, _step(progress, 0.75, 0.98), pieces, part_ids(ctx, pieces, ids)
        )
        warnings.extend(more)

    shots = []
    for i, (shot, clip) in enumerate(zip(plan.shots, clips, strict=True)):
        photo = plan.reference_of(shot)
        shots.append(
            ShotReport(
                shot_id=shot.id,
                start_s=shot.start_s,
                end_s=shot.end_s,
                framing=shot.framing,
                move=shot.camera.move,
                cached=clip.cached,
                render_s=clip.render_s,
                transition_in=shot.transition_in.kind,
                reference=photo.id if photo else None,
                reference_kind=photo.kind if photo else None,
                **per_shot[i],
            )
        )
    copied = {p.shot for p in pieces if p.shot is not None}
    whole = {i for i in copied if sum(p.end - p.start for p in pieces if p.shot == i) == ranges[i][1] - ranges[i][0]}
    n_redo = len(plan.shots) - len(whole)
    reencoded_frames = sum(p.end - p.start for p in pieces if not p.copy)
    report = RenderReport(
        video=str(out_path),
        duration_s=round(duration, 6),
        song_duration_s=round(song_s, 6),
        frames=info.frames,
        fps=fps,
        width=info.width,
        height=info.height,
        av_offset_s=round(offset, 6),
        shots=shots,
        cache_hits=sum(c.cached for c in clips),
        rendered=sum(not c.cached for c in clips),
        warnings=warnings,
        codec=config.codec,
        audio_codec=audio_label,
        copied_shots=len(whole),
        reencoded_shots=n_redo,
        reencoded_frames=reencoded_frames,
        assemble_s=round(assemble_s, 3),
    )
    if config.consistency and thumbs is not None:
        strip = measured.mouth_strip(plan, clips, thumbs)
        if strip is not None:
            report = report.model_copy(update={"mouth_strip": _relative(strip[0], thumbs.parent),
                                               "mouth_strip_line": strip[1]})
    _step(progress, 0.98, 1.0)(1.0, f"assembled {report.frames} frames")
    log.info(
        "assembled %s: %d shots (%d copied whole), %d of %d frames re-encoded, in %.2f s",
        out_path.name,
        len(plan.shots),
        report.copied_shots,
        reencoded_frames,
        plan.n_frames,
        assemble_s,
    )
    return report
