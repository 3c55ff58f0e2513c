"""Native-fps retiming: exact frame counts, nearest frames, no clamping, the 4k+1 grid."""

from __future__ import annotations

import numpy as np
import pytest

from models.timebase import native_frame_count, retime_indices, round_up_frames


def test_sixteen_to_twenty_four_shows_every_other_native_frame_twice():
    idx = retime_indices(12, 24.0, 9, 16.0)
    assert idx.tolist() == [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7]
    # Each output frame shows the native frame nearest in time.
    t_out = np.arange(12) / 24.0
    assert np.all(np.abs(idx / 16.0 - t_out) <= 0.5 / 16.0 + 1e-12)


@pytest.mark.parametrize("fps", [24.0, 16.0, 30.0, 8.0, 24000 / 1001, 60.0])
@pytest.mark.parametrize("n", [1, 2, 5, 48, 97, 1000])
def test_counts_are_exact_and_never_clamped(fps, n):
    n_native = native_frame_count(n, fps, 16.0)
    assert (n_native - 1) % 4 == 0
    idx = retime_indices(n, fps, n_native, 16.0)
    assert len(idx) == n and idx[0] == 0
    assert np.all(np.diff(idx) >= 0) and idx[-1] <= n_native - 1
    unclamped = retime_indices(n, fps, 1 << 40, 16.0)
    np.testing.assert_array_equal(idx, unclamped)
    # Not wastefully long: fewer than 4 native frames past the last one shown.
    assert n_native - 1 - idx[-1] < 4


def test_same_rate_is_the_identity_up_to_the_vae_grid():
    assert native_frame_count(81, 16.0, 16.0) == 81
    assert native_frame_count(80, 16.0, 16.0) == 81
    np.testing.assert_array_equal(retime_indices(80, 16.0, 81, 16.0), np.arange(80))


def test_round_up_and_bad_values():
    assert [round_up_frames(n) for n in (1, 2, 5, 6)] == [1, 5, 5, 9]
    with pytest.raises(ValueError):
        retime_indices(3, 0.0, 5, 16.0)
    with pytest.raises(ValueError):
        native_frame_count(0, 24.0, 16.0)
