"""stages.analyze.activations: the shared spectra feed madmom's networks exactly as madmom's own processors do."""

from __future__ import annotations

import numpy as np
import pytest

from stages.analyze import activations

SR = 44100


@pytest.fixture(scope="module")
def kicks() -> np.ndarray:
    """16 s of noise with a synthetic kick drum every 0.5 s."""
    rng = np.random.default_rng(3)
    y = (0.01 * rng.standard_normal(SR * 16)).astype(np.float32)
    k = np.arange(8000)
    hit = (0.8 * np.exp(-k / 1500) * np.sin(2 * np.pi * 60 * k / SR)).astype(np.float32)
    hit[:400] += 0.3 * rng.standard_normal(400).astype(np.float32)
    for a in range(SR // 2, len(y) - 8000, SR // 2):
        y[a : a + 8000] += hit
    return y


def test_network_outputs_equal_madmoms_processors(kicks: np.ndarray) -> None:
    from madmom.audio.signal import Signal
    from madmom.features.beats import RNNBeatProcessor
    from madmom.features.downbeats import RNNDownBeatProcessor

    y = kicks[: SR * 8]
    ours = activations.compute(y)
    sig = Signal(y, sample_rate=SR, num_channels=1)
    beat = RNNBeatProcessor(intra_op_num_threads=1)(sig)
    joint = RNNDownBeatProcessor(intra_op_num_threads=1)(sig)
    assert ours.beat.shape == beat.shape and ours.joint.shape == joint.shape
    assert np.array_equal(ours.beat, beat) and np.array_equal(ours.joint, joint)


def test_stream_matches_block_sizes_and_covers_every_frame(kicks: np.ndarray) -> None:
    outs = []
    for block in (len(kicks), 30000):  # one piece vs many blocks, with 3 s windows and 1 s pads
        s = activations.ActivationStream(chunk_s=3.0, pad_s=1.0)
        for a in range(0, len(kicks), block):
            s.feed(kicks[a : a + block])
        outs.append(s.finish())
    one, many = outs
    assert one.beat.shape == (1600,) and one.joint.shape == (1600, 2)
    assert one.chroma.shape == (1600, 12) and one.low.shape == (1600,)
    assert np.allclose(one.beat, many.beat, atol=1e-5) and np.allclose(one.joint, many.joint, atol=1e-5)
    assert one.beat[150:1550:50].mean() > 5 * one.beat[175:1550:50].mean()  # activations peak on the kicks
    assert one.low[150:1550:50].mean() > 5 * one.low[175:1550:50].mean()  # and so does the kick band
