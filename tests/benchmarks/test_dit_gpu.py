"""benchmarks/dit_gpu.py: its whole code path on tiny configs (CPU), and its one-line refusal without CUDA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dit_gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_tiny_run_prints_the_table_and_matches_diffusers():
    res = _run("--tiny", "--steps", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[1].split()[:4] == ["model", "params", "B", "tokens"]
    row = lines[2].split()
    assert row[0] == "tiny" and row[-1] == "yes"
    assert float(row[-2]) <= 1e-5  # relative L2 to diffusers' pipeline on the same random weights


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the script would run the real 14B benchmark")
def test_without_cuda_it_says_so_in_one_line():
    res = _run()
    assert res.returncode == 77, res.stderr  # make bench reports it as skipped (benchmarks/tools/gpu.py)
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchmarks/dit_gpu.py needs a CUDA GPU (none found): skipped;")
