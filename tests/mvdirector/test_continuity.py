"""The continuity DAG: render order, takes, dependents, cycles and dangling edges."""

from __future__ import annotations

import re

import pytest

from mvdirector.continuity import dependents, graph, render_order, takes
from mvdirector.errors import PlanError
from mvdirector.schemas import Shot


def _shots(edges: dict[str, str | None]) -> list[Shot]:
    out = []
    for i, (sid, parent) in enumerate(edges.items()):
        out.append(Shot(id=sid, start_s=i, end_s=i + 1, section="verse", continues_from=parent))
    return out


def test_render_order_puts_parents_first_and_keeps_plan_order() -> None:
    shots = _shots({"a": None, "b": "a", "c": None, "d": "b", "e": "c"})
    assert render_order(shots) == ["a", "b", "c", "d", "e"]
    shots = _shots({"x": "z", "y": None, "z": None})
    assert render_order(shots) == ["y", "z", "x"]


def test_independent_takes_group_chains() -> None:
    shots = _shots({"a": None, "b": "a", "c": None, "d": "b", "e": "c", "f": None})
    assert takes(shots) == [["a", "b", "d"], ["c", "e"], ["f"]]
    assert dependents(shots, "b") == ["b", "d"]
    assert dependents(shots, "f") == ["f"]
    with pytest.raises(PlanError, match="'nope'"):
        dependents(shots, "nope")


def test_dangling_reference_is_named() -> None:
    with pytest.raises(PlanError) as e:
        graph(_shots({"a": None, "b": "ghost"}))
    assert "shot 'b' continues_from 'ghost', which is not a shot" in e.value.one_line()


def test_cycle_is_named() -> None:
    with pytest.raises(PlanError) as e:
        render_order(_shots({"a": "c", "b": "a", "c": "b", "d": None}))
    m = re.search(r"cycle: (\w) → (\w) → (\w) → (\w) —", e.value.one_line())
    assert m and sorted(m.groups()[:3]) == ["a", "b", "c"] and m.group(1) == m.group(4)
