"""Draw an `AudioAnalysis` on one timeline: waveform, beats, downbeats, sections, energy, vocals, lyrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvdirector.outputs import PNG_METADATA
from mvdirector.schemas import AudioAnalysis

SECTION_COLOURS = {
    "intro": "#9ecae1",
    "verse": "#a1d99b",
    "pre_chorus": "#fdd0a2",
    "chorus": "#fc9272",
    "bridge": "#bcbddc",
    "instrumental": "#d9d9d9",
    "outro": "#c6dbef",
    "part": "#fee391",
}


def _envelope(y: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` in ``n_cols`` equal blocks (a waveform drawn at plot resolution)."""
    n = len(y) // n_cols * n_cols
    if n == 0:
        return np.zeros(1), np.zeros(1)
    blocks = y[:n].reshape(n_cols, -1)
    return blocks.min(axis=1), blocks.max(axis=1)


def plot_analysis(analysis: AudioAnalysis, audio_path: str | Path, out_png: str | Path, width_px: int = 2000) -> Path:
    """Write a PNG timeline of ``analysis`` (drawn over the waveform of ``audio_path``); returns its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mvdirector.media.atomic import atomic_output
    from mvdirector.media.audio import load_audio

    y, sr = load_audio(audio_path, sr=8000, mono=True)
    dur = analysis.source.duration_s
    fig = Figure(figsize=(width_px / 100, 7.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3, 1.6]})
    wave, curve, words = axes

    lo, hi = _envelope(y, min(width_px * 2, max(1, len(y))))
    t = np.linspace(0, len(y) / sr, len(lo))
    for s in analysis.sections:
        colour = SECTION_COLOURS.get(s.label, "#eeeeee")
        for ax in axes:
            ax.axvspan(s.start_s, s.end_s, color=colour, alpha=0.45, lw=0)
        wave.text(
            s.start_s + 0.1, 0.97, f"{s.label} [{s.group}]", va="top", fontsize=9, transform=wave.get_xaxis_transform()
        )
    wave.fill_between(t, lo, hi, color="#3b3b3b", lw=0)
    beats = analysis.beat_times
    downs = analysis.downbeats
    wave.vlines(beats, -1, 1, color="#2171b5", lw=0.5, alpha=0.6)
    wave.vlines(downs, -1, 1, color="#cb181d", lw=1.2, alpha=0.9)
    peak = float(max(np.abs(lo).max(), np.abs(hi).max(), 1e-3))
    wave.set_ylim(-peak * 1.1, peak * 1.25)
    wave.set_ylabel("waveform")
    wave.set_title(
        f"{Path(analysis.source.path).name} — {analysis.bpm:.1f} bpm, {analysis.beats_per_bar}/bar, "
        f"{len(beats)} beats (blue), {len(downs)} downbeats (red)",
        fontsize=10,
    )

    e = np.asarray(analysis.energy.values)
    curve.plot(np.arange(len(e)) / analysis.energy.fps, e, color="#e6550d", lw=1.2, label="energy")
    for v in analysis.vocal_activity:
        curve.axvspan(v.start_s, v.end_s, ymin=0.0, ymax=0.12, color="#6a51a3", alpha=0.8, lw=0)
    curve.set_ylim(0, 1.05)
    curve.set_ylabel("energy / vocals")

    words.set_ylim(0, 1)
    words.set_yticks([])
    words.set_ylabel(f"lyrics ({analysis.lyrics.source})")
    for k, line in enumerate(analysis.lyrics.lines):
        yk = 0.8 - 0.3 * (k % 3)
        words.hlines(yk - 0.05, line.start_s, line.end_s, color="#636363", lw=2)
        words.text(line.start_s, yk, line.text, fontsize=8, va="bottom", clip_on=True)
        for w in line.words:
            words.vlines(w.start_s, yk - 0.1, yk - 0.02, color="#252525", lw=0.8)
    words.set_xlim(0, dur)
    words.set_xlabel("time (s)")
    fig.tight_layout()
    out = Path(out_png)
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", metadata=PNG_METADATA)
    return out
