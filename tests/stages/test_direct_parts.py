"""The director on music labelled ``part`` (no verse/chorus form): sensible cutting, honest labels."""

from __future__ import annotations

import numpy as np
from factories import synthetic_analysis

from mvdirector.schemas import AudioAnalysis, ReferenceInfo, Section
from stages.direct import DirectConfig, direct
from stages.direct.director import grammar_label
from stages.templates import load_template

# a quiet part, a loud one, the quiet one again (A B A), 16 bars each at 90 bpm
STRUCTURE = [("verse", 16), ("chorus", 16), ("verse", 16)]


def _as_parts(a: AudioAnalysis, energies: tuple[float, ...]) -> AudioAnalysis:
    parts = [
        Section(start_s=s.start_s, end_s=s.end_s, label="part", group=g, energy=e)
        for s, g, e in zip(a.sections, (0, 1, 0), energies, strict=True)
    ]
    return a.model_copy(update={"sections": parts})


def test_parts_keep_their_label_and_loud_parts_are_cut_faster() -> None:
    a = _as_parts(synthetic_analysis(bpm=90.0, structure=STRUCTURE, seed=2), (0.3, 0.9, 0.3))
    ref = ReferenceInfo(path="singer.png", sha256="1" * 64, width=1024, height=1024)
    plan = direct(a, ref, DirectConfig(style="performance", seed=0))
    assert {s.section for s in plan.shots} == {"part"}
    assert all("passage" in s.prompt for s in plan.shots)
    b0, b1 = a.sections[1].start_s, a.sections[1].end_s
    loud = [s.end_s - s.start_s for s in plan.shots if b0 <= s.start_s < b1]
    quiet = [s.end_s - s.start_s for s in plan.shots if s.start_s < b0]
    assert np.mean(loud) < np.mean(quiet)


def test_grammar_label_prefers_a_style_part_grammar() -> None:
    tpl = load_template("performance")
    assert grammar_label(tpl, "chorus", 0.1, 0.5) == "chorus"
    assert grammar_label(tpl, "part", 0.9, 0.5) == "chorus" and grammar_label(tpl, "part", 0.2, 0.5) == "verse"
    own = tpl.model_copy(update={"sections": {**tpl.sections, "part": tpl.sections["verse"]}})
    assert grammar_label(own, "part", 0.9, 0.5) == "part"


def test_every_section_label_has_preview_and_otio_colours() -> None:
    from mvdirector.schemas import SECTION_LABELS
    from stages.analyze.plot import SECTION_COLOURS as PLOT_COLOURS
    from stages.otio_export import SECTION_MARKER_COLOURS
    from stages.preview import SECTION_COLOURS

    for table in (SECTION_MARKER_COLOURS, SECTION_COLOURS, PLOT_COLOURS):
        assert set(SECTION_LABELS) <= set(table)
