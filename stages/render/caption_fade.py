"""One caption line at a time, transitions included.

A crossfade in the assembled video blends two clips that each burn in their own caption, and inside
the window the side that has run out of frames is held on its edge frame (``stages.assemble.
transitions``). So a clip hands its line over by construction: the outgoing shot fades its caption
out over the frames that are blended (reaching zero on its last frame, which is held under the
incoming half), and the incoming shot starts with no caption on its first frame (held under the
outgoing half) and fades its line in over the frames it blends. When the outgoing half has no frames
(a window that starts at the cut), the incoming shot waits until the window is over. Shots whose
lines are the same keep them: the text lies on itself. Flashes and whips never show two shots at once.
"""

from __future__ import annotations

import numpy as np

from mvdirector.schemas import ShotPlan

FADE_IN_AFTER_FRAMES = 4  # frames over which a caption held back by a window fades in after it


def _line(plan: ShotPlan, index: int) -> str | None:
    lyric = plan.shots[index].lyric
    return lyric.line.strip() if lyric is not None and lyric.line.strip() else None


def caption_opacity(plan: ShotPlan, index: int) -> np.ndarray:
    """Per frame of shot ``index``: how opaque its caption is drawn (0..1)."""
    from stages.assemble.timeline import shot_frame_ranges, transition_windows

    first, end = shot_frame_ranges(plan)[index]
    n = end - first
    op = np.ones(n)
    if _line(plan, index) is None:
        return op
    windows = {w.index: w for w in transition_windows(plan) if w.kind == "crossfade"}
    w_in = windows.get(index)
    if w_in is not None and index > 0 and _line(plan, index - 1) not in (None, _line(plan, index)):
        k = np.arange(n)
        if w_in.before > 0:
            op = np.minimum(op, np.clip(k / max(1, w_in.after), 0.0, 1.0))
        else:
            op = np.minimum(op, np.clip((k - w_in.after + 1) / FADE_IN_AFTER_FRAMES, 0.0, 1.0))
    w_out = windows.get(index + 1)
    if w_out is not None and w_out.before > 0 and _line(plan, index + 1) not in (None, _line(plan, index)):
        k = np.arange(n) - (n - w_out.before)  # 0 .. before-1 over the blended frames
        op = np.minimum(op, np.clip(1.0 - (k + 1) / w_out.before, 0.0, 1.0))
    return op
