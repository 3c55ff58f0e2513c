"""The run's report: one writer for ``report.json`` and ``report.html``, and the CLI's summary rows."""

from __future__ import annotations

from PIL import Image

from mvdirector.report import format_summary_rows, write_report
from mvdirector.schemas import RenderReport, ShotReport


def _report(video: str) -> RenderReport:
    shots = [
        ShotReport(shot_id="verse1-01", start_s=0.0, end_s=2.0, framing="close_up", move="push_in", cached=True,
                   render_s=0.0, identity_similarity=0.98, identity_distance=0.2, identity_frames=3,
                   thumbnail="thumbs/verse1-01.jpg"),
        ShotReport(shot_id="verse1-02", start_s=2.0, end_s=4.0, framing="wide", move="orbit", cached=False,
                   render_s=1.5, needs_rerender=True, warnings=["shot 'verse1-02': <far> from the reference"]),
    ]
    return RenderReport(video=video, duration_s=4.0, song_duration_s=4.0, frames=96, fps=24.0, width=320, height=180,
                        shots=shots, cache_hits=1, rendered=1, stage_s={"analyze": 1.0, "render": 2.0}, total_s=3.5,
                        warnings=shots[1].warnings, codec="h264", audio_codec="aac")


def test_write_report_writes_json_and_a_standalone_page(tmp_path):
    (tmp_path / "thumbs").mkdir()
    Image.new("RGB", (32, 18), (200, 30, 30)).save(tmp_path / "thumbs" / "verse1-01.jpg")
    report = _report(str(tmp_path / "video.mp4"))
    write_report(report, tmp_path, tmp_path / "thumbs")
    assert RenderReport.model_validate_json((tmp_path / "report.json").read_text()) == report
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") == 1 and "no thumbnail" in page  # the second shot has none
    assert "&lt;far&gt;" in page and "<far>" not in page, "text is escaped"
    assert "marked for re-render" in page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no temporary file is left"


def test_summary_rows_are_two_strings_each():
    rows = format_summary_rows(_report("/x/video.mp4"))
    assert rows[0] == ("video", "/x/video.mp4")
    assert all(len(r) == 2 and all(isinstance(x, str) for x in r) for r in rows)
    d = dict(rows)
    assert d["shots"] == "2 (1 cached, 1 rendered)" and d["re-render"] == "verse1-02" and d["warnings"] == "1"
    assert d["stages"] == "analyze 1.0 s · render 2.0 s" and d["total"] == "3.5 s"
