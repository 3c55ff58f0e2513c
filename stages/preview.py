"""Storyboards of a shot plan: a PNG (matplotlib) or a self-contained HTML page.

Both show the song on its timeline — waveform (or, without the audio file, the energy
curve) with beats and downbeats, sections and lyric lines — then the shots as blocks
coloured by framing with a glyph for the camera move and arcs for continuity edges, and a
thumbnail of each shot's first frame.

Each shot's thumbnail is cut from the photo it shows (the singer's, another look, or a scene; its id is
written beside it, and a strip under the shots marks which photo each uses): see ``stages.thumbnails``.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mvdirector.errors import InputError, MvError
from mvdirector.media.atomic import atomic_output, write_text_atomic
from mvdirector.outputs import HTML_META, PNG_METADATA
from mvdirector.schemas import AudioAnalysis, ReferenceInfo, ShotPlan
from stages.thumbnails import THUMB_W, photo_files, thumbnails

log = logging.getLogger(__name__)

__all__ = ["photo_files", "thumbnails", "write_storyboard"]

FRAMING_COLOURS = {
    "extreme_close_up": "#b2182b",
    "close_up": "#ef8a62",
    "medium": "#e6c14a",
    "wide": "#67a9cf",
    "extreme_wide": "#2166ac",
}
MOVE_GLYPHS = {
    "static": "■",
    "push_in": "↣",
    "pull_out": "↢",
    "pan": "↔",
    "tilt": "↕",
    "orbit": "↻",
    "crane": "⇡",
    "dolly_zoom": "⇲",
    "handheld": "∿",
}
SECTION_COLOURS = {
    "intro": "#d9d9d9",
    "verse": "#c6dbef",
    "pre_chorus": "#fdd0a2",
    "chorus": "#fc9272",
    "bridge": "#c7e9c0",
    "instrumental": "#dadaeb",
    "outro": "#bdbdbd",
    "part": "#fee391",
}
WAVE_BINS = 1600
PHOTO_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
"""Colours of the photo strip under the shots, one per photo of the plan (in its order)."""


@dataclass(frozen=True)
class Timeline:
    """What is drawn on the song's time axis."""

    duration_s: float
    wave: np.ndarray | None  # (2, bins) min/max in -1..1, or None
    energy: np.ndarray | None  # (bins,) 0..1 when there is no waveform
    beats: list[float]
    downbeats: list[float]
    sections: list[tuple[float, float, str]]
    lines: list[tuple[float, float, str]]


def write_storyboard(
    plan: ShotPlan,
    out_path: str | Path,
    analysis: AudioAnalysis | None = None,
    reference_image: str | Path | Sequence[str | Path] | None = None,
    reference: ReferenceInfo | None = None,
) -> Path:
    """Draw the storyboard of ``plan`` to ``out_path`` (``.png`` or ``.html``, by suffix).

    ``analysis`` adds beats, sections and lyric lines; ``reference_image`` (one photo or several,
    the singer's first; default: the plan's photos, where their files exist) gives the thumbnails,
    the singer's framed with ``reference`` or, without it, with the faces found by
    ``stages.reference.inspect_reference``.
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".html"):
        raise InputError(f"storyboard '{out}' must end in .png or .html", "pick storyboard.png or storyboard.html")
    timeline = build_timeline(plan, analysis)
    thumbs = thumbnails(plan, reference_image, reference)
    if suffix == ".png":
        _write_png(plan, timeline, thumbs, out)
    else:
        write_text_atomic(out, storyboard_html(plan, timeline, thumbs))
    return out


# ----------------------------------------------------------------------------- data


def build_timeline(plan: ShotPlan, analysis: AudioAnalysis | None) -> Timeline:
    """Waveform (from the song file when it can be read), beats, sections and lyric lines."""
    dur = plan.song.duration_s
    wave = _waveform(Path(plan.song.path), WAVE_BINS)
    energy = None
    if wave is None and analysis is not None and analysis.energy.values:
        v = np.asarray(analysis.energy.values, dtype=np.float64)
        idx = np.clip((np.linspace(0, dur, WAVE_BINS) * analysis.energy.fps).astype(int), 0, len(v) - 1)
        energy = v[idx]
    if analysis is None:
        shots = plan.shots
        secs = []
        for s in shots:
            if secs and secs[-1][2] == s.section:
                secs[-1] = (secs[-1][0], s.end_s, s.section)
            else:
                secs.append((s.start_s, s.end_s, s.section))
        lines = []
        for s in shots:
            if s.lyric is not None and s.lyric.words:
                a, b = s.start_s + s.lyric.words[0].start_s, s.start_s + s.lyric.words[-1].end_s
                if lines and lines[-1][2] == s.lyric.line and a - lines[-1][1] < 0.5:
                    lines[-1] = (lines[-1][0], b, s.lyric.line)
                else:
                    lines.append((a, b, s.lyric.line))
        return Timeline(dur, wave, energy, [], [], secs, lines)
    return Timeline(
        duration_s=dur,
        wave=wave,
        energy=energy,
        beats=analysis.beat_times,
        downbeats=analysis.downbeats,
        sections=[(s.start_s, s.end_s, s.label) for s in analysis.sections],
        lines=[(ln.start_s, ln.end_s, ln.text) for ln in analysis.lyrics.lines],
    )


def _waveform(path: Path, bins: int) -> np.ndarray | None:
    """Min/max envelope of the song in ``bins`` columns, or None when it cannot be read."""
    if not path.is_file():
        return None
    try:
        from mvdirector.media.audio import load_audio

        y, _ = load_audio(path, sr=4000, mono=True)
    except (MvError, ImportError, OSError) as e:
        log.info("no waveform for the storyboard: %s", e)
        return None
    if y.size < bins:
        return None
    n = (y.size // bins) * bins
    blocks = y[:n].reshape(bins, -1)
    peak = max(1e-6, float(np.abs(blocks).max()))
    return np.stack([blocks.min(axis=1), blocks.max(axis=1)]) / peak


# ------------------------------------------------------------------------------ PNG


def _write_png(plan: ShotPlan, tl: Timeline, thumbs: dict[str, np.ndarray], out: Path) -> None:
    """The storyboard as one PNG: timeline on top, thumbnail grid below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    cols = 8
    rows = math.ceil(len(plan.shots) / cols) if thumbs else 0
    aspect = plan.render.height / plan.render.width
    cell_h = 20.0 / cols * aspect + 0.55
    fig = Figure(figsize=(20, 4.2 + rows * cell_h), dpi=100)
    FigureCanvasAgg(fig)
    top = 4.2 / (4.2 + rows * cell_h)
    ax = fig.add_axes((0.03, 1 - top + 0.45 * top / 4.2, 0.95, top * (3.3 / 4.2)))
    dur = tl.duration_s
    ax.set_xlim(0, dur)
    ax.set_ylim(0, 1.0)
    ax.set_yticks([])
    ax.set_xlabel("time (s)")
    ax.set_title(
        f"{Path(plan.song.path).name} · style {plan.render.style} · seed {plan.render.seed} · "
        f"{len(plan.shots)} shots · {plan.song.bpm:.1f} BPM",
        loc="left",
    )
    # waveform / energy in 0.58..1.0
    mid, amp = 0.79, 0.2
    if tl.wave is not None:
        x = np.linspace(0, dur, tl.wave.shape[1])
        ax.fill_between(x, mid + amp * tl.wave[0], mid + amp * tl.wave[1], color="#555555", lw=0)
    elif tl.energy is not None:
        x = np.linspace(0, dur, len(tl.energy))
        ax.fill_between(x, mid - amp * tl.energy, mid + amp * tl.energy, color="#888888", lw=0)
    ax.vlines(tl.beats, 0.58, 1.0, color="#9ecae1", lw=0.4)
    ax.vlines(tl.downbeats, 0.58, 1.0, color="#08519c", lw=0.9)
    # sections 0.46..0.56
    for a, b, label in tl.sections:
        ax.add_patch(Rectangle((a, 0.46), b - a, 0.1, color=SECTION_COLOURS.get(label, "#eeeeee"), ec="white"))
        ax.text((a + b) / 2, 0.51, label, ha="center", va="center", fontsize=8, clip_on=True)
    # lyric lines 0.35..0.44
    for i, (a, b, text) in enumerate(tl.lines):
        y = 0.355 + 0.045 * (i % 2)
        ax.add_patch(Rectangle((a, y), b - a, 0.04, color="#fee391", ec="#cc9900", lw=0.5))
        ax.text(a, y + 0.02, text[:40], fontsize=6, va="center", clip_on=True)
    # shots 0.02..0.28 and continuity arcs above them
    index = {s.id: s for s in plan.shots}
    for s in plan.shots:
        colour = FRAMING_COLOURS[s.framing]
        ax.add_patch(Rectangle((s.start_s, 0.03), s.duration_s, 0.24, color=colour, ec="black", lw=0.6))
        c = (s.start_s + s.end_s) / 2
        ax.text(c, 0.19, MOVE_GLYPHS[s.camera.move], ha="center", va="center", fontsize=12, clip_on=True)
        if s.duration_s > dur / 60:
            ax.text(c, 0.08, s.id, ha="center", va="center", fontsize=6, rotation=90 if s.duration_s < dur / 25 else 0)
        if s.transition_in.kind != "cut":
            ax.text(
                s.start_s,
                0.29,
                {"crossfade": "╳", "flash": "✦", "whip": "≫"}[s.transition_in.kind],
                ha="center",
                fontsize=8,
                color="#444444",
            )
        if s.continues_from in index:
            p = index[s.continues_from]
            ax.annotate(
                "",
                xy=(c, 0.27),
                xytext=((p.start_s + p.end_s) / 2, 0.27),
                arrowprops={"arrowstyle": "->", "connectionstyle": "arc3,rad=-0.4", "color": "black", "lw": 0.8},
            )
    colours = photo_colours(plan)
    for s in plan.shots:  # which photo each shot shows, as a strip under the shots
        ref = plan.reference_of(s)
        if ref is not None and len(colours) > 1:
            ax.add_patch(Rectangle((s.start_s, 0.003), s.duration_s, 0.022, color=colours[ref.id], lw=0))
    handles = [Patch(color=c, label=f.replace("_", " ")) for f, c in FRAMING_COLOURS.items()]
    if len(colours) > 1:
        handles += [Patch(color=c, label=f"photo {rid} ({r.kind})")
                    for (rid, c), r in zip(colours.items(), plan.references, strict=True)]
    handles += [Patch(color="white", label=f"{g} {m.replace('_', ' ')}") for m, g in MOVE_GLYPHS.items()]
    ncol = max(7, math.ceil(len(handles) / 2))  # two rows at most: more would climb out of the figure
    ax.legend(handles=handles, loc="lower right", ncol=ncol, fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0))
    # thumbnails
    for i, s in enumerate(plan.shots):
        if s.id not in thumbs:
            continue
        r, c = divmod(i, cols)
        y0 = 1 - top - (r + 1) * (cell_h / (4.2 + rows * cell_h))
        tax = fig.add_axes((0.01 + c * 0.98 / cols, y0, 0.98 / cols - 0.006, (cell_h - 0.5) / (4.2 + rows * cell_h)))
        tax.imshow(thumbs[s.id])
        tax.set_xticks([])
        tax.set_yticks([])
        for sp in tax.spines.values():
            sp.set_color(FRAMING_COLOURS[s.framing])
            sp.set_linewidth(3)
        ref = plan.reference_of(s)
        tax.set_title(
            f"{s.id}  {s.start_s:.2f}s  {MOVE_GLYPHS[s.camera.move]} {s.camera.move}"
            + (f"  ← {s.continues_from}" if s.continues_from else "")
            + (f"\n{ref.id} ({ref.kind})" if ref is not None and len(colours) > 1 else ""),
            fontsize=7,
            loc="left",
        )
        if ref is not None and len(colours) > 1:
            tax.add_patch(Rectangle((0, 0), 0.06, 1, transform=tax.transAxes, color=colours[ref.id], lw=0))
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", metadata=PNG_METADATA)


# ----------------------------------------------------------------------------- HTML


def photo_colours(plan: ShotPlan) -> dict[str, str]:
    """A colour per photo of the plan, by id, in the plan's order."""
    return {r.id: PHOTO_COLOURS[i % len(PHOTO_COLOURS)] for i, r in enumerate(plan.references)}


def _svg_timeline(plan: ShotPlan, tl: Timeline, width: int = 1600) -> str:
    """The timeline as inline SVG."""
    dur = tl.duration_s
    sx = width / dur

    def x(t: float) -> float:
        return round(t * sx, 2)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="250" class="timeline">']
    mid, amp = 55, 45
    if tl.wave is not None or tl.energy is not None:
        lo, hi = (tl.wave[0], tl.wave[1]) if tl.wave is not None else (-tl.energy, tl.energy)
        xs = np.linspace(0, width, len(lo))
        pts = [f"{a:.1f},{mid - amp * v:.1f}" for a, v in zip(xs, hi, strict=True)]
        pts += [f"{a:.1f},{mid - amp * v:.1f}" for a, v in zip(xs[::-1], lo[::-1], strict=True)]
        parts.append(f'<polygon points="{" ".join(pts)}" fill="#666"/>')
    for t in tl.beats:
        parts.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="10" y2="100" stroke="#9ecae1" stroke-width="0.5"/>')
    for t in tl.downbeats:
        parts.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="10" y2="100" stroke="#08519c" stroke-width="1"/>')
    for a, b, label in tl.sections:
        parts.append(
            f'<rect x="{x(a)}" y="105" width="{x(b) - x(a)}" height="22" fill="{SECTION_COLOURS.get(label, "#eee")}" '
            f'stroke="white"/><text x="{x(a) + 3}" y="121" font-size="12">{html.escape(label)}</text>'
        )
    for i, (a, b, text) in enumerate(tl.lines):
        y = 132 + 14 * (i % 2)
        parts.append(
            f'<rect x="{x(a)}" y="{y}" width="{max(1.0, x(b) - x(a))}" height="12" fill="#fee391">'
            f"<title>{html.escape(text)}</title></rect>"
        )
    for s in plan.shots:
        a, b = x(s.start_s), x(s.end_s)
        parts.append(
            f'<a href="#{html.escape(s.id)}"><rect x="{a}" y="170" width="{b - a}" height="60" '
            f'fill="{FRAMING_COLOURS[s.framing]}" stroke="black" stroke-width="0.6">'
            f"<title>{html.escape(s.id)} · {s.framing} · {s.camera.move}</title></rect>"
            f'<text x="{(a + b) / 2}" y="205" font-size="16" text-anchor="middle">'
            f"{MOVE_GLYPHS[s.camera.move]}</text></a>"
        )
        if s.continues_from:
            p = plan.shot(s.continues_from)
            pa, sa = (x(p.start_s) + x(p.end_s)) / 2, (a + b) / 2
            parts.append(f'<path d="M{pa},168 Q{(pa + sa) / 2},150 {sa},168" stroke="black" fill="none"/>')
    parts.append("</svg>")
    return "".join(parts)


def _png_b64(img: np.ndarray) -> str:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


def storyboard_html(plan: ShotPlan, tl: Timeline, thumbs: dict[str, np.ndarray]) -> str:
    """A self-contained HTML storyboard (inline SVG timeline, embedded JPEG thumbnails)."""
    legend = " ".join(
        f'<span class="chip" style="background:{c}">{f.replace("_", " ")}</span>' for f, c in FRAMING_COLOURS.items()
    )
    legend += " &nbsp; " + " ".join(f"{g} {m.replace('_', ' ')}" for m, g in MOVE_GLYPHS.items())
    cards = []
    for s in plan.shots:
        img = (
            f'<img src="data:image/jpeg;base64,{_png_b64(thumbs[s.id])}" alt="{html.escape(s.id)}">'
            if s.id in thumbs
            else '<div class="noimg">no reference image</div>'
        )
        t = s.transition_in
        lyric = f'<p class="lyric">“{html.escape(s.lyric.line)}”</p>' if s.lyric else ""
        cont = (
            f" · continues <a href='#{html.escape(s.continues_from)}'>{html.escape(s.continues_from)}</a>"
            if (s.continues_from)
            else ""
        )
        ref = plan.reference_of(s)
        photo = f" · photo {html.escape(ref.id)} ({ref.kind})" if ref is not None else ""
        cards.append(
            f'<div class="card" id="{html.escape(s.id)}" style="border-color:{FRAMING_COLOURS[s.framing]}">{img}'
            f"<h3>{html.escape(s.id)}</h3><p>{s.start_s:.2f}–{s.end_s:.2f} s ({s.duration_s:.2f} s) · {s.section}"
            f"{photo}"
            f"</p><p>{s.framing.replace('_', ' ')} · {MOVE_GLYPHS[s.camera.move]} {s.camera.move} "
            f"({s.camera.intensity:.2f}) · in: {t.kind}{f' {t.beats:g} beats' if t.kind != 'cut' else ''}{cont}</p>"
            f'{lyric}<p class="prompt">{html.escape(s.prompt)}</p></div>'
        )
    title = html.escape(f"{Path(plan.song.path).name} — storyboard ({plan.render.style}, seed {plan.render.seed})")
    return f"""<!doctype html>
<html><head><meta charset="utf-8">{HTML_META}<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; }}
.timeline {{ width: 100%; height: auto; border: 1px solid #ddd; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax({THUMB_W + 16}px, 1fr)); gap: 10px; }}
.card {{ border: 3px solid; border-radius: 6px; padding: 6px; font-size: 12px; }}
.card img {{ width: 100%; display: block; }}
.card h3 {{ margin: 4px 0; font-size: 14px; }}
.card p {{ margin: 2px 0; }}
.lyric {{ font-style: italic; }}
.prompt {{ color: #555; font-size: 11px; }}
.chip {{ padding: 1px 6px; border-radius: 3px; }}
.noimg {{ height: 60px; background: #eee; }}
</style></head><body>
<h1>{title}</h1>
<p>{len(plan.shots)} shots · {plan.song.duration_s:.2f} s · {plan.song.bpm:.1f} BPM ·
{plan.render.width}x{plan.render.height} @ {plan.render.fps:g} fps · renderer {plan.render.renderer}</p>
<p>{legend}</p>
{_svg_timeline(plan, tl)}
<div class="grid">
{"".join(cards)}
</div></body></html>
"""
