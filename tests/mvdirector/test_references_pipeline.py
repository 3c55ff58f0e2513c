"""Several photos through the whole pipeline: singer, look and scene rendered where the plan puts them,
edits and new photos re-rendering only their shots, and bad photos refused before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from factories import cli, photo_set

from mvdirector.errors import InputError
from mvdirector.pipeline import render
from mvdirector.request import RenderRequest
from mvdirector.rules import MAX_REFERENCES

W, H, FPS = 256, 144, 12.0


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_set(tmp_path_factory.mktemp("photos"))


def request(work: Path, **kw) -> RenderRequest:
    """Three photos as a folder, the singer named with --singer (the folder sorts look, scene, singer)."""
    fields = {"song": work / "song.wav", "reference": work / "photos", "singer": work / "photos" / "singer.png",
              "workdir": work / "wd", "out": work / "wd" / "video.mp4", "width": W, "height": H, "fps": FPS,
              "asr": "none", "colour_match": True, **kw}
    return RenderRequest.create(**fields)


class Shots:
    """Which shots a render rendered and which came from the cache."""

    def __init__(self) -> None:
        self.rendered: list[str] = []
        self.cached: list[str] = []

    def __call__(self, sid: str, cached: bool) -> None:
        (self.cached if cached else self.rendered).append(sid)


def _plan(work: Path) -> dict:
    return json.loads((work / "wd" / "plan.json").read_text())


def _leaf(plan: dict, avoid: set[str]) -> dict:
    """A shot no other shot continues from, not one of ``avoid``."""
    parents = {s["continues_from"] for s in plan["shots"]}
    return next(s for s in reversed(plan["shots"]) if s["id"] not in parents and s["id"] not in avoid)


@pytest.fixture(scope="module")
def base(tmp_path_factory, click_song, photos):
    """A render of three photos, then two hand edits of one shot each, so every kind of photo is on screen."""
    d = tmp_path_factory.mktemp("refs")
    shutil.copy(click_song, d / "song.wav")
    (d / "photos").mkdir()
    for k in ("singer", "look", "scene"):
        shutil.copy(photos[k], d / "photos" / f"{k}.png")
    first = render(request(d))
    edits = []
    for rid, framing in (("scene", "wide"), ("look", "medium")):
        plan = _plan(d)
        shot = _leaf(plan, {e for e, _ in edits})
        shot["reference"], shot["framing"], shot["camera"]["keyframes"] = rid, framing, []
        (d / "wd" / "plan.json").write_text(json.dumps(plan, indent=2))
        seen = Shots()
        report = render(request(d), on_shot=seen)
        edits.append((shot["id"], seen.rendered))
    return d, first, edits, report


def test_editing_one_shots_photo_re_renders_that_shot_only(base):
    _, first, edits, _ = base
    assert first.rendered == len(first.shots) and first.cache_hits == 0
    for sid, rendered in edits:
        assert rendered == [sid]


def test_each_kind_is_rendered_from_its_photo_and_measured_against_the_singer(base):
    d, _, _, report = base
    plan = _plan(d)
    kinds = {s.reference_kind for s in report.shots}
    assert kinds == {"singer", "look", "scene"}
    assert [s.reference for s in report.shots] == [s["reference"] or "singer" for s in plan["shots"]]
    refs = json.loads((d / "wd" / "references.json").read_text())
    assert [(p["id"], p["kind"]) for p in refs["photos"]] == [("singer", "singer"), ("look", "look"),
                                                               ("scene", "scene")]
    assert json.loads((d / "wd" / "reference.json").read_text())["id"] == "singer"
    for s in report.shots:
        if s.reference_kind == "scene":  # no singer to measure, and no warning that a face is missing
            assert s.identity_distance is None and not any("face" in w for w in s.warnings), s
    people = [s for s in report.shots if s.reference_kind != "scene" and s.identity_distance is not None]
    assert {s.reference_kind for s in people} == {"singer", "look"}
    assert max(s.identity_distance for s in people) < 0.6  # the look is the singer, measured against the singer
    # with --colour-match the look and the scene are drawn from copies in the singer's palette
    assert sorted(p.name.split(".")[0] for p in (d / "wd" / "cache" / "palette").glob("*.png")) == ["look", "scene"]
    html = (d / "wd" / "report.html").read_text()
    assert "photo: scene (scene)" in html and "photo: look (look)" in html


def test_the_scene_shot_shows_the_scene(base, photos):
    from mvdirector.media.image import load_image
    from mvdirector.media.video import read_frames
    from stages.assemble.colour import delta_e, lab_stats

    d, _, _, report = base
    clips = {s.shot_id: s for s in report.shots}
    scene = next(s for s in report.shots if s.reference_kind == "scene")
    clip = max((d / "wd" / "shots").glob(f"{scene.shot_id}.*.mp4"), key=lambda p: p.stat().st_mtime_ns)  # the edit
    frames = list(read_frames(clip))
    mean = lab_stats([frames[len(frames) // 2]]).mean
    # the rocket at dusk, not the astronaut: much darker than the portrait
    assert delta_e(mean, lab_stats([load_image(photos["scene"])]).mean) < \
        delta_e(mean, lab_stats([load_image(photos["singer"])]).mean)
    assert clips[scene.shot_id].lab_mean is not None


def test_a_new_photo_re_renders_only_the_shots_that_show_it(base, tmp_path):
    from PIL import Image

    d, _, _, report = base
    work = tmp_path / "w"
    shutil.copytree(d, work, symlinks=True)
    img = np.asarray(Image.open(work / "photos" / "scene.png").convert("RGB")).copy()
    img[:6, :6] = 255  # another file of the same place
    Image.fromarray(img).save(work / "photos" / "scene.png")
    seen = Shots()
    after = render(request(work), on_shot=seen)
    scene_shots = sorted(s.shot_id for s in report.shots if s.reference_kind == "scene")
    assert sorted(seen.rendered) == scene_shots
    assert after.rendered == len(scene_shots) and after.cache_hits == len(report.shots) - len(scene_shots)
    # the plan was kept (what the director sees of the photos is unchanged), its photo list follows the files
    plan = _plan(work)
    assert [s["reference"] for s in plan["shots"]] == [s["reference"] for s in _plan(d)["shots"]]
    assert plan["references"][2]["sha256"] != _plan(d)["references"][2]["sha256"]


def test_the_photos_are_checked_before_any_work(tmp_path, click_song, photos):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    wd = tmp_path / "wd"
    res = cli("render", str(click_song), "--ref", str(photos["singer"]), "--ref", str(broken), "--workdir", str(wd))
    assert res.returncode == 2 and "broken.png" in res.stderr and len(res.stderr.strip().splitlines()) <= 2
    assert not wd.exists()
    res = cli("plan", str(click_song), "--ref", str(photos["singer"]), "--ref", str(photos["other"]),
              "--workdir", str(wd))
    assert res.returncode == 2 and "'other.png' shows another person: identity distance 0.69" in res.stderr
    assert not wd.exists()
    (tmp_path / "empty").mkdir()
    res = cli("plan", str(click_song), "--ref", str(tmp_path / "empty"), "--workdir", str(wd))
    assert res.returncode == 2 and "holds no photo" in res.stderr and not wd.exists()


def test_allow_others_plans_another_person_as_a_scene(tmp_path, click_song, photos):
    out = tmp_path / "plan.json"
    res = cli("plan", str(click_song), "--ref", str(photos["singer"]), "--ref", str(photos["other"]),
              "--allow-others", "--workdir", str(tmp_path / "wd"), "--asr", "none", "-o", str(out))
    assert res.returncode == 0, res.stderr
    plan = json.loads(out.read_text())
    assert [(r["id"], r["kind"]) for r in plan["references"]] == [("singer", "singer"), ("other", "scene")]
    assert "used as a scene" in res.stderr


def test_photo_lists_resolve_folders_singer_and_limits(tmp_path, photos):
    folder = tmp_path / "f"
    folder.mkdir()
    for k in ("look", "singer"):
        shutil.copy(photos[k], folder / f"{k}.png")
    (folder / "notes.txt").write_text("not a photo")
    req = RenderRequest.create(song=tmp_path / "s.wav", reference=folder, singer=folder / "singer.png",
                               references=(photos["scene"], folder / "look.png"))
    assert [p.name for p in req.photos()] == ["singer.png", "look.png", "scene.png"]
    reads = {(e.role, e.path) for e in req.files().reads}
    assert ("--ref file 'look.png'", folder / "look.png") in reads and ("--singer", folder / "singer.png") in reads
    many = RenderRequest.create(song=tmp_path / "s.wav", reference=photos["singer"],
                                references=tuple(_copies(tmp_path / "many", photos["scene"], MAX_REFERENCES)))
    with pytest.raises(InputError, match=f"more than {MAX_REFERENCES}"):
        many.photos()


def _copies(folder: Path, src: Path, n: int) -> list[Path]:
    folder.mkdir()
    out = []
    for i in range(n):
        out.append(folder / f"p{i}.png")
        shutil.copy(src, out[-1])
    return out


def test_a_manifest_lists_several_photos(tmp_path, click_song, photos):
    from mvdirector.manifest import BatchError, load_manifest

    shutil.copy(click_song, tmp_path / "a.wav")
    for k in ("singer", "look", "scene", "other"):
        shutil.copy(photos[k], tmp_path / f"{k}.png")
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n"
        "  - {song: a.wav, references: [singer.png, look.png, scene.png], output: a.mp4}\n"
        "  - {song: a.wav, reference: singer.png, references: [scene.png], output: b.mp4}\n")
    jobs = load_manifest(tmp_path / "jobs.yaml")
    assert [[p.name for p in j.request.photos()] for j in jobs] == [
        ["singer.png", "look.png", "scene.png"], ["singer.png", "scene.png"]]
    (tmp_path / "bad.yaml").write_text(
        "jobs:\n  - {song: a.wav, references: [singer.png, other.png], output: c.mp4}\n"
        "  - {song: a.wav, references: [singer.png, other.png], output: d.mp4, overrides: {allow_others: true}}\n")
    with pytest.raises(BatchError) as e:
        load_manifest(tmp_path / "bad.yaml")
    assert len(e.value.problems) == 1 and "job 1" in e.value.problems[0] and "other.png" in e.value.problems[0]


def test_a_photo_given_twice_or_a_faceless_singer_is_refused(tmp_path, click_song, photos):
    def preflight(**kw) -> None:
        RenderRequest.create(song=click_song, workdir=tmp_path / "wd", asr="none", **kw).preflight(video=False)

    with pytest.raises(InputError, match="given twice with --ref"):
        preflight(reference=photos["singer"], references=(photos["singer"],))
    shutil.copy(photos["singer"], tmp_path / "copy.png")
    with pytest.raises(InputError, match="photos 'singer.png' and 'copy.png' are the same picture"):
        preflight(reference=photos["singer"], references=(tmp_path / "copy.png",))
    with pytest.raises(InputError, match=r"'scene.png' \(--singer\) shows no face"):
        preflight(reference=photos["scene"], singer=photos["scene"])
    with pytest.raises(InputError, match="singer.s photo .*missing.png. does not exist"):
        preflight(reference=photos["singer"], singer=tmp_path / "missing.png")
