"""S2V audio features against goldens from the official ``wan/modules/s2v/audio_encoder.py``.

Fixtures: ``tests/fixtures/make_s2v_audio_goldens.py`` (a tiny random wav2vec2, run on CPU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from models.audio_features import (
    SongAudioFeatures,
    Wav2Vec2Encoder,
    audible_frames,
    bucket_features,
    bucket_indices,
    bucket_song,
    feature_frames,
    interpolate_features,
    song_audio_features,
    to_model_rate,
    zero_audio_like,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "s2v_audio"


@pytest.fixture(scope="module")
def gold() -> dict[str, torch.Tensor]:
    return load_file(str(FIX / "audio_goldens.safetensors"))


@pytest.fixture(scope="module")
def encoder() -> Wav2Vec2Encoder:
    return Wav2Vec2Encoder.from_pretrained(FIX / "wav2vec2")


def official_layout(bucket: torch.Tensor) -> torch.Tensor:
    """The official ``encode_audio`` layout (1, L, D, frames) of a (frames, L, D) bucket."""
    return bucket.unsqueeze(0).permute(0, 2, 3, 1)


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    assert a.shape == b.shape
    err = (a.double() - b.double()).abs().max().item()
    assert err <= rel * max(b.abs().max().item(), 1e-12), err


def test_resampling_matches_librosa_load(gold):
    mono = to_model_rate(gold["signal"].float().numpy(), int(gold["rate"]))
    assert mono.dtype == np.float32
    close(torch.from_numpy(mono), gold["mono16k"])


def test_song_features_match_official(gold, encoder):
    """Stereo 22.05 kHz in -> the official bucket (80-frame batches, m=0), in the generate() layout."""
    song = song_audio_features(encoder, gold["signal"].float().numpy(), int(gold["rate"]), dtype=torch.float32)
    hidden = encoder.hidden_states(gold["mono16k"].numpy())
    assert hidden.shape[0] == 25
    close(interpolate_features(hidden), gold["features"])
    assert song.feature_frames == gold["features"].shape[1]
    close(song.window(0, 80), official_layout(gold["bucket_b80_m0"]))


def test_bucketing_is_the_official_bucket(gold):
    feats = gold["features"]
    song = bucket_features(feats, m=0, dtype=torch.float32)
    b80 = gold["bucket_b80_m0"]
    assert torch.equal(song.window(0, 80), official_layout(b80))
    # the official padding: rows past the song are zero, the rest are not
    assert torch.equal(b80.flatten(1).abs().sum(1) > 0, torch.arange(80) < song.frames)
    m1 = bucket_features(feats, m=1, dtype=torch.float32)
    b16 = gold["bucket_b16_m1"]
    assert int(gold["bucket_b16_m1_batches"]) * 16 == b16.shape[0] == 32
    for r in range(2):  # the official per-clip loop: audio_emb[..., 16r : 16r + 16]
        assert torch.equal(m1.window(16 * r, 16), official_layout(b16)[..., 16 * r : 16 * r + 16])


def test_interpolation_then_bucketing_layer_by_layer(encoder, gold):
    hidden = encoder.hidden_states(gold["mono16k"].numpy())
    a = bucket_song(hidden, dtype=torch.float32)
    b = bucket_features(interpolate_features(hidden), dtype=torch.float32)
    assert torch.equal(a.rows, b.rows)


def test_shot_window_equals_official_bucket_of_a_late_start(gold):
    """Song frame 16 (1 s): the window equals the official bucket of the features cut 30 frames in."""
    song = bucket_features(gold["features"], dtype=torch.float32)
    cut = official_layout(gold["bucket_from_s16_b16_m0"])
    assert torch.equal(song.window(16, cut.shape[-1]), cut)


def test_off_second_start_differs_by_at_most_one_feature_frame(gold):
    """Song frame 8: one row in eight takes the neighbouring 30-Hz frame (half-to-even rounding)."""
    feats = gold["features"]
    song = bucket_features(feats, dtype=torch.float32)
    cut = gold["bucket_from_s8_b16_m0"]  # (32, L, D); rows from 15 frames in
    ours = song.window(8, 32)[0].permute(2, 0, 1)
    n_cut = feats.shape[1] - 15
    for j in range(32):
        if not cut[j].any():  # past the end of the cut features
            assert int(np.round(j * 30 / 16)) >= n_cut
            continue
        src = [i for i in range(feats.shape[1]) if torch.equal(feats[:, i], cut[j])]
        global_idx = int(bucket_indices(8 + j, 1)[0])
        assert abs(src[0] - global_idx) <= 1
        assert torch.equal(ours[j], cut[j]) == (src[0] == global_idx)
        assert (src[0] == global_idx) == (j % 8 != 4)


def test_window_pads_outside_the_song_with_zeros(gold):
    song = bucket_features(gold["features"], dtype=torch.float32)
    k = song.frames
    w = song.window(k - 3, 10)
    assert w.shape == (1, 25, 16, 10)
    assert w[..., :3].abs().sum() > 0 and not w[..., 3:].any()
    assert not song.window(k + 100, 5).any()
    lead = song.window(-3, 10)  # before the song: silence
    assert not lead[..., :3].any() and torch.equal(lead[..., 3:], song.window(0, 7))
    with pytest.raises(ValueError):
        song.window(0, -1)


def test_zero_audio_for_the_negative_pass(gold):
    song = bucket_features(gold["features"])
    w = song.window(0, 12, dtype=torch.bfloat16)
    z = zero_audio_like(w)
    assert z.shape == w.shape and z.dtype == torch.bfloat16 and not z.any()
    assert torch.equal(song.zeros(12, dtype=torch.bfloat16), z)


def test_storage_is_float16_and_round_trips(gold, tmp_path):
    song = bucket_features(gold["features"])
    assert song.rows.dtype == torch.float16
    path = tmp_path / "feat.safetensors"
    song.save(path)
    back = SongAudioFeatures.load(path)
    assert torch.equal(back.rows, song.rows) and back.feature_frames == song.feature_frames and back.m == 0
    close(song.window(0, 20), bucket_features(gold["features"], dtype=torch.float32).window(0, 20), rel=1e-3)


def test_index_rule_and_song_length_arithmetic():
    # round half to even: 7.5 -> 8, 22.5 -> 22, 37.5 -> 38
    assert bucket_indices(0, 13).tolist() == [0, 2, 4, 6, 8, 9, 11, 13, 15, 17, 19, 21, 22]
    assert bucket_indices(0, 500).tolist() == [round(k * 30 / 16) for k in range(500)]  # Python rounds half-even too
    for n in range(1, 400):
        assert audible_frames(n) == sum(1 for k in range(n + 1) if round(k * 30 / 16) < n)
    # a 5-minute song: 4 800 000 samples -> 14 999 wav2vec2 frames -> 8 999 30-Hz frames -> 4 800 rows
    assert feature_frames(14999) == 8999
    assert audible_frames(8999) == 4800
    assert 4800 * 25 * 1024 * 2 == 245_760_000  # bytes kept in float16 (README figure)
