"""Every backend reads the shot's own photo from its `ShotJob`; dit conditions on it (tiny random Wan, CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from factories import flat_analysis, make_plan, photo_set

from mvdirector.schemas import ReferenceInfo, ReferenceRef
from stages.render import ShotJob


def _info(rid: str, kind: str, sha: str) -> ReferenceInfo:
    return ReferenceInfo(id=rid, kind=kind, path=f"{rid}.png", sha256=sha * 64, width=64, height=64)


def _job(tmp_path: Path) -> ShotJob:
    plan = make_plan()
    refs = [ReferenceRef(id=i, path=f"{i}.png", sha256=s * 64, kind=k)
            for i, s, k in (("me", "1", "singer"), ("red", "2", "look"), ("city", "3", "scene"))]
    shots = [s.model_copy(update={"reference": r}) for s, r in zip(plan.shots, ("me", "red", "city"), strict=True)]
    plan = plan.model_copy(update={"references": refs, "reference": refs[0], "shots": shots})
    infos = {"me": _info("me", "singer", "1"), "red": _info("red", "look", "2"), "city": _info("city", "scene", "3")}
    images = {k: tmp_path / f"{k}.png" for k in infos}
    return ShotJob(plan, plan.shots[0], flat_analysis(6.0), infos["me"], images["me"], tmp_path / "s.wav",
                   singer=infos["me"], references=infos, reference_images=images).for_shot(plan.shots[0].id)


def test_each_shot_gets_its_own_photo(tmp_path):
    job = _job(tmp_path)
    got = {sid: job.for_shot(sid) for sid in ("verse1-01", "verse1-02", "verse1-03")}
    assert {sid: (j.reference.id, j.reference_image.name) for sid, j in got.items()} == {
        "verse1-01": ("me", "me.png"), "verse1-02": ("red", "red.png"), "verse1-03": ("city", "city.png")}
    assert [j.shot_reference.kind for j in got.values()] == ["singer", "look", "scene"]
    assert [j.shows_singer for j in got.values()] == [True, True, False]
    # identity is measured against the singer's photo for the look, and not at all for the scene
    assert got["verse1-02"].identity_reference.id == "me" and got["verse1-03"].identity_reference is None
    # a shot's cache key depends on its own photo (and the singer's for a look), never on the others
    assert [j.reference_key for j in got.values()] == ["1" * 64, "2" * 64 + "+" + "1" * 64, "3" * 64]


def test_input_files_travel_and_come_back_under_the_same_names(tmp_path):
    job = _job(tmp_path).for_shot("verse1-02")
    files = job.input_files()
    assert set(files) == {"song_path", "reference_image", "photo:me", "photo:red", "photo:city"}
    local = {k: tmp_path / "node" / f"f{i}{p.suffix}" for i, (k, p) in enumerate(files.items())}
    moved = job.with_input_files(local).for_shot("verse1-03")
    assert moved.reference_image == local["photo:city"] and moved.song_path == local["song_path"]


def test_a_job_of_one_photo_is_unchanged(tmp_path):
    plan = make_plan()
    ref = ReferenceInfo(path="r.png", sha256="1" * 64, width=64, height=64)
    job = ShotJob(plan, plan.shots[0], flat_analysis(6.0), ref, tmp_path / "r.png", tmp_path / "s.wav")
    other = job.for_shot("verse1-02")
    assert other.reference is ref and other.reference_image == tmp_path / "r.png"
    assert other.reference_key == ref.sha256 and other.identity_reference is ref and other.shot_reference is None


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from fixtures.make_tiny_wan import cached_tiny_wan

    return cached_tiny_wan(tmp_path_factory.getbasetemp())


def test_dit_conditions_each_shot_on_its_own_photo(tmp_path, tiny_wan):
    from conftest import synth_song

    from mvdirector.media.image import load_image
    from stages.dit import DitRenderer
    from stages.reference import check_photos
    from stages.render.generative import frame_reference

    photos = photo_set(tmp_path / "p", side=256)
    refs = check_photos([photos["singer"], photos["look"]])
    assert [p.kind for p in refs.photos] == ["singer", "look"]
    song = synth_song(tmp_path / "s.wav", seconds=1.0)
    fast = {"steps": 2, "window": 2, "overlap": 1, "window_max_shift": 0, "min_last": 2, "camera": "none"}
    plan = make_plan(bounds=(0.0, 0.5, 1.0), fps=8.0, size=(64, 64), renderer="dit", renderer_options=fast)
    listed = [ReferenceRef(id=p.id, path=p.path, sha256=p.sha256, kind=p.kind) for p in refs.photos]
    shots = [s.model_copy(update={"reference": r}) for s, r in zip(plan.shots, ("singer", "look"), strict=True)]
    plan = plan.model_copy(update={"references": listed, "reference": listed[0], "shots": shots})
    infos = {p.id: p for p in refs.photos}
    images = {p.id: Path(p.path) for p in refs.photos}
    job = ShotJob(plan, plan.shots[0], flat_analysis(1.0), refs.singer, images["singer"], song,
                  singer=refs.singer, references=infos, reference_images=images)
    renderer = DitRenderer(weights=tiny_wan, max_sequence_length=32)
    seen = []
    pipe = renderer.pipeline
    original = pipe.__class__.__call__

    class Spy(pipe.__class__):
        def __call__(self, req, progress=None):
            seen.append(req.image)
            return original(self, req, progress)

    pipe.__class__ = Spy
    for sid in ("verse1-01", "verse1-02"):
        renderer.render_shot(job.for_shot(sid), tmp_path / f"{sid}.mp4")
    for image, rid in zip(seen, ("singer", "look"), strict=True):
        face = infos[rid].primary_face
        centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
        np.testing.assert_array_equal(image, frame_reference(load_image(images[rid]), 64, 64, centre))
    assert np.abs(seen[0].astype(int) - seen[1].astype(int)).mean() > 5  # two different pictures
