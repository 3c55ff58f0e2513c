"""The MV-Director stage: ``direct(analysis, reference, config) -> ShotPlan`` and the shot DAG helpers."""

from stages.direct.checks import plan_warnings
from stages.direct.dag import dependents, independent_takes, render_order, shot_graph
from stages.direct.director import VERSION, DirectConfig, direct, fill_keyframes, fingerprint, shot_seed

__all__ = [
    "VERSION",
    "DirectConfig",
    "dependents",
    "direct",
    "fill_keyframes",
    "fingerprint",
    "independent_takes",
    "plan_warnings",
    "render_order",
    "shot_graph",
    "shot_seed",
]
