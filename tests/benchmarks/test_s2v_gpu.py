"""benchmarks/s2v_gpu.py: the --tiny CPU run of the benchmark's code path, and the no-GPU exit."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "s2v_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("s2v_gpu_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_mode_runs_the_benchmark_path(bench, monkeypatch, capsys):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        monkeypatch.setattr("sys.argv", ["s2v_gpu.py", "--tiny", "--steps", "1"])
        assert bench.main() == 0
    finally:
        torch.set_num_threads(n)
    out = capsys.readouterr().out
    assert "tokens 128 noisy / 208 total" in out  # 4x4x8 noisy + 32 reference + 32 + 8 + 8 motion
    step = float(re.search(r"s/step \(mean\)\s+([\d.]+)", out).group(1))
    assert step > 0


def test_released_token_count_and_flops(bench):
    from models.s2v import S2VConfig

    noisy, total = bench.token_counts(S2VConfig(), 20, 60, 104)
    assert (noisy, total) == (31200, 31200 + 1560 + 1560 + 390 + 364)
    # rough independent count: 6 d^2 + 2 d f weights per token and block, plus 4 S^2 d attention
    d, f, layers = 5120, 13824, 40
    rough = layers * (2 * total * (6 * d * d + 2 * d * f) + 4 * total * total * d)
    assert bench.forward_flops(S2VConfig(), noisy, total, 20) == pytest.approx(rough, rel=0.05)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_it_says_so_in_one_line_and_make_bench_skips_it(bench, monkeypatch, capsys):
    from benchmarks.tools.gpu import SKIPPED

    monkeypatch.setattr("sys.argv", ["s2v_gpu.py"])
    assert bench.main() == SKIPPED == 77  # the status the Makefile's bench target reports as skipped
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and "needs a CUDA GPU (none found): skipped; --tiny runs" in out
    assert f"-eq {SKIPPED}" in (SCRIPT.parents[1] / "Makefile").read_text()
