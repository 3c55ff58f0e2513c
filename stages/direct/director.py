"""The MV-Director: analysis + reference + style → a ``ShotPlan`` cut on the music.

Steps: (1) load the style, (2) lay the beat grid and sections on the frame grid,
(3) choose cut points per section, (4) give every shot a look — framing, camera move,
transition, take continuity — from the section's grammar, (5) expand moves to keyframes,
write prompts and lyric overlays, (6) build and validate the plan.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mvdirector.errors import InputError, PlanError
from mvdirector.rules import Fps, Height, Width, frame_index
from mvdirector.schemas import (
    AudioAnalysis,
    Camera,
    CameraKeyframe,
    LyricOverlay,
    ReferenceInfo,
    ReferenceRef,
    ReferenceSet,
    RendererName,
    RenderSettings,
    Shot,
    ShotPlan,
    SongRef,
    Transition,
    Word,
)
from stages.direct.camera import expand_camera
from stages.direct.casting import Casting, is_close
from stages.direct.cutting import (
    W_LINE,
    BeatGrid,
    CutRules,
    SectionSpan,
    beat_grid,
    choose_cuts,
    line_anchor_beats,
    line_starts,
    plan_sections,
    word_spans,
)
from stages.direct.prompts import shot_prompt
from stages.templates import DEFAULT_STYLE, ResolvedGrammar, ShotTemplate, load_template, template_fingerprint

VERSION = "3"
log = logging.getLogger(__name__)
Progress = Callable[[float, str], None] | None

# moves that change the field of view cannot hand a continuous camera to the next shot
_NO_TAKE_MOVES = {"dolly_zoom"}
_CLOSE = {"extreme_close_up": 0.8, "close_up": 0.45}  # share of frame height the face fills
TAKE_MAX_FORWARD = 0.35  # a take whose camera is this far forward does not push in further
INNER_TRANSITION_SHARE = 1 / 3  # weight of non-cut transitions inside a section (vs at its entry)
MOTIF_BOOST = 20.0  # weight on repeating the first occurrence's look in a repeated section


class DirectConfig(BaseModel):
    """Options of the director: style (and where extra styles live), output size, fps, seed, renderer.

    Building one checks that the style exists (an ``InputError`` listing the styles otherwise).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: str = DEFAULT_STYLE
    templates_dir: str | None = None
    width: Width = 1280
    height: Height = 720
    fps: Fps = 24.0
    seed: int = Field(default=0, ge=0)
    renderer: RendererName = "procedural"

    @model_validator(mode="after")
    def _known_style(self) -> DirectConfig:
        load_template(self.style, self.templates_dir)
        return self


@dataclass(frozen=True)
class _Span:
    start_s: float
    end_s: float
    section: SectionSpan
    index_in_section: int


def direct(
    analysis: AudioAnalysis,
    reference: ReferenceSet | ReferenceInfo | None,
    config: DirectConfig,
    progress: Progress = None,
) -> ShotPlan:
    """Plan the shots of a music video; same inputs and seed give the same plan.

    ``reference`` is the render's photos (`ReferenceSet`: the singer's, looks, scenes) or the singer's
    photo alone; each shot names the photo it shows (`stages.direct.casting`).
    """
    report = progress or (lambda _f, _m: None)
    tpl = load_template(config.style, config.templates_dir)
    fps = config.fps
    if frame_index(analysis.source.duration_s, fps) < 1:
        raise InputError(
            f"the song is {analysis.source.duration_s:.3f} s long, shorter than one frame at {fps:g} fps",
            "use a longer song",
        )
    report(0.0, f"cutting on the beat ({tpl.name})")
    grid = beat_grid(analysis, fps)
    spans = _cut(analysis, tpl, grid, fps, config.seed)
    report(0.4, f"choosing framings and moves for {len(spans)} shots")
    cast = Casting.of(reference, [(s.label, s.group) for s in analysis.sections])
    shots = _shots(analysis, cast, tpl, grid, spans, config)
    report(0.9, "validating the plan")
    plan = _build_plan(analysis, cast, tpl, shots, config)
    report(1.0, f"{len(plan.shots)} shots planned")
    return plan


def fingerprint(config: DirectConfig) -> dict[str, str]:
    """What besides ``config`` and ``VERSION`` changes the plan: the style file's content."""
    return {"style": config.style, "style_sha256": template_fingerprint(config.style, config.templates_dir)}


def _cut(analysis: AudioAnalysis, tpl: ShotTemplate, grid: BeatGrid, fps: float, seed: int) -> list[_Span]:
    """Shot spans: every section split at the cuts chosen for it."""
    min_s, max_s = tpl.shot_s
    sections = plan_sections(analysis, grid, fps, min_s)
    words = word_spans(analysis)
    anchors = line_anchor_beats(grid, line_starts(analysis))
    energy_at = np.array([analysis.energy.at(float(t)) for t in grid.times], dtype=np.float64)
    scale = tpl.tempo_scale(analysis.bpm)
    spans: list[_Span] = []
    echoes: dict[tuple[str, int], set[int]] = {}  # (label, group) → cut offsets in beats of its first occurrence
    loud = _loud_part_energy(analysis)
    for k, sec in enumerate(sections):
        g = tpl.grammar(grammar_label(tpl, sec.label, sec.energy, loud))
        rules = CutRules(g.cut_beats[0] * scale, g.cut_beats[1] * scale, min_s, max_s, g.accelerate)
        rng = np.random.default_rng([seed, 1, k])
        line_bonus = W_LINE * (3.0 if tpl.captions else 1.0)
        key = (sec.label, sec.group)
        echo = echoes.get(key)
        cuts = choose_cuts(sec, grid, rules, energy_at, words, anchors, rng, line_bonus=line_bonus, echo=echo)
        if echo is None:
            echoes[key] = {int(round((t - sec.start_s) / grid.period_s)) for t in cuts}
        bounds = [sec.start_s, *cuts, sec.end_s]
        for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
            spans.append(_Span(a, b, sec, i))
    return spans


def grammar_label(tpl: ShotTemplate, label: str, energy: float, loud: float) -> str:
    """The grammar a section is cut and shot with: its own label; for a ``part`` (music without
    verse/chorus form) the style's ``part`` grammar when it has one, else the chorus grammar for
    the loud parts (energy ≥ ``loud``) and the verse grammar for the others."""
    if label != "part" or "part" in tpl.sections:
        return label
    return "chorus" if energy >= loud else "verse"


def _loud_part_energy(analysis: AudioAnalysis) -> float:
    """Energy from which a part counts as loud: the upper third of the song's parts."""
    energies = [s.energy for s in analysis.sections if s.label == "part"]
    return float(np.percentile(energies, 67)) if len(energies) > 1 else 2.0


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A weighted random choice (keys in sorted order so the draw is reproducible)."""
    keys = sorted(k for k, w in weights.items() if w > 0)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _framing_weights(g: ResolvedGrammar, face_px: int | None, height: int, scene: bool = False) -> dict[str, float]:
    """The grammar's framing weights, damping close framings the photos cannot fill sharply.

    ``face_px`` is the face height a close-up would show (None: unknown, 0: no photo has a face);
    a scene keeps only the grammar's framings wider than a close-up.
    """
    w = dict(g.framings)
    if scene:
        wide = {f: v for f, v in w.items() if not is_close(f)}
        return wide if sum(wide.values()) > 0 else {"wide": 1.0}
    for framing, share in _CLOSE.items():
        if framing not in w:
            continue
        if face_px == 0:
            w[framing] = 0.0  # no face to frame tightly
        elif face_px is not None:
            if share * height / max(1, face_px) > 4.0:  # would upscale the face more than 4x
                w[framing] *= 0.25
    if sum(w.values()) <= 0:
        w = dict(g.framings)
    return w


def _choose_look(
    rng: np.random.Generator,
    framings: dict[str, float],
    moves: dict[str, float],
    prev: Shot | None,
    motif: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """Framing and move; never the previous shot's pair, and a new framing when one is available.

    ``motif`` (the look of the same shot in the section's first occurrence) is favoured, so
    a repeated chorus echoes the first one.
    """
    pairs: dict[str, float] = {}
    for f, wf in framings.items():
        for m, wm in moves.items():
            w = wf * wm
            if motif is not None and (f, m) == motif:
                w *= MOTIF_BOOST
            elif motif is not None and f == motif[0]:
                w *= MOTIF_BOOST / 3
            if prev is not None:
                if f == prev.framing and m == prev.camera.move:
                    continue
                if f == prev.framing:
                    w *= 0.1
                if m == prev.camera.move:
                    w *= 0.4
            if w > 0:
                pairs[f"{f}|{m}"] = w
    if not pairs:  # the grammar has a single framing and a single move: vary the move
        f = next(iter(framings))
        m = "static" if prev is None or prev.camera.move != "static" else "push_in"
        return f, m
    f, m = _pick(rng, pairs).split("|")
    return f, m


def _transition(
    rng: np.random.Generator, g: ResolvedGrammar, span: _Span, prev_dur: float, grid: BeatGrid
) -> Transition:
    """A transition drawn from the grammar; non-cuts only on downbeats and at most half a neighbour long.

    Section entries draw from the grammar's weights as they are; inside a section the
    non-cut weights count a third, so effects mark the structure rather than every bar.
    """
    weights = g.transitions
    if span.index_in_section > 0:
        weights = {k: (w if k == "cut" else w * INNER_TRANSITION_SHARE) for k, w in weights.items()}
        if sum(weights.values()) <= 0:
            return Transition()
    kind = _pick(rng, weights)
    if kind == "cut":
        return Transition()
    i = np.where(np.abs(grid.times - span.start_s) < 1e-6)[0]
    if not len(i) or grid.kind(int(i[0])) != "downbeat":
        return Transition()
    beats = g.transition_beats.get(kind, 1.0)
    room = 0.5 * min(prev_dur, span.end_s - span.start_s) / grid.period_s
    beats = min(beats, np.floor(room * 4) / 4)
    if beats < 0.25:
        return Transition()
    return Transition(kind=kind, beats=float(beats))


def _lyric(analysis: AudioAnalysis, start: float, end: float) -> LyricOverlay | None:
    """The lyric line overlapping the shot most, with its words in the shot (shot-relative, clipped)."""
    best, best_overlap = None, 0.0
    for line in analysis.lyrics.lines:
        a = line.words[0].start_s if line.words else line.start_s
        b = line.words[-1].end_s if line.words else line.end_s
        overlap = min(b, end) - max(a, start)
        if overlap > best_overlap:
            best, best_overlap = line, overlap
    if best is None:
        return None
    dur = np.floor((end - start) * 1000) / 1000  # ms precision, never past the shot's end
    words = []
    for w in best.words:
        if w.end_s > start and w.start_s < end:
            a = min(dur, round(max(0.0, w.start_s - start), 3))
            b = min(dur, max(a, round(w.end_s - start, 3)))
            words.append(Word(start_s=float(a), end_s=float(b), text=w.text, confidence=w.confidence))
    return LyricOverlay(line=best.text, words=words)


def _singing(analysis: AudioAnalysis, start: float, end: float) -> bool:
    """True when a voice is active for at least a third of the span."""
    active = sum(max(0.0, min(s.end_s, end) - max(s.start_s, start)) for s in analysis.vocal_activity)
    return active >= (end - start) / 3


def _mean_energy(analysis: AudioAnalysis, start: float, end: float) -> float:
    """Mean of the energy curve over a span (0.5 without a curve)."""
    curve = analysis.energy
    if not curve.values:
        return 0.5
    a = max(0, int(np.floor(start * curve.fps)))
    b = min(len(curve.values), max(a + 1, int(np.ceil(end * curve.fps))))
    if a >= len(curve.values):
        return float(curve.values[-1])
    return float(np.clip(np.mean(curve.values[a:b]), 0.0, 1.0))


def _take_move(rng: np.random.Generator, moves: dict[str, float], prev: Shot) -> str:
    """The move of a shot continuing ``prev``'s take: another move that keeps the fov, not into the singer."""
    options = {m: w for m, w in moves.items() if m != prev.camera.move and m not in _NO_TAKE_MOVES and w > 0}
    if prev.camera.keyframes and prev.camera.keyframes[-1].position[2] > TAKE_MAX_FORWARD:
        back = "pull_out" if prev.camera.move != "pull_out" else "static"
        options = {m: w for m, w in options.items() if m != "push_in"} or {back: 1.0}
    return _pick(rng, options)


def shot_seed(plan_seed: int, shot_id: str) -> int:
    """A per-shot seed from the plan seed and the shot id (stable when other shots change)."""
    return (plan_seed * 1_000_003 + zlib.crc32(shot_id.encode())) % (2**31)


def _shots(
    analysis: AudioAnalysis,
    cast: Casting,
    tpl: ShotTemplate,
    grid: BeatGrid,
    spans: list[_Span],
    config: DirectConfig,
) -> list[Shot]:
    """Give each span a look, a photo, camera keyframes, prompt and lyric overlay."""
    rng = np.random.default_rng([config.seed, 2])
    shots: list[Shot] = []
    take_len = 0
    motifs: dict[tuple[str, int], list[tuple[str, str]]] = {}  # (label, group) → looks of its first occurrence
    first_occurrence: dict[tuple[str, int], int] = {}
    loud = _loud_part_energy(analysis)
    for sp in spans:
        g = tpl.grammar(grammar_label(tpl, sp.section.label, sp.section.energy, loud))
        sid = f"{sp.section.label}{sp.section.occurrence}-{sp.index_in_section + 1:02d}"
        prev = shots[-1] if shots else None
        dur = sp.end_s - sp.start_s
        energy = round(_mean_energy(analysis, sp.start_s, sp.end_s), 3)
        lyric = _lyric(analysis, sp.start_s, sp.end_s)
        singing = bool(lyric and lyric.words) or _singing(analysis, sp.start_s, sp.end_s)
        label, index = sp.section.label, sp.index_in_section
        scene = cast.scene_slot(label, index, singing)
        base = (cast.scene(label, sp.section.group) if scene
                else cast.look(label, sp.section.group, sp.section.occurrence))
        transition = Transition() if prev is None else _transition(rng, g, sp, prev.duration_s, grid)
        moves = dict(g.moves)
        continues = (
            prev is not None
            and sp.index_in_section > 0
            and transition.kind == "cut"
            and take_len < g.max_take_shots
            and prev.camera.move not in _NO_TAKE_MOVES
            and any(m != prev.camera.move and m not in _NO_TAKE_MOVES and w > 0 for m, w in moves.items())
            and _photo(cast, base, prev.framing, scene) == prev.reference  # a take never changes photo
            and rng.random() < g.take_chance
        )
        if continues and prev is not None:
            framing, move = prev.framing, _take_move(rng, moves, prev)
            take_len += 1
        else:
            key = (sp.section.label, sp.section.group)
            first = first_occurrence.setdefault(key, sp.section.occurrence)
            looks = motifs.get(key, [])
            motif = (
                looks[sp.index_in_section]
                if first != sp.section.occurrence and sp.index_in_section < len(looks)
                else None
            )
            weights = _framing_weights(g, None if scene else cast.close_face_px(base), config.height, scene)
            framing, move = _choose_look(rng, weights, moves, prev, motif)
            take_len = 1
            if not scene and cast.establishing(index, framing):
                scene, base = True, cast.scene(label, sp.section.group)
        key = (sp.section.label, sp.section.group)
        if first_occurrence.setdefault(key, sp.section.occurrence) == sp.section.occurrence:
            motifs.setdefault(key, []).append((framing, move))
        lo, hi = g.intensity
        camera = Camera(
            move=move,
            intensity=round(lo + (hi - lo) * energy, 3),
            easing=g.easing,
            direction=1 if rng.random() < 0.5 else -1,
        )
        seed = shot_seed(config.seed, sid)
        after: CameraKeyframe | None = prev.camera.keyframes[-1] if continues and prev is not None else None
        camera = expand_camera(camera, dur, seed, after=after)
        prompt = shot_prompt(tpl, g, label, framing, move, energy, lyric.line if lyric else None, singing, scene)
        shots.append(
            Shot(
                id=sid,
                start_s=sp.start_s,
                end_s=sp.end_s,
                section=sp.section.label,
                framing=framing,
                camera=camera,
                prompt=prompt,
                lyric=lyric,
                transition_in=transition,
                energy=energy,
                seed=seed,
                continues_from=prev.id if continues and prev is not None else None,
                reference=_photo(cast, base, framing, scene),
            )
        )
    return shots


def _photo(cast: Casting, base: ReferenceRef | None, framing: str, scene: bool) -> str | None:
    """Id of the photo a shot shows: its scene, or its section's look — for a close-up, one whose face fills it."""
    if base is None:
        return None
    if not scene and is_close(framing):
        base = cast.close_up(base) or base
    return base.id


def _build_plan(
    analysis: AudioAnalysis,
    cast: Casting,
    tpl: ShotTemplate,
    shots: list[Shot],
    config: DirectConfig,
) -> ShotPlan:
    """Wrap the shots in a plan; a rule the director broke is a bug, reported as a PlanError."""
    src = analysis.source
    try:
        return ShotPlan(
            song=SongRef(
                path=src.path,
                sha256=src.sha256,
                duration_s=src.duration_s,
                bpm=analysis.bpm,
                beats_per_bar=analysis.beats_per_bar,
            ),
            reference=cast.refs[0] if cast.refs else None,
            references=cast.refs,
            render=RenderSettings(
                width=config.width,
                height=config.height,
                fps=config.fps,
                renderer=config.renderer,
                style=tpl.name,
                seed=config.seed,
                grades=dict(tpl.grades) or None,
            ),
            shots=shots,
        )
    except ValidationError as e:  # pragma: no cover - the director keeps the rules by construction
        raise PlanError(f"the director made an invalid plan: {e.errors()[0]['msg']}", "please report this") from e


def fill_keyframes(plan: ShotPlan) -> ShotPlan:
    """The plan with every shot whose ``camera.keyframes`` is empty re-expanded from its move.

    This is how a hand edit of ``camera.move`` takes effect: change the move, delete the
    keyframes, and the next load re-expands them (continuing the previous shot's camera
    when the shot ``continues_from`` it).
    """
    by_id: dict[str, Shot] = {}
    changed = False
    out: list[Shot] = []
    for s in plan.shots:
        if not s.camera.keyframes:
            parent = by_id.get(s.continues_from) if s.continues_from else None
            after = parent.camera.keyframes[-1] if parent is not None and parent.camera.keyframes else None
            s = s.model_copy(update={"camera": expand_camera(s.camera, s.duration_s, s.seed, after=after)})
            changed = True
        by_id[s.id] = s
        out.append(s)
    return plan.model_copy(update={"shots": out}) if changed else plan
