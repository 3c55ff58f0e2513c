"""Chapter markers per section of the song (Intro, Verse 1, Chorus 1 …), as an ffmetadata file for the mux.

Chapters follow the analysis' sections, their starts on the plan's frame grid: the first starts at
0, each ends where the next starts and the last at the video's end. A label that occurs more than
once is numbered in order (Verse 1, Verse 2); a section of a piece without a voice is ``Part A``,
``Part B`` … after its group. A song of one section gets no chapters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mvdirector.rules import frame_index
from mvdirector.schemas import AudioAnalysis, ShotPlan

TITLES = {
    "intro": "Intro", "verse": "Verse", "pre_chorus": "Pre-chorus", "chorus": "Chorus", "bridge": "Bridge",
    "instrumental": "Instrumental", "outro": "Outro", "part": "Part",
}


@dataclass(frozen=True)
class Chapter:
    """A chapter of the video: its span in seconds (on the frame grid) and its title."""

    start_s: float
    end_s: float
    title: str


def chapters(analysis: AudioAnalysis, plan: ShotPlan) -> list[Chapter]:
    """The chapters of the video a plan makes of the analysed song."""
    fps = plan.render.fps
    end = plan.n_frames / fps
    sections = sorted(analysis.sections, key=lambda s: s.start_s)
    counts = Counter(s.label for s in sections)
    seen: Counter[str] = Counter()
    groups: dict[int, str] = {}
    found: list[tuple[float, str]] = []
    for i, s in enumerate(sections):
        start = 0.0 if i == 0 else frame_index(s.start_s, fps) / fps
        if found and start <= found[-1][0]:
            continue  # a section shorter than a frame
        name = TITLES.get(s.label, s.label.replace("_", " ").capitalize())
        if s.label == "part":
            name += " " + groups.setdefault(s.group, chr(ord("A") + len(groups) % 26))
        elif counts[s.label] > 1:
            seen[s.label] += 1
            name += f" {seen[s.label]}"
        found.append((start, name))
    found = [(a, t) for a, t in found if a < end]
    if len(found) < 2:
        return []
    return [Chapter(a, found[i + 1][0] if i + 1 < len(found) else end, t) for i, (a, t) in enumerate(found)]


def _escape(value: str) -> str:
    return "".join("\\" + ch if ch in "=;#\\\n" else ch for ch in value)


def to_ffmetadata(found: list[Chapter]) -> str:
    """An ffmetadata file of the chapters (millisecond time base), for ``-map_chapters``."""
    out = [";FFMETADATA1"]
    for c in found:
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(c.start_s * 1000)}", f"END={round(c.end_s * 1000)}",
                f"title={_escape(c.title)}"]
    return "\n".join(out) + "\n"
