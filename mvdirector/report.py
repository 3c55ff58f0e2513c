"""The render's report, written once at the end of a run: ``report.json`` and ``report.html``.

``report.html`` is a self-contained contact sheet (thumbnails inlined); ``format_summary_rows``
gives the CLI its summary table.
"""

from __future__ import annotations

import base64
import html
import statistics
from pathlib import Path

from mvdirector.media.atomic import write_json_atomic, write_text_atomic
from mvdirector.outputs import HTML_META
from mvdirector.schemas import RenderReport, ShotReport

SUMMARY_COLUMNS = ("item", "value")
"""Column titles for the rows of ``format_summary_rows``."""

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;background:#111;color:#ddd}
h1{font-size:20px;margin:0 0 8px} table.facts td{padding:2px 12px 2px 0} .warn{color:#ffb347}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px;margin-top:16px}
.card{background:#1c1c1c;border-radius:6px;overflow:hidden;border:1px solid #333}
.card.bad{border-color:#e0662b} .card img{width:100%;display:block;background:#000}
.card .body{padding:6px 8px} .card .id{font-weight:600;color:#fff} .muted{color:#999;font-size:12px}
.card ul{margin:4px 0 0 16px;padding:0;color:#ffb347;font-size:12px}
h2{font-size:16px;margin:16px 0 4px} img.strip{max-width:100%;border-radius:6px;margin-top:6px}
"""


def _clock(t_s: float) -> str:
    m, s = divmod(t_s, 60.0)
    return f"{int(m)}:{s:06.3f}"


def _thumb_uri(shot: ShotReport, base: Path, thumbnails_dir: Path | None) -> str | None:
    candidates = []
    if thumbnails_dir is not None:
        candidates.append(Path(thumbnails_dir) / f"{shot.shot_id}.jpg")
    if shot.thumbnail:
        p = Path(shot.thumbnail)
        candidates.append(p if p.is_absolute() else base / p)
    for c in candidates:
        if c.is_file():
            return "data:image/jpeg;base64," + base64.b64encode(c.read_bytes()).decode("ascii")
    return None


def _card(shot: ShotReport, base: Path, thumbnails_dir: Path | None) -> str:
    uri = _thumb_uri(shot, base, thumbnails_dir)
    img = f'<img src="{uri}" alt="{html.escape(shot.shot_id)}">' if uri else '<div class="muted">no thumbnail</div>'
    lines = [
        f'<div class="id">{html.escape(shot.shot_id)}</div>',
        f"<div>{_clock(shot.start_s)} – {_clock(shot.end_s)} ({shot.end_s - shot.start_s:.2f} s)</div>",
        f"<div>{html.escape(shot.framing)} · {html.escape(shot.move)} · in: {html.escape(shot.transition_in)}</div>",
        *([f"<div>photo: {html.escape(shot.reference)} ({html.escape(shot.reference_kind or '')})</div>"]
          if shot.reference else []),
        f'<div class="muted">{"cache hit" if shot.cached else "rendered"} · {shot.render_s:.2f} s</div>',
    ]
    if shot.identity_similarity is not None:
        lines.append(
            f"<div>identity cos {shot.identity_similarity:.3f} · dist {shot.identity_distance:.3f} "
            f"({shot.identity_frames} frame(s) with a face)</div>"
        )
    if shot.lab_mean is not None:
        lab = " ".join(f"{x:.1f}" for x in shot.lab_mean)
        de = f" · ΔE {shot.colour_delta_e:.1f} from the video" if shot.colour_delta_e is not None else ""
        lines.append(f'<div class="muted">L*a*b* mean {lab}{de}</div>')
    if shot.needs_rerender:
        lines.append('<div class="warn">marked for re-render</div>')
    if shot.warnings:
        lines.append("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in shot.warnings) + "</ul>")
    cls = "card bad" if shot.warnings else "card"
    return f'<div class="{cls}">{img}<div class="body">{"".join(lines)}</div></div>'


def render_report_html(report: RenderReport, base: Path, thumbnails_dir: Path | None = None) -> str:
    """The contact-sheet page as a string; thumbnails are embedded so the file stands alone."""
    facts = [(k, v) for k, v in format_summary_rows(report) if k != "warnings"]
    fact_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in facts)
    warn = ""
    if report.warnings:
        warn = (
            '<h2 class="warn">Warnings</h2><ul class="warn">'
            + "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
            + "</ul>"
        )
    cards = "".join(_card(s, base, thumbnails_dir) for s in report.shots)
    strip = _mouth_strip(report, base)
    title = html.escape(Path(report.video).name)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"{HTML_META}<title>{title} — mvdirector report</title>"
        f'<style>{_CSS}</style></head><body><h1>{title}</h1><table class="facts">{fact_rows}</table>{warn}'
        f'{strip}<div class="grid">{cards}</div></body></html>\n'
    )


def _mouth_strip(report: RenderReport, base: Path) -> str:
    """The mouth strip (crops of the singer's mouth over one sung line), when the assembler made one."""
    if not report.mouth_strip:
        return ""
    p = Path(report.mouth_strip)
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        return ""
    uri = "data:image/jpeg;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
    text = html.escape(report.mouth_strip_line or "")
    return (f'<h2>The mouth over one sung line</h2><div class="muted">{text}</div>'
            f'<img class="strip" src="{uri}" alt="mouth strip">')


def write_report_html(report: RenderReport, out_path: str | Path, thumbnails_dir: str | Path | None = None) -> Path:
    """Write the contact sheet to ``out_path`` atomically (thumbnails from ``thumbnails_dir`` inlined)."""
    out = Path(out_path)
    thumbs = Path(thumbnails_dir) if thumbnails_dir is not None else None
    write_text_atomic(out, render_report_html(report, out.parent, thumbs))
    return out


def write_report(report: RenderReport, folder: Path, thumbnails_dir: Path | None = None) -> None:
    """Write ``report.json`` and ``report.html`` into ``folder`` (each atomically)."""
    write_json_atomic(folder / "report.json", report)
    write_report_html(report, folder / "report.html", thumbnails_dir)


def format_summary_rows(report: RenderReport) -> list[tuple[str, str]]:
    """(item, value) rows summarising a render, for a two-column table (``SUMMARY_COLUMNS``)."""
    rows = [
        ("video", report.video + (f" ({report.aspect})" if report.aspect else "")),
        ("duration", f"{report.duration_s:.3f} s (song {report.song_duration_s:.3f} s)"),
        (
            "picture",
            f"{report.frames} frames · {report.fps:g} fps · {report.width}x{report.height}"
            + (f" · {report.codec}" if report.codec else ""),
        ),
        ("sound", f"{report.audio_codec or 'muxed'} · A/V offset {report.av_offset_s * 1000:.1f} ms"),
        ("shots", f"{len(report.shots)} ({report.cache_hits} cached, {report.rendered} rendered)"),
    ]
    used: dict[str, list[ShotReport]] = {}
    for s in report.shots:
        if s.reference:
            used.setdefault(s.reference, []).append(s)
    if len(used) > 1:
        said = [f"{rid} ({v[0].reference_kind}) {len(v)} shot(s)" for rid, v in used.items()]
        rows.append(("photos", " · ".join(said)))
    if report.copied_shots or report.reencoded_shots:
        rows.append(
            (
                "assembly",
                f"{report.copied_shots} joined as-is, {report.reencoded_shots} re-encoded"
                + (f" · {report.assemble_s:.1f} s" if report.assemble_s else ""),
            )
        )
    sims = [s for s in report.shots if s.identity_similarity is not None]
    if sims:
        worst = max(sims, key=lambda s: s.identity_distance or 0.0)
        rows.append(
            (
                "identity",
                f"median cos {statistics.median(s.identity_similarity or 0.0 for s in sims):.3f} · worst "
                f"'{worst.shot_id}' dist {worst.identity_distance:.3f} · "
                f"{len(sims)}/{sum(s.reference_kind != 'scene' for s in report.shots)} shots of the singer "
                "with a face",
            )
        )
    des = [s.colour_delta_e for s in report.shots if s.colour_delta_e is not None]
    if des:
        rows.append(("colour", f"ΔE from the video's mean: median {statistics.median(des):.1f}, max {max(des):.1f}"))
    published = [f"cover {Path(report.cover).name}"] if report.cover else []
    if report.lyric_files:
        published.append("lyrics " + ", ".join(Path(p).name for p in report.lyric_files))
    if report.subtitle_language:
        published.append(f"subtitle track ({report.subtitle_language})")
    if report.chapters:
        published.append(f"{len(report.chapters)} chapters")
    if published:
        rows.append(("published", " · ".join(published)))
    if report.stage_s:
        rows.append(("stages", " · ".join(f"{k} {v:.1f} s" for k, v in report.stage_s.items())))
    if report.total_s:
        rows.append(("total", f"{report.total_s:.1f} s"))
    rerender = [s.shot_id for s in report.shots if s.needs_rerender]
    if rerender:
        rows.append(("re-render", ", ".join(rerender)))
    rows.append(("warnings", str(len(report.warnings))))
    return rows
