"""Shot templates: every built-in validates; user styles load, override and fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvdirector.errors import InputError
from mvdirector.schemas import CAMERA_MOVES, FRAMINGS, SECTION_LABELS
from stages.templates import (
    BUILTIN_DIR,
    ShotTemplate,
    list_templates,
    load_template,
    load_template_file,
    template_source,
)

REQUIRED = {"cinematic", "performance", "lyric_video", "dreamy"}


def test_builtins_validate_and_cover_every_section() -> None:
    names = {t.name for t in list_templates()}
    assert REQUIRED <= names
    for tpl in list_templates():
        assert tpl.description and tpl.prompt
        assert template_source(tpl) == "builtin"
        for label in SECTION_LABELS:
            g = tpl.grammar(label)
            assert 0 < g.cut_beats[0] <= g.cut_beats[1]
            assert set(g.framings) <= set(FRAMINGS) and set(g.moves) <= set(CAMERA_MOVES)
            assert sum(g.transitions.values()) > 0
        assert ShotTemplate.model_validate_json(tpl.model_dump_json()) == tpl


def test_section_overrides_default_field_by_field() -> None:
    tpl = load_template("cinematic")
    assert tpl.grammar("chorus").cut_beats == (2.0, 4.0)
    assert tpl.grammar("pre_chorus").take_chance == tpl.grammar("default").take_chance
    assert tpl.grammar("chorus").framings != tpl.grammar("verse").framings


def test_tempo_scale() -> None:
    tpl = load_template("cinematic")
    assert tpl.tempo_scale(120) == 1.0
    assert 1.0 < tpl.tempo_scale(180) < 1.5
    assert tpl.tempo_scale(10) == 0.5


def test_user_directory_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "noir.yaml").write_text("name: noir\ndescription: black and white\nsections: {}\n")
    (tmp_path / "dreamy.yaml").write_text("description: my dreamy\n")
    styles = {t.name: t for t in list_templates(tmp_path)}
    assert REQUIRED <= set(styles) and "noir" in styles
    assert styles["dreamy"].description == "my dreamy"
    assert template_source(styles["noir"]) == "user"
    assert load_template("noir", tmp_path).grammar("verse").cut_beats == (4.0, 8.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sections:\n  verse:\n    framings: {medium_shot: 1}\n", "medium_shot"),
        ("sections:\n  verse:\n    moves: {zoom: 1}\n", "zoom"),
        ("sections:\n  choruss: {}\n", "choruss"),
        ("sections:\n  verse:\n    cut_beats: [8, 4]\n", "cut_beats"),
        ("sections:\n  verse:\n    framings: {wide: 0}\n", "all zero"),
        ("sections:\n  verse:\n    moves: {}\n", "empty"),
        ("sections:\n  verse:\n    pace: fast\n", "pace"),
        ("name: other\n", "rename"),
        ("sections: [\n", "not valid YAML"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_bad_user_style_names_file_field_and_rule(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_template_file(p)
    msg = e.value.one_line()
    assert "bad.yaml" in msg and needle in msg


def test_missing_directory_and_unknown_style(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        list_templates(tmp_path / "nowhere")
    with pytest.raises(InputError) as e:
        load_template("jazz", tmp_path)
    assert "dreamy" in e.value.one_line() and "jazz.yaml" in e.value.one_line()


def test_builtin_dir_is_the_repository_folder() -> None:
    assert (BUILTIN_DIR / "cinematic.yaml").is_file()


def test_fingerprint_follows_the_file(tmp_path: Path) -> None:
    from stages.direct import DirectConfig, fingerprint

    base = fingerprint(DirectConfig())["style_sha256"]
    assert base == fingerprint(DirectConfig(templates_dir=str(tmp_path)))["style_sha256"]
    (tmp_path / "cinematic.yaml").write_text((BUILTIN_DIR / "cinematic.yaml").read_text() + "\n# tweaked\n")
    assert fingerprint(DirectConfig(templates_dir=str(tmp_path)))["style_sha256"] != base
    with pytest.raises(InputError):
        fingerprint(DirectConfig(style="nope"))
