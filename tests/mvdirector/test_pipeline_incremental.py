"""Incremental re-render through the real stages: what each change re-computes, counted.

One tiny render (8 s song, 160x90, 12 fps) is made once per module; every test copies its
work directory and changes one thing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import stages.analyze
import stages.reference
from mvdirector import temps
from mvdirector.errors import InputError
from mvdirector.media.video import read_frames
from mvdirector.pipeline import render
from mvdirector.progress import NullReporter
from mvdirector.request import RenderRequest

W, H, FPS = 256, 144, 12.0


class Counter:
    """Counts stage calls and shot renders of one `render()`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.analyze = 0
        self.reference = 0
        self.rendered: list[str] = []
        self.cached: list[str] = []
        real_analyze, real_inspect = stages.analyze.analyze, stages.reference.inspect_reference

        def analyze(*a, **k):
            self.analyze += 1
            return real_analyze(*a, **k)

        def inspect(*a, **k):
            self.reference += 1
            return real_inspect(*a, **k)

        monkeypatch.setattr(stages.analyze, "analyze", analyze)
        monkeypatch.setattr(stages.reference, "inspect_reference", inspect)

    def on_shot(self, sid: str, cached: bool) -> None:
        (self.cached if cached else self.rendered).append(sid)


def request(song: Path, ref: Path, wd: Path, **kw) -> RenderRequest:
    return RenderRequest.create(
        song=song,
        reference=ref,
        workdir=wd,
        out=wd / "video.mp4",
        width=W,
        height=H,
        fps=FPS,
        asr="none",
        **kw,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory, click_song, portrait):
    d = tmp_path_factory.mktemp("incr")
    song, ref = d / "song.wav", d / "singer.png"
    shutil.copy(click_song, song)
    shutil.copy(portrait, ref)
    wd = d / "wd"
    report = render(request(song, ref, wd))
    assert report.rendered >= 3 and report.cache_hits == 0
    return d


@pytest.fixture
def work(base, tmp_path):
    """A private copy of the rendered song, portrait and work directory."""
    for name in ("song.wav", "singer.png"):
        shutil.copy2(base / name, tmp_path / name)
    shutil.copytree(base / "wd", tmp_path / "wd", symlinks=True)
    return tmp_path


def _run(work: Path, counter: Counter, **kw):
    return render(request(work / "song.wav", work / "singer.png", work / "wd", **kw), on_shot=counter.on_shot)


def _plan(work: Path) -> dict:
    return json.loads((work / "wd" / "plan.json").read_text())


def _take_with_successor(plan: dict) -> tuple[str, list[str]]:
    """A shot that another continues from, and every shot downstream of it."""
    for s in plan["shots"]:
        down = [t["id"] for t in plan["shots"] if t["continues_from"] == s["id"]]
        if down:
            frontier, seen = list(down), list(down)
            while frontier:
                cur = frontier.pop()
                nxt = [t["id"] for t in plan["shots"] if t["continues_from"] == cur]
                seen += nxt
                frontier += nxt
            return s["id"], seen
    raise AssertionError("the director made no continuity edge; edit the fixture")


def test_nothing_changed_renders_nothing(work, monkeypatch):
    c = Counter(monkeypatch)
    before = (work / "wd" / "video.mp4").stat().st_mtime_ns
    report = _run(work, c)
    assert (c.analyze, c.reference, c.rendered) == (0, 0, [])
    assert report.rendered == 0 and report.cache_hits == len(_plan(work)["shots"])
    assert (work / "wd" / "video.mp4").stat().st_mtime_ns == before  # not even re-assembled
    assert report.stage_s["assemble"] < 0.5


def test_edit_one_shot_renders_it_and_its_continuations(work, monkeypatch):
    plan = _plan(work)
    head, downstream = _take_with_successor(plan)
    for s in plan["shots"]:
        if s["id"] == head:
            s["prompt"] = s["prompt"] + ", golden hour"
    (work / "wd" / "plan.json").write_text(json.dumps(plan, indent=2))
    before = json.loads((work / "wd" / "report.json").read_text())
    c = Counter(monkeypatch)
    report = _run(work, c)
    assert sorted(c.rendered) == sorted([head, *downstream])
    assert len(c.cached) == len(plan["shots"]) - 1 - len(downstream)
    assert report.rendered == 1 + len(downstream)
    assert (c.analyze, c.reference) == (0, 0)
    # identities of untouched shots come from the memo and equal the first run's measurements
    assert (work / "wd" / "identity-cache.json").exists()
    old = {s["shot_id"]: s["identity_distance"] for s in before["shots"]}
    assert any(v is not None for v in old.values()), "no face measured: the test would prove nothing"
    for s in report.shots:
        if s.shot_id not in c.rendered:
            assert s.identity_distance == old[s.shot_id], s.shot_id


def test_edit_last_shot_of_a_take_renders_one(work, monkeypatch):
    plan = _plan(work)
    has_child = {s["continues_from"] for s in plan["shots"] if s["continues_from"]}
    leaf = next(s for s in reversed(plan["shots"]) if s["id"] not in has_child)
    leaf["camera"] = {"move": "static", "intensity": 0.5, "easing": "linear", "direction": 1, "keyframes": []}
    (work / "wd" / "plan.json").write_text(json.dumps(plan, indent=2))
    c = Counter(monkeypatch)
    _run(work, c)
    assert c.rendered == [leaf["id"]]
    frames = list(read_frames(work / "wd" / "video.mp4"))
    assert len(frames) == round(8.0 * FPS)


def test_new_reference_re_renders_shots_but_keeps_the_analysis(work, monkeypatch):
    from PIL import Image

    img = np.asarray(Image.open(work / "singer.png").convert("RGB")).copy()
    img[:8, :8] = 0  # a different file, the same face
    Image.fromarray(img).save(work / "singer.png")
    c = Counter(monkeypatch)
    report = _run(work, c)
    assert (c.analyze, c.reference) == (0, 1)
    assert c.cached == [] and report.rendered == len(_plan(work)["shots"])


def test_new_song_re_analyses_but_keeps_the_reference(work, monkeypatch):
    import soundfile as sf

    y, sr = sf.read(work / "song.wav")
    sf.write(work / "song.wav", (y * 0.9).astype(np.float32), sr)
    c = Counter(monkeypatch)
    report = _run(work, c)
    assert (c.analyze, c.reference) == (1, 0)
    assert c.cached == [] and report.rendered == len(_plan(work)["shots"])
    assert list((work / "wd").glob("plan.*.json")), "the replaced plan is kept as a backup"


def test_force_render_and_force_analyze(work, monkeypatch):
    n = len(_plan(work)["shots"])
    c = Counter(monkeypatch)
    assert _run(work, c, force=("render",)).rendered == n
    assert c.analyze == 0
    c = Counter(monkeypatch)
    report = _run(work, c, force=("analyze",))
    # the analysis is recomputed; it comes out identical, so nothing downstream changes
    assert (c.analyze, c.reference, report.rendered) == (1, 0, 0)


def test_unknown_force_stage_is_refused(work):
    with pytest.raises(InputError, match="--force rendr is not a stage"):
        render(request(work / "song.wav", work / "singer.png", work / "wd", force=("rendr",)))


def test_render_settings_change_re_renders_all(work, monkeypatch):
    c = Counter(monkeypatch)
    report = _run(work, c, seed=5)
    assert c.analyze == 0 and c.cached == []
    assert report.rendered == len(_plan(work)["shots"])


def test_leftovers_of_a_killed_run_are_removed(work, monkeypatch):
    shots = work / "wd" / "shots"
    (work / "wd" / "audio").mkdir(exist_ok=True)
    stale = [
        shots / ".verse1-01.deadbeef.tmp123.mp4",
        work / "wd" / ".plan.tmp99.json",
        work / "wd" / "audio" / ".song.tmp7.m4a",
    ]
    for p in stale:
        p.write_bytes(b"half")
    (work / "wd" / ".assemble-xyz").mkdir()
    lookalike = work / "wd" / ".notes.tmp1.json"  # a person's file that only looks like a temporary
    lookalike.write_bytes(b"keep")
    recorded = [*stale, work / "wd" / ".assemble-xyz"]  # what the killed run (pid 99999999) had recorded
    with open(work / "wd" / temps.JOURNAL, "a", encoding="utf-8") as f:
        f.writelines(json.dumps({"path": str(p), "pid": 99999999}) + "\n" for p in recorded)
    c = Counter(monkeypatch)
    assert _run(work, c).rendered == 0
    assert not any(p.exists() for p in recorded) and lookalike.read_bytes() == b"keep"


def test_shots_side_by_side_render_the_same_clips(work, monkeypatch):
    shots = work / "wd" / "shots"
    before = {p.name: p.read_bytes() for p in shots.glob("*.mp4") if not p.name.startswith(".")}
    shutil.rmtree(shots)
    c = Counter(monkeypatch)
    report = _run(work, c, jobs=2)  # two shots at once (threads: the procedural backend declares them)
    assert report.rendered == len(before) and c.analyze == 0
    assert {p.name: p.read_bytes() for p in shots.glob("*.mp4") if not p.name.startswith(".")} == before


def test_a_vocal_stem_re_analyses_reaches_the_renderer_and_is_keyed_by_content(work, monkeypatch):
    import soundfile as sf

    from mvdirector.executors import InlineExecutor

    y, sr = sf.read(work / "song.wav")
    sf.write(work / "vocals.wav", (0.5 * y).astype(np.float32), sr)
    seen = []
    submit = InlineExecutor.submit
    monkeypatch.setattr(
        InlineExecutor, "submit", lambda self, job, *a, **k: seen.append(job) or submit(self, job, *a, **k)
    )
    c = Counter(monkeypatch)
    report = _run(work, c, vocals=work / "vocals.wav")
    analysis = json.loads((work / "wd" / "analysis.json").read_text())
    assert c.analyze == 1 and "of the vocal stem" in analysis["provenance"]["vocal_activity"]
    assert report.rendered == len(_plan(work)["shots"]), "the stem is an input of every shot"
    assert seen and all(j.vocals_path == (work / "vocals.wav").absolute() for j in seen)
    shutil.move(work / "vocals.wav", work / "stem.wav")  # another path, the same content: nothing to redo
    c = Counter(monkeypatch)
    assert _run(work, c, vocals=work / "stem.wav").rendered == 0 and c.analyze == 0


class Warnings(NullReporter):
    """Keeps the warnings a run reports."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warn(self, message: str) -> None:
        self.lines.append(message)


def test_a_new_backend_is_one_registry_entry_and_its_declaration_sets_the_policy(work, monkeypatch):
    from stages.render import RENDERERS, RendererSpec

    monkeypatch.setitem(RENDERERS, "solid", RendererSpec("solid", "factories:SolidRenderer", "factories:SolidOptions",
                                                         gpu=True))
    with pytest.raises(InputError, match="'colour' is not an option of the solid renderer"):
        render(request(work / "song.wav", work / "singer.png", work / "wd", renderer="solid",
                       renderer_options={"colour": 3}))
    rep = Warnings()
    c = Counter(monkeypatch)
    report = render(request(work / "song.wav", work / "singer.png", work / "wd", renderer="solid", jobs=2,
                            renderer_options={"level": 200}), rep, on_shot=c.on_shot)
    assert "--jobs is ignored: the solid renderer takes a whole GPU for each shot" in rep.lines
    assert c.analyze == 0 and report.rendered == len(_plan(work)["shots"])
    frame = next(read_frames(work / "wd" / "video.mp4"))
    assert abs(float(frame.mean()) - 200) < 3
