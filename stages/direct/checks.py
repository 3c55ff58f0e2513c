"""Director's rules a hand-edited plan may break without being invalid: warnings naming shot, field and fix.

``ShotPlan`` validation rejects plans that cannot be rendered (gaps, cycles, off-grid times).
These checks flag plans that render but break the director's grammar: cuts off the beat or
inside a sung word, shots longer than the style allows, neighbours with the same framing and
move, transitions longer than half a neighbour, a take whose camera jumps at the cut.
"""

from __future__ import annotations

import numpy as np

from mvdirector.errors import InputError
from mvdirector.rules import SMALL_FACE_PX, snap_to_grid
from mvdirector.schemas import AudioAnalysis, ShotPlan
from stages.direct.casting import good_for_close_up, is_close
from stages.direct.cutting import ASR_EDGE_S
from stages.templates import load_template

WORD_EDGE_S = 0.03
MAX_FORWARD = 0.85  # camera z (subject distances) beyond which it is about to hit the singer


def plan_warnings(plan: ShotPlan, analysis: AudioAnalysis | None = None, templates_dir: str | None = None) -> list[str]:
    """Every director's rule ``plan`` breaks, as one-line warnings (empty for a plan fresh from ``direct``)."""
    out: list[str] = []
    fps = plan.render.fps
    try:
        tpl = load_template(plan.render.style, templates_dir)
        lo_s, hi_s = tpl.shot_s
    except InputError:
        out.append(f"render.style '{plan.render.style}' is not a known style — shot lengths checked against 1–8 s")
        lo_s, hi_s = 1.0, 8.0
    last = len(plan.shots) - 1
    for i, s in enumerate(plan.shots):
        d = s.duration_s
        if d > hi_s + 1e-6 or (d < lo_s - 1e-6 and 0 < i < last):
            out.append(
                f"shot '{s.id}' is {d:.2f} s long; style '{plan.render.style}' wants {lo_s:g}–{hi_s:g} s — "
                f"{'split it at a beat' if d > hi_s else 'merge it with a neighbour'}"
            )
        for k, kf in enumerate(s.camera.keyframes):
            if kf.position[2] >= MAX_FORWARD:
                out.append(
                    f"shot '{s.id}' camera.keyframes[{k}].position z={kf.position[2]:g} puts the camera at or past "
                    f"the singer (z=1) — keep z below {MAX_FORWARD:g}"
                )
                break
        if s.lyric is not None:
            for w in s.lyric.words:
                if w.start_s < -1e-6 or w.end_s > d + 1e-3:
                    out.append(
                        f"shot '{s.id}' lyric word '{w.text}' spans {w.start_s:.2f}–{w.end_s:.2f} s but the shot is "
                        f"{d:.2f} s long — word times are seconds from the shot's start"
                    )
                    break
    out += _photo_warnings(plan)
    for a, b in zip(plan.shots, plan.shots[1:], strict=False):
        if (a.framing, a.camera.move) == (b.framing, b.camera.move):
            out.append(
                f"shots '{a.id}' and '{b.id}' are neighbours with the same framing '{a.framing}' and move "
                f"'{a.camera.move}' — change the framing or camera.move of one (and delete its keyframes)"
            )
        t = b.transition_in
        if t.kind != "cut":
            length = t.beats * 60.0 / plan.song.bpm
            room = min(a.duration_s, b.duration_s) / 2
            if length > room + 0.5 / fps:
                out.append(
                    f"shot '{b.id}' transition_in {t.kind} of {t.beats:g} beats ({length:.2f} s) is longer than half "
                    f"of the shorter neighbour ({room:.2f} s) — lower transition_in.beats"
                )
    by_id = {s.id: s for s in plan.shots}
    for s in plan.shots:
        parent = by_id.get(s.continues_from) if s.continues_from else None
        if parent is None or not parent.camera.keyframes or not s.camera.keyframes:
            continue
        e, f = parent.camera.keyframes[-1], s.camera.keyframes[0]
        if not (
            np.allclose(e.position, f.position, atol=1e-3) and np.allclose(e.rotation_deg, f.rotation_deg, atol=0.05)
        ):
            out.append(
                f"shot '{s.id}' continues_from '{parent.id}' but its camera starts at {tuple(f.position)} / "
                f"{tuple(f.rotation_deg)}° while '{parent.id}' ends at {tuple(e.position)} / {tuple(e.rotation_deg)}° "
                f"— delete '{s.id}' camera.keyframes to re-expand them from there"
            )
    if analysis is not None:
        out += _song_warnings(plan, analysis)
    return out


def _photo_warnings(plan: ShotPlan) -> list[str]:
    """Close-ups of a photo whose face is small or turned away (a photo without a face is a plan error), and photos
    no shot shows."""
    good = [r.id for r in plan.references if good_for_close_up(r)]
    out = []
    for s in plan.shots:
        ref = plan.reference_of(s)
        if ref is None or not is_close(s.framing) or ref.face_px is None or ref.close_up_problem():
            continue
        if not good_for_close_up(ref):
            why = f"is only {ref.face_px} px tall" if (ref.face_px or 0) < SMALL_FACE_PX else "is turned away"
            fix = f"use {', '.join(good)}" if good else "use a wider framing"
            out.append(f"shot '{s.id}' is a {s.framing} of '{ref.id}', whose face {why} — {fix}")
    return out + unused_photos(plan)


def unused_photos(plan: ShotPlan) -> list[str]:
    """A warning per photo no shot shows (more looks than section types, or more scenes than places for them)."""
    shown = {r.id for s in plan.shots if (r := plan.reference_of(s)) is not None}
    return [f"photo '{r.id}' ({r.kind}) is shown by no shot — name it in a shot's reference in plan.json"
            for r in plan.references if r.id not in shown]


def _song_warnings(plan: ShotPlan, a: AudioAnalysis) -> list[str]:
    """Cuts off the beat or inside a sung word, and section labels that disagree with the song."""
    out: list[str] = []
    fps = plan.render.fps
    beats = np.array(a.beat_times)
    trim = ASR_EDGE_S if a.lyrics.source == "asr" else 0.0  # recognised word edges are loose
    words = [
        (w.start_s + trim, w.end_s - trim, w.text)
        for ln in a.lyrics.lines
        for w in ln.words
        if w.confidence >= 0.5 and w.end_s - w.start_s > 2 * trim
    ]
    for s in plan.shots[1:]:
        t = s.start_s
        if len(beats):
            near = float(beats[np.argmin(np.abs(beats - t))])
            if abs(near - t) > 1.5 / fps:
                out.append(
                    f"shot '{s.id}' starts at {t:.3f} s, {abs(near - t):.3f} s off the nearest beat ({near:.3f} s) — "
                    f"move its start_s and the previous shot's end_s to {snap_to_grid(near, fps):.6f}"
                )
        for ws, we, text in words:
            if ws + WORD_EDGE_S < t < we - WORD_EDGE_S:
                free = [b for b in beats if not any(x + WORD_EDGE_S < b < y - WORD_EDGE_S for x, y, _ in words)]
                hint = ""
                if free:
                    alt = min(free, key=lambda b: abs(b - t))
                    hint = f" — move the cut to the beat at {snap_to_grid(alt, fps):.3f} s"
                out.append(
                    f"shot '{s.id}' starts at {t:.3f} s inside the sung word '{text}' ({ws:.2f}–{we:.2f} s){hint}"
                )
                break
    for s in plan.shots:
        mid = (s.start_s + s.end_s) / 2
        sec = next((x for x in a.sections if x.start_s <= mid < x.end_s), None)
        if sec is not None and sec.label != s.section:
            out.append(
                f"shot '{s.id}' is labelled section '{s.section}' but lies in the song's {sec.label} "
                f"({sec.start_s:.2f}–{sec.end_s:.2f} s) — set section to '{sec.label}' so its grade and prompt match"
            )
    return out
