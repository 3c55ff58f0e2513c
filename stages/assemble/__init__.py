"""The assembler: shot clips in plan order → the finished video with the song, and a report.

``assemble`` joins hard-cut clips without decoding, re-encodes only the shots that a
transition or a grade match changes, muxes the song with zero A/V offset, measures identity
and colour per shot and writes ``report.html``; ``format_summary_rows`` gives the CLI its
summary table.
"""

from stages.assemble.core import VERSION, AssembleConfig, assemble, check_inputs
from stages.assemble.report_html import SUMMARY_COLUMNS, format_summary_rows, write_report_html

__all__ = [
    "VERSION",
    "AssembleConfig",
    "assemble",
    "check_inputs",
    "format_summary_rows",
    "write_report_html",
    "SUMMARY_COLUMNS",
]
