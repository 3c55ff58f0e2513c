"""Export a shot plan as an OpenTimelineIO timeline that editors can open in their NLE.

The timeline has a video track with one clip per shot (named by shot id, with framing,
move, prompt and lyric in its metadata), OTIO transitions for crossfades, flashes and
whips, an audio track holding the song, and markers for sections and lyric lines. Clips
point at the rendered video when ``video_path`` is given (each clip is its range of the
finished video, so an editor can re-cut it), else at nothing yet (``MissingReference``).
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from mvdirector.media.atomic import atomic_output
from mvdirector.rules import frame_index
from mvdirector.schemas import AudioAnalysis, ShotPlan

__all__ = ["write_otio"]

SECTION_MARKER_COLOURS = {
    "intro": otio.schema.MarkerColor.WHITE,
    "verse": otio.schema.MarkerColor.BLUE,
    "pre_chorus": otio.schema.MarkerColor.ORANGE,
    "chorus": otio.schema.MarkerColor.RED,
    "bridge": otio.schema.MarkerColor.GREEN,
    "instrumental": otio.schema.MarkerColor.PURPLE,
    "outro": otio.schema.MarkerColor.BLACK,
    "part": otio.schema.MarkerColor.CYAN,
}
TRANSITION_TYPES = {
    "crossfade": otio.schema.TransitionTypes.SMPTE_Dissolve,
    "flash": otio.schema.TransitionTypes.Custom,
    "whip": otio.schema.TransitionTypes.Custom,
}


def _range(start_frame: int, n_frames: int, fps: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start_frame, fps), otio.opentime.RationalTime(n_frames, fps)
    )


def build_timeline(
    plan: ShotPlan, analysis: AudioAnalysis | None = None, video_path: str | Path | None = None
) -> otio.schema.Timeline:
    """The plan as an OTIO timeline (see the module doc)."""
    fps = plan.render.fps
    total = plan.n_frames
    tl = otio.schema.Timeline(name=f"{Path(plan.song.path).stem} ({plan.render.style}, seed {plan.render.seed})")
    tl.global_start_time = otio.opentime.RationalTime(0, fps)
    tl.metadata["mvdirector"] = {
        "style": plan.render.style,
        "seed": plan.render.seed,
        "bpm": plan.song.bpm,
        "song": plan.song.path,
        "reference": plan.reference.path if plan.reference else None,
    }
    video = otio.schema.Track(name="shots", kind=otio.schema.TrackKind.Video)
    beat_s = 60.0 / plan.song.bpm
    for i, s in enumerate(plan.shots):
        a, b = s.frame_range(fps)
        t = s.transition_in
        if i > 0 and t.kind != "cut":
            prev_a, prev_b = plan.shots[i - 1].frame_range(fps)
            half = int(round(t.beats * beat_s * fps / 2))
            half = max(1, min(half, (b - a) // 2, (prev_b - prev_a) // 2))
            video.append(
                otio.schema.Transition(
                    name=f"{t.kind} into {s.id}",
                    transition_type=TRANSITION_TYPES[t.kind],
                    in_offset=otio.opentime.RationalTime(half, fps),
                    out_offset=otio.opentime.RationalTime(half, fps),
                    metadata={"mvdirector": {"kind": t.kind, "beats": t.beats}},
                )
            )
        if video_path is not None:
            ref: otio.core.MediaReference = otio.schema.ExternalReference(
                target_url=Path(video_path).resolve().as_uri(), available_range=_range(0, total, fps)
            )
        else:
            ref = otio.schema.MissingReference(name=s.id)
        video.append(
            otio.schema.Clip(
                name=s.id,
                media_reference=ref,
                source_range=_range(a, b - a, fps),
                metadata={
                    "mvdirector": {
                        "section": s.section,
                        "framing": s.framing,
                        "move": s.camera.move,
                        "intensity": s.camera.intensity,
                        "continues_from": s.continues_from,
                        "prompt": s.prompt,
                        "lyric": s.lyric.line if s.lyric else None,
                        "seed": s.seed,
                    }
                },
            )
        )
    audio = otio.schema.Track(name="song", kind=otio.schema.TrackKind.Audio)
    audio.append(
        otio.schema.Clip(
            name=Path(plan.song.path).name,
            media_reference=otio.schema.ExternalReference(
                target_url=Path(plan.song.path).resolve().as_uri(), available_range=_range(0, total, fps)
            ),
            source_range=_range(0, total, fps),
        )
    )
    tl.tracks.append(video)
    tl.tracks.append(audio)
    for m in markers(plan, analysis):
        tl.tracks.markers.append(m)
    return tl


def markers(plan: ShotPlan, analysis: AudioAnalysis | None) -> list[otio.schema.Marker]:
    """Section and lyric-line markers (from the analysis, else from the plan's shots)."""
    fps = plan.render.fps
    total = plan.n_frames

    def rng(a_s: float, b_s: float) -> otio.opentime.TimeRange:
        a = min(total - 1, max(0, frame_index(a_s, fps)))
        b = min(total, max(a + 1, frame_index(b_s, fps)))
        return _range(a, b - a, fps)

    sections: list[tuple[float, float, str]] = []
    lines: list[tuple[float, float, str]] = []
    if analysis is not None:
        sections = [(s.start_s, s.end_s, s.label) for s in analysis.sections]
        lines = [(ln.start_s, ln.end_s, ln.text) for ln in analysis.lyrics.lines]
    else:
        for s in plan.shots:
            if sections and sections[-1][2] == s.section:
                sections[-1] = (sections[-1][0], s.end_s, s.section)
            else:
                sections.append((s.start_s, s.end_s, s.section))
            if s.lyric is not None and s.lyric.words and not (lines and lines[-1][2] == s.lyric.line):
                w = s.lyric.words
                lines.append((s.start_s + w[0].start_s, s.start_s + w[-1].end_s, s.lyric.line))
    out = [
        otio.schema.Marker(
            name=label, marked_range=rng(a, b), color=SECTION_MARKER_COLOURS[label], metadata={"kind": "section"}
        )
        for a, b, label in sections
    ]
    out += [
        otio.schema.Marker(
            name=text, marked_range=rng(a, b), color=otio.schema.MarkerColor.YELLOW, metadata={"kind": "lyric"}
        )
        for a, b, text in lines
        if a < plan.song.duration_s
    ]
    return out


def write_otio(
    plan: ShotPlan, out_path: str | Path, analysis: AudioAnalysis | None = None, video_path: str | Path | None = None
) -> Path:
    """Write the plan as an ``.otio`` timeline (atomically) and return its path."""
    out = Path(out_path)
    tl = build_timeline(plan, analysis, video_path)
    with atomic_output(out) as tmp:
        otio.adapters.write_to_file(tl, str(tmp), adapter_name="otio_json")
    return out
