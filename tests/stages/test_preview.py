"""Storyboards: PNG and HTML, with and without analysis and reference image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from factories import synthetic_analysis

from mvdirector.errors import InputError
from mvdirector.schemas import Face, ReferenceInfo, ShotPlan
from stages.direct import DirectConfig, direct
from stages.preview import FRAMING_COLOURS, MOVE_GLYPHS, build_timeline, thumbnails, write_storyboard


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    d = tmp_path_factory.mktemp("ref")
    img = np.full((400, 300, 3), (40, 60, 90), np.uint8)
    cv2.circle(img, (150, 150), 45, (220, 180, 150), -1)
    cv2.putText(img, "A", (130, 170), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
    path = d / "singer.png"
    cv2.imwrite(str(path), img[..., ::-1])
    ref = ReferenceInfo(
        path=str(path), sha256="1" * 64, width=300, height=400, faces=[Face(box=(110, 110, 190, 195))], primary=0
    )
    a = synthetic_analysis(structure=(("intro", 2), ("verse", 4), ("chorus", 4)), seed=1)
    plan = direct(a, ref, DirectConfig(width=320, height=180))
    return a, ref, plan, path


def test_png_storyboard(scene: tuple, tmp_path: Path) -> None:
    a, ref, plan, path = scene
    out = write_storyboard(plan, tmp_path / "board.png", analysis=a, reference_image=path, reference=ref)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] == 2000 and img.shape[0] > 600
    assert not list(tmp_path.glob(".*tmp*"))
    # the framing colours of the shot blocks are drawn
    rgb = img[..., ::-1].reshape(-1, 3).astype(int)
    for s in {s.framing for s in plan.shots}:
        c = np.array([int(FRAMING_COLOURS[s][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - c).sum(axis=1) < 6).sum() > 200, s


def test_html_storyboard_lists_every_shot(scene: tuple, tmp_path: Path) -> None:
    a, ref, plan, path = scene
    out = write_storyboard(plan, tmp_path / "board.html", analysis=a, reference_image=path, reference=ref)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    for s in plan.shots:
        assert f'id="{s.id}"' in text and MOVE_GLYPHS[s.camera.move] in text
    assert text.count("data:image/jpeg;base64,") == len(plan.shots)
    assert text.count("<rect") >= len(plan.shots) + len(a.sections) + len(a.lyrics.lines)


def test_thumbnails_follow_the_framing(scene: tuple) -> None:
    _, ref, plan, path = scene
    thumbs = thumbnails(plan, path, ref)
    assert set(thumbs) == {s.id for s in plan.shots}
    first = next(iter(thumbs.values()))
    assert first.dtype == np.uint8 and first.shape == (126, 224, 3)

    def skin(img: np.ndarray) -> float:
        return float((np.abs(img.astype(int) - (220, 180, 150)).sum(axis=2) < 30).mean())

    by_framing: dict[str, list[float]] = {}
    for s in plan.shots:
        by_framing.setdefault(s.framing, []).append(skin(thumbs[s.id]))
    tight = [v for f in ("extreme_close_up", "close_up") for v in by_framing.get(f, [])]
    loose = [v for f in ("wide", "extreme_wide") for v in by_framing.get(f, [])]
    assert tight and loose and min(tight) > max(loose)


def test_without_analysis_or_image(scene: tuple, tmp_path: Path) -> None:
    _, _, plan, _ = scene
    bare = ShotPlan.model_validate({**plan.model_dump(), "reference": None})
    tl = build_timeline(bare, None)
    assert [x[2] for x in tl.sections] == ["intro", "verse", "chorus"] and tl.lines
    assert thumbnails(bare) == {}
    assert write_storyboard(bare, tmp_path / "b.png").stat().st_size > 10_000
    assert "no reference image" in write_storyboard(bare, tmp_path / "b.html").read_text()
    with pytest.raises(InputError, match="png or .html"):
        write_storyboard(bare, tmp_path / "b.gif")
