"""Outputs for people who publish the video: lyric files and a soft subtitle track, chapters, a cover.

``lyric_cues`` turns the plan's lyric overlays into cues; ``render`` writes them as ``.srt``, ``.vtt``
or enhanced ``.lrc`` (``read_*`` read them back, ``signed`` tells ours); ``chapters`` and
``to_ffmetadata`` make the chapter markers the assembler muxes; ``choose_cover`` picks and writes the
cover image of a finished video.
"""

from stages.publish.chapters import Chapter, chapters, to_ffmetadata
from stages.publish.cover import CoverPick, choose_cover
from stages.publish.cues import Cue, CueWord, lyric_cues
from stages.publish.subtitles import FORMATS, read_lrc, read_srt, read_vtt, render, signed

VERSION = "2"
"""Version of the cover choice and the lyric files' form (enters the cover's cache key)."""

__all__ = [
    "FORMATS", "VERSION", "Chapter", "CoverPick", "Cue", "CueWord", "chapters", "choose_cover", "lyric_cues",
    "read_lrc", "read_srt", "read_vtt", "render", "signed", "to_ffmetadata",
]
