"""Several photos: the singer, looks of the singer, scenes — and another person refused (stages.reference)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import photo_set

from mvdirector.errors import InputError
from mvdirector.media.image import load_image
from stages.assemble.colour import delta_e, lab_stats
from stages.reference import SAME_PERSON_DISTANCE, check_photos, match_palette, reference_ref, sort_photos


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_set(tmp_path_factory.mktemp("photos"))


def test_singer_look_and_scene_are_told_apart(photos):
    refs = check_photos([photos["singer"], photos["look"], photos["scene"]])
    assert refs.ids == ["singer", "look", "scene"]
    assert [p.kind for p in refs.photos] == ["singer", "look", "scene"]
    look = refs.get("look")
    assert look.singer_distance is not None and look.singer_distance <= SAME_PERSON_DISTANCE
    assert refs.get("scene").singer_distance is None and refs.get("scene").primary is None
    assert refs.singer.singer_distance is None and refs.get(None) is refs.singer
    # a scene carries no warning about faces: it is meant to have none
    assert not any("face" in w for w in refs.get("scene").warnings)
    listed = [reference_ref(p) for p in refs.photos]
    assert [(r.kind, r.face_px > 0, r.frontal) for r in listed] == [
        ("singer", True, True), ("look", True, True), ("scene", False, None)]


def test_another_person_is_refused_naming_the_file_and_the_distance(photos):
    with pytest.raises(InputError) as e:
        check_photos([photos["singer"], photos["other"]])
    line = e.value.one_line()
    assert "'other.png' shows another person" in line and "0.6" in line and "--allow-others" in line
    assert f"{check_photos([photos['singer'], photos['other']], allow_others=True).get('other').singer_distance:.2f}" \
        in line


def test_allow_others_keeps_another_person_as_a_scene(photos):
    refs = check_photos([photos["singer"], photos["other"]], allow_others=True)
    other = refs.get("other")
    assert other.kind == "scene" and other.singer_distance > SAME_PERSON_DISTANCE
    assert any("used as a scene" in w for w in other.warnings)


def test_the_singer_named_first_decides_who_is_a_look(photos):
    # The same person first: then the astronaut is "another person" — the order is the rule, not the content.
    with pytest.raises(InputError, match="'singer.png' shows another person"):
        check_photos([photos["other"], photos["singer"]])


def test_a_singer_without_a_face_cannot_vouch_for_a_look(photos):
    with pytest.raises(InputError, match="shows no face, so 'singer.png' cannot be checked"):
        check_photos([photos["scene"], photos["singer"]])
    # with only scenes beside it there is nothing to check
    assert [p.kind for p in check_photos([photos["scene"], photos["scene"]]).photos] == ["singer", "scene"]


def test_ids_come_from_file_names_and_stay_unique(tmp_path, photos):
    import shutil

    (tmp_path / "a").mkdir()
    shutil.copy(photos["scene"], tmp_path / "a" / "my scene!.png")
    shutil.copy(photos["scene"], tmp_path / "my scene!.png")
    infos = [check_photos([photos["singer"]]).singer,
             *check_photos([photos["singer"], tmp_path / "a" / "my scene!.png", tmp_path / "my scene!.png"]).photos[1:]]
    assert sort_photos(infos).ids == ["singer", "my_scene", "my_scene-2"]


def test_palette_matching_brings_photos_toward_the_singer(photos):
    singer, look, scene = (load_image(photos[k]) for k in ("singer", "look", "scene"))
    target = lab_stats([singer]).mean
    for image, kind in ((look, "look"), (scene, "scene")):
        before = delta_e(lab_stats([image]).mean, target)
        after = delta_e(lab_stats([match_palette(image, singer, kind)]).mean, target)
        assert after < 0.75 * before, (kind, before, after)
    assert match_palette(singer, singer, "singer") is singer  # the singer's photo is never changed
    # a scene keeps more of its own light than a look: the night stays dark
    l_scene = lab_stats([match_palette(scene, singer, "scene")]).mean[0]
    assert l_scene < target[0] - 5
    out = match_palette(scene, singer, "scene")
    assert out.shape == scene.shape and out.dtype == np.uint8


def test_a_look_is_matched_by_its_face_not_its_background(photos):
    singer = load_image(photos["singer"])
    box = check_photos([photos["singer"]]).singer.primary_face.box
    x0, y0, x1, y1 = box
    look = np.empty_like(singer)
    look[:] = (200, 40, 200)  # a magenta studio wall around the same face
    look[y0:y1, x0:x1] = singer[y0:y1, x0:x1]
    face = lab_stats([singer[y0:y1, x0:x1]]).mean

    def skin(img: np.ndarray) -> float:
        return delta_e(lab_stats([img[y0:y1, x0:x1]]).mean, face)

    by_face = match_palette(look, singer, "look", (box, box))
    assert skin(by_face) < 1.0 < 5.0 < skin(match_palette(look, singer, "look"))  # the wall would tint the skin
