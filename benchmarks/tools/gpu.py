"""What the GPU benchmarks share: how they step aside on a machine without CUDA.

``make bench`` runs every ``benchmarks/*.py``. A GPU benchmark on a machine without CUDA measures
nothing: it prints one line saying so and what its ``--tiny`` mode does, and exits with
:data:`SKIPPED`, which the Makefile's ``bench`` target reports as skipped instead of failing.
"""

from __future__ import annotations

SKIPPED = 77  # exit status of a benchmark that cannot run here (the automake convention for a skipped check)


def no_gpu(script: str, tiny: str) -> int:
    """Print that ``script`` needs a CUDA GPU and what ``--tiny`` does instead (one line); return SKIPPED."""
    print(f"{script} needs a CUDA GPU (none found): skipped; {tiny}", flush=True)
    return SKIPPED
