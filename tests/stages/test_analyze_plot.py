"""plot_analysis draws a PNG of the analysis timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mvdirector.schemas import AudioAnalysis, AudioSource, Beat, EnergyCurve, LyricLine, Lyrics, Section, Segment, Word
from stages.analyze.plot import plot_analysis


def test_plot_writes_a_png(tmp_path: Path) -> None:
    import soundfile as sf

    sr = 8000
    song = tmp_path / "s.wav"
    sf.write(song, 0.3 * np.sin(np.linspace(0, 2000, 6 * sr)).astype(np.float32), sr)
    beats = [Beat(t_s=0.5 * i, bar=i // 4 + 1, position=i % 4 + 1) for i in range(12)]
    a = AudioAnalysis(
        source=AudioSource(path=str(song), sha256="0" * 64, duration_s=6.0, sample_rate=sr),
        bpm=120.0,
        beats_per_bar=4,
        beats=beats,
        sections=[Section(start_s=0, end_s=2, label="intro"), Section(start_s=2, end_s=6, label="chorus", group=1)],
        energy=EnergyCurve(fps=10, values=list(np.linspace(0, 1, 61))),
        vocal_activity=[Segment(start_s=2.0, end_s=4.0)],
        lyrics=Lyrics(
            source="asr",
            lines=[
                LyricLine(
                    start_s=2,
                    end_s=3,
                    text="hi there",
                    words=[Word(start_s=2, end_s=2.4, text="hi"), Word(start_s=2.5, end_s=3, text="there")],
                )
            ],
        ),
    )
    out = plot_analysis(a, song, tmp_path / "plot.png", width_px=800)
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (800, 700)
    assert len(np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)) > 20
    assert not list(tmp_path.glob(".*tmp*"))
