"""Load, check and save shot plans, with messages that name the shot and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvdirector.errors import InputError, PlanError
from mvdirector.media.atomic import write_json_atomic
from mvdirector.rules import FPS_RANGE, on_frame_grid, snap_to_grid
from mvdirector.schemas import ShotPlan
from mvdirector.schemas.base import MAX_SONG_S


def _snap(data: dict[str, Any], warnings: list[str]) -> None:
    """Snap shot times of raw plan JSON to the frame grid in place, noting each change."""
    render = data.get("render")
    fps = render.get("fps", 24.0) if isinstance(render, dict) else 24.0
    shots = data.get("shots")
    if not isinstance(fps, int | float) or isinstance(fps, bool) or not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        return  # the contract names the bad fps
    for shot in shots if isinstance(shots, list) else ():
        if not isinstance(shot, dict):
            continue
        for field in ("start_s", "end_s"):
            t = shot.get(field)
            if isinstance(t, int | float) and not isinstance(t, bool) and abs(t) <= MAX_SONG_S and not on_frame_grid(
                float(t), fps
            ):
                snapped = snap_to_grid(float(t), fps)
                sid = shot.get("id", "?")
                warnings.append(f"shot '{sid}' {field}={t} snapped to the frame grid: {snapped:.6f}")
                shot[field] = snapped


def _describe(err: ValidationError, data: dict[str, Any]) -> list[str]:
    """Turn pydantic errors into lines that name the shot id and field (and suggest a misspelt key)."""
    from mvdirector.describe import line, shown

    shots = data.get("shots") if isinstance(data, dict) else None
    out = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(x) for x in loc) or None
        if len(loc) >= 2 and loc[0] == "shots" and isinstance(loc[1], int) and isinstance(shots, list):
            idx = loc[1]
            item = shots[idx] if idx < len(shots) else None
            sid = item.get("id", f"#{idx}") if isinstance(item, dict) else f"#{idx}"
            field = ".".join(str(x) for x in loc[2:]) or "shot"
            where = f"shot {shown(sid)} {field}"
        out.append(line(e, ShotPlan, where))
    return out


def parse_plan(data: dict[str, Any], snap: bool = True) -> tuple[ShotPlan, list[str]]:
    """Validate raw plan JSON; snap off-grid times first when ``snap``; return (plan, warnings)."""
    warnings: list[str] = []
    if not isinstance(data, dict):
        raise PlanError("a plan must be a JSON object with 'song', 'render' and 'shots'")
    if snap:
        _snap(data, warnings)
    try:
        plan = ShotPlan.model_validate(data)
    except ValidationError as e:
        lines = _describe(e, data)
        more = f" (and {len(lines) - 1} more problem(s); run `mvdirector validate`)" if len(lines) > 1 else ""
        err = PlanError(lines[0] + more)
        err.problems = lines  # type: ignore[attr-defined]
        raise err from None
    return plan, warnings


def load_plan(path: str | Path, snap: bool = True) -> tuple[ShotPlan, list[str]]:
    """Read and validate a plan file; raise PlanError naming the first problem (all in ``.problems``)."""
    from mvdirector.loaders import load_json

    p = Path(path)
    if not p.exists():
        raise PlanError(f"plan file '{p}' does not exist", "make one with `mvdirector plan`")
    try:
        data = load_json(p, "plan file")
    except InputError as e:
        raise PlanError(e.message, "fix the file or re-plan with `mvdirector plan`") from None
    return parse_plan(data, snap=snap)


def save_plan(plan: ShotPlan, path: str | Path) -> None:
    """Write a plan atomically as indented JSON."""
    write_json_atomic(path, plan)


def with_render(plan: ShotPlan, **changes: object) -> ShotPlan:
    """``plan`` with other render settings (size, fps, seed, renderer), checked like a loaded plan.

    A new fps re-times the plan: every cut moves to the nearest frame of the new grid and the
    last shot still ends with the song; a shot that would be shorter than a frame is a PlanError.
    """
    data = plan.model_dump(mode="json")
    data["render"].update(changes)
    fps = float(data["render"]["fps"])
    if fps != plan.render.fps:
        for shot in data["shots"]:
            shot["start_s"], shot["end_s"] = snap_to_grid(shot["start_s"], fps), snap_to_grid(shot["end_s"], fps)
        data["shots"][-1]["end_s"] = snap_to_grid(plan.song.duration_s, fps)
    return parse_plan(data, snap=False)[0]
