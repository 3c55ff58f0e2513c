"""The continuity DAG of a plan: which shot continues which, render order and takes.

An edge a → b means shot b continues from shot a (its motion frames and camera start where
a ends), so a renders before b. Takes — the weakly connected components — share nothing and
can render side by side. `mvdirector.schemas.ShotPlan` validates with ``problems`` and exposes
the rest as methods (``plan.render_order()``, ``plan.takes()``, ``plan.dependents(id)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from mvdirector.errors import PlanError

if TYPE_CHECKING:  # imported where a graph is built, so `analyze` never loads networkx
    import networkx as nx


class Node(Protocol):
    """What the DAG reads of a shot."""

    @property
    def id(self) -> str: ...
    @property
    def continues_from(self) -> str | None: ...


def problems(shots: Sequence[Node]) -> list[str]:
    """Every continuity rule the shots break: a dangling or self edge, a cycle."""
    ids = {s.id for s in shots}
    out = []
    for s in shots:
        if s.continues_from is not None and s.continues_from not in ids:
            out.append(f"shot '{s.id}' continues_from '{s.continues_from}', which is not a shot in this plan")
        elif s.continues_from == s.id:
            out.append(f"shot '{s.id}' continues_from itself")
    if out:
        return out
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((s.continues_from, s.id) for s in shots if s.continues_from)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return []
    names = " → ".join(a for a, _ in cycle) + f" → {cycle[0][0]}"
    return [f"continues_from edges form a cycle: {names} — set continues_from of one of them to null"]


def graph(shots: Sequence[Node]) -> nx.DiGraph:
    """The DAG (node attribute ``index`` = plan position); ``PlanError`` naming the first problem."""
    found = problems(shots)
    if found:
        raise PlanError(found[0])
    import networkx as nx

    g = nx.DiGraph()
    for i, s in enumerate(shots):
        g.add_node(s.id, index=i)
    g.add_edges_from((s.continues_from, s.id) for s in shots if s.continues_from is not None)
    return g


def _order(g: nx.DiGraph) -> list[str]:
    import networkx as nx

    return list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"]))


def render_order(shots: Sequence[Node]) -> list[str]:
    """Shot ids with every shot after the one it continues from (plan order on ties)."""
    return _order(graph(shots))


def takes(shots: Sequence[Node]) -> list[list[str]]:
    """The takes: groups of shot ids that depend only on each other, each in render order,
    sorted by their first shot. Different takes may render in parallel."""
    import networkx as nx

    g = graph(shots)
    rank = {n: i for i, n in enumerate(_order(g))}
    groups = [sorted(c, key=rank.__getitem__) for c in nx.weakly_connected_components(g)]
    return sorted(groups, key=lambda grp: g.nodes[grp[0]]["index"])


def dependents(shots: Sequence[Node], shot_id: str) -> list[str]:
    """The shots to re-render when ``shot_id`` changes: itself and every shot continuing from it."""
    import networkx as nx

    g = graph(shots)
    if shot_id not in g:
        raise PlanError(f"shot '{shot_id}' is not in the plan", "use an id listed in plan.json")
    keep = nx.descendants(g, shot_id) | {shot_id}
    return [n for n in _order(g) if n in keep]
