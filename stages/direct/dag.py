"""The shot DAG: continuity edges, render order and independent takes.

An edge a → b means shot b continues from shot a (its motion frames and camera start where
a ends), so a must be rendered before b. Takes — the weakly connected components — share
nothing and can be rendered in parallel.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from mvdirector.errors import PlanError
from mvdirector.schemas import Shot, ShotPlan


def shot_graph(shots: Sequence[Shot] | ShotPlan) -> nx.DiGraph:
    """Continuity graph of ``shots``; raises ``PlanError`` naming dangling references and cycles."""
    shots = shots.shots if isinstance(shots, ShotPlan) else shots
    g = nx.DiGraph()
    for i, s in enumerate(shots):
        g.add_node(s.id, index=i)
    ids = {s.id for s in shots}
    dangling = [s for s in shots if s.continues_from is not None and s.continues_from not in ids]
    if dangling:
        names = ", ".join(f"'{s.id}' → '{s.continues_from}'" for s in dangling)
        raise PlanError(
            f"continues_from names a shot that is not in the plan: {names}",
            "set continues_from to an existing shot id or to null",
        )
    g.add_edges_from((s.continues_from, s.id) for s in shots if s.continues_from is not None)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return g
    names = " → ".join(a for a, _ in cycle) + f" → {cycle[0][0]}"
    raise PlanError(f"continues_from edges form a cycle: {names}", "set continues_from of one of them to null")


def render_order(shots: Sequence[Shot] | ShotPlan) -> list[str]:
    """Shot ids in an order where every shot comes after the one it continues from (plan order on ties)."""
    g = shot_graph(shots)
    return list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"]))


def independent_takes(shots: Sequence[Shot] | ShotPlan) -> list[list[str]]:
    """Groups of shot ids that depend only on each other, each in render order, sorted by first shot.

    Different groups can be rendered in parallel; inside a group, render in the given order.
    """
    g = shot_graph(shots)
    order = {n: i for i, n in enumerate(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"]))}
    groups = [sorted(c, key=order.__getitem__) for c in nx.weakly_connected_components(g)]
    return sorted(groups, key=lambda grp: g.nodes[grp[0]]["index"])


def dependents(shots: Sequence[Shot] | ShotPlan, shot_id: str) -> list[str]:
    """Ids of the shots that must be re-rendered when ``shot_id`` changes (itself and its descendants)."""
    g = shot_graph(shots)
    if shot_id not in g:
        raise PlanError(f"shot '{shot_id}' is not in the plan", "use an id listed in plan.json")
    keep = nx.descendants(g, shot_id) | {shot_id}
    return [n for n in render_order(shots) if n in keep]
