"""Load, check and save shot plans, with messages that name the shot and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvdirector.errors import PlanError
from mvdirector.media.atomic import write_json_atomic
from mvdirector.rules import on_frame_grid, snap_to_grid
from mvdirector.schemas import ShotPlan


def _snap(data: dict[str, Any], warnings: list[str]) -> None:
    """Snap shot times of raw plan JSON to the frame grid in place, noting each change."""
    fps = float(data.get("render", {}).get("fps", 24.0) or 24.0)
    for shot in data.get("shots", []) or []:
        if not isinstance(shot, dict):
            continue
        for field in ("start_s", "end_s"):
            t = shot.get(field)
            if isinstance(t, int | float) and not on_frame_grid(float(t), fps):
                snapped = snap_to_grid(float(t), fps)
                sid = shot.get("id", "?")
                warnings.append(f"shot '{sid}' {field}={t} snapped to the frame grid: {snapped:.6f}")
                shot[field] = snapped


def _describe(err: ValidationError, data: dict[str, Any]) -> list[str]:
    """Turn pydantic errors into lines that name the shot id and field."""
    out = []
    shots = data.get("shots") if isinstance(data, dict) else None
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(x) for x in loc) or "plan"
        if len(loc) >= 2 and loc[0] == "shots" and isinstance(loc[1], int) and isinstance(shots, list):
            idx = loc[1]
            item = shots[idx] if idx < len(shots) else None
            sid = item.get("id", f"#{idx}") if isinstance(item, dict) else f"#{idx}"
            field = ".".join(str(x) for x in loc[2:]) or "shot"
            where = f"shot '{sid}' {field}"
        msg = e["msg"].removeprefix("Value error, ")
        out.append(msg if where == "plan" else f"{where}: {msg}")
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
    p = Path(path)
    if not p.exists():
        raise PlanError(f"plan file '{p}' does not exist", "make one with `mvdirector plan`")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PlanError(f"plan file '{p}' is not valid JSON: {e}", "fix the syntax or re-plan") from None
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
