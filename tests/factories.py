"""Builders shared by tests (importable as `factories`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mvdirector.schemas import RenderSettings, Shot, ShotPlan, SongRef


def make_plan(bounds=(0.0, 2.0, 4.0, 6.0), fps=24.0, duration=6.0, **shot_updates) -> ShotPlan:
    shots = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        shots.append(Shot(id=f"verse1-{i + 1:02d}", start_s=a, end_s=b, section="verse"))
    return ShotPlan(song=SongRef(path="s.wav", sha256="0" * 64, duration_s=duration), render=RenderSettings(fps=fps),
                    shots=shots)


def plan_dict(**kw) -> dict:
    return json.loads(make_plan(**kw).model_dump_json())


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("MVDIRECTOR_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "mvdirector.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
