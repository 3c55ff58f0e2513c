"""Wan2.2-S2V audio features of a whole song, on the model's 16-fps clock, sliced per shot.

What the official ``wan/modules/s2v/audio_encoder.py`` does, and what we do with it:

1. ``librosa.load(sr=16000)``: channel mean, soxr-HQ resampling — :func:`to_model_rate`.
2. ``Wav2Vec2Processor`` (zero-mean/unit-variance over the WHOLE signal) and ``Wav2Vec2ForCTC``
   with ``output_hidden_states``; all 25 hidden states kept, ``torch.cat`` -> (L, T, D) at
   50 Hz — :meth:`Wav2Vec2Encoder.hidden_states`. Run once over the whole song.
3. ``linear_interpolation``: 50 Hz -> 30 Hz, ``N = int(T / 50 * 30)`` frames, linear with
   ``align_corners=True`` over the whole sequence — :func:`interpolate_features`.
4. ``get_audio_embed_bucket_fps(fps=16, m=0)``: model frame ``k`` takes 30-Hz frame
   ``idx_k = round_half_even(k * 30 / 16)`` (``get_sample_indices`` with ``fixed_start=0``) and
   its ``2m+1`` neighbours at stride 1 clamped to ``[0, N-1]``; a frame with ``idx_k >= N`` is
   all zeros — :func:`bucket_indices`, :func:`song_audio_features`.
5. ``generate()`` feeds clip ``r`` the columns ``[80r, 80r+80)`` of that one bucket, as
   (1, L, D, frames); the negative pass gets ``0.0 * audio`` — :meth:`SongAudioFeatures.window`,
   :func:`zero_audio_like`.

Shots are windows of the same global bucket: a window starting at song frame ``s`` (16-fps
clock) holds columns ``s .. s+n-1`` of it — for ``s = 80r`` exactly the official clip ``r``
input, bit for bit — so the mouth follows the song's own clock across every cut. Columns
before the song's start or after its end are zero, as in the official bucket's padding.
Re-running the official code on the audio cut at the shot's start would NOT give the same
numbers (wav2vec2 sees less context, the normalisation and the ``align_corners`` grid
change). On the bucketing itself, the window equals the official bucket of the 30-Hz features
cut ``15s/8`` frames in exactly when ``s`` is a multiple of 16 (one second; ``m = 0``); for
other ``s`` one row in eight may take the neighbouring 30-Hz frame (33 ms; round-half-to-even
is not shift-invariant), ours being the one nearest the row's true song time.

Memory: a 5-minute song is T = 15 000 wav2vec2 frames; its 25 x 1024 hidden states are 1.5 GB
in float32 while they exist (on the encoder's device); what is kept is 4 800 model frames
x 25 x 1024 in float16 = 246 MB (0.82 MB per second of song), built one layer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SAMPLE_RATE = 16_000  # wav2vec2 input rate
WAV2VEC_HZ = 50  # wav2vec2 frames per second (320-sample hop)
FEATURE_HZ = 30  # official AudioEncoder.video_rate
MODEL_FPS = 16  # official sample_fps: frames the S2V model generates per second
SAMPLE_M = 0  # official WanS2V.audio_sample_m
STRIDE = FEATURE_HZ // MODEL_FPS  # official audio_sample_stride = int(video_rate / fps)


def to_model_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz, as ``librosa.load(path, sr=16000)``: channel mean, then soxr-HQ resampling.

    ``samples`` is (n,) or (channels, n) float audio at ``sample_rate``.
    """
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim > 1:
        y = librosa.to_mono(y)
    if sample_rate != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


class Wav2Vec2Encoder:
    """The release's ``wav2vec2-large-xlsr-53-english`` folder: feature extractor + ``Wav2Vec2ForCTC``."""

    def __init__(self, feature_extractor, model) -> None:
        self.feature_extractor = feature_extractor
        self.model = model

    @classmethod
    def from_pretrained(
        cls, folder: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> Wav2Vec2Encoder:
        """Load from a local folder (nothing is downloaded); ModelError if it cannot be read."""
        from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC
        from transformers.utils import logging as hf_logging

        from mvdirector.errors import ModelError

        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in the middle of the run's own progress
        try:
            fe = Wav2Vec2FeatureExtractor.from_pretrained(str(folder), local_files_only=True)
            model = Wav2Vec2ForCTC.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load wav2vec2 from {folder}: {e}") from e
        finally:
            if shown:
                hf_logging.enable_progress_bar()
        return cls(fe, model.to(device).eval().requires_grad_(False))

    @torch.no_grad()
    def hidden_states(self, audio: np.ndarray) -> torch.Tensor:
        """All hidden states (L, T, D) float32, on the model's device, of 16-kHz mono audio."""
        values = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values
        out = self.model(values.to(self.model.device, self.model.dtype), output_hidden_states=True)
        return torch.cat(out.hidden_states).float()


def feature_frames(wav2vec_frames: int) -> int:
    """30-Hz frames of a song with ``wav2vec_frames`` 50-Hz frames (the official float expression)."""
    return int(wav2vec_frames / float(WAV2VEC_HZ) * FEATURE_HZ)


def interpolate_features(hidden: torch.Tensor) -> torch.Tensor:
    """(L, T, D) at 50 Hz -> (L, N, D) at 30 Hz: linear, corners aligned over the whole sequence."""
    n = feature_frames(hidden.shape[1])
    return F.interpolate(hidden.transpose(1, 2), size=n, mode="linear", align_corners=True).transpose(1, 2)


def bucket_indices(start: int, count: int) -> np.ndarray:
    """30-Hz frame index of model frames ``start .. start+count-1``: ``round_half_even(k * 30 / 16)``.

    ``k * 30 / 16`` is exact in float64, and ``np.round`` rounds halves to even, like the
    official ``get_sample_indices``.
    """
    k = np.arange(start, start + count, dtype=np.int64)
    return np.round(k * FEATURE_HZ / MODEL_FPS).astype(np.int64)


def audible_frames(n_feature: int) -> int:
    """Model frames whose 30-Hz index falls inside a song of ``n_feature`` 30-Hz frames (the rest are zero)."""
    k = int(np.ceil(n_feature * MODEL_FPS / FEATURE_HZ)) + 1
    return int(np.searchsorted(bucket_indices(0, k), n_feature))


def _rows(layer: torch.Tensor, idx: np.ndarray, m: int) -> torch.Tensor:
    """(K, (2m+1)·D) rows of one layer's (N, D) features at the model frames' indices ``idx``."""
    n = layer.shape[0]
    chosen = np.clip(idx[:, None] + np.arange(-m, m + 1)[None, :] * STRIDE, 0, n - 1)
    pick = torch.from_numpy(chosen.reshape(-1)).to(layer.device)
    return layer.index_select(0, pick).reshape(len(idx), -1)


@dataclass(frozen=True)
class SongAudioFeatures:
    """A song's bucketed audio features: row ``k`` = model frame ``k`` (16 fps) of the whole song.

    ``rows`` is (K, L, (2m+1)·D) on the CPU; frames from ``K`` on are silent (zero), as in the
    official bucket's padding.
    """

    rows: torch.Tensor
    feature_frames: int  # N: 30-Hz frames of the song
    m: int = SAMPLE_M

    @property
    def frames(self) -> int:
        """K: the song's model frames that carry audio."""
        return int(self.rows.shape[0])

    @property
    def layers(self) -> int:
        return int(self.rows.shape[1])

    @property
    def width(self) -> int:
        return int(self.rows.shape[2])

    def window(
        self,
        start_frame: int,
        num_frames: int,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ) -> torch.Tensor:
        """The model's audio input (1, L, (2m+1)·D, num_frames) for song frames ``start_frame ..`` (16 fps).

        Frames before the song (a negative start, e.g. the first clip's 3-frame lead) and after
        its end are zero.
        """
        if num_frames < 0:
            raise ValueError(f"audio window length {num_frames} must not be negative")
        out = torch.zeros(num_frames, self.layers, self.width, dtype=dtype, device=device)
        lo, hi = max(start_frame, 0), min(start_frame + num_frames, self.frames)
        if hi > lo:
            out[lo - start_frame : hi - start_frame] = self.rows[lo:hi].to(device=device, dtype=dtype)
        return out.permute(1, 2, 0).unsqueeze(0)

    def zeros(
        self, num_frames: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """Zeroed audio input (1, L, (2m+1)·D, num_frames): the negative (unconditional) pass."""
        return torch.zeros(1, self.layers, self.width, num_frames, dtype=dtype, device=device)

    def save(self, path: Path) -> None:
        """Write to a safetensors file (the caller renames it into place)."""
        from safetensors.torch import save_file

        meta = {"feature_frames": str(self.feature_frames), "m": str(self.m)}
        save_file({"rows": self.rows.contiguous()}, str(path), metadata=meta)

    @classmethod
    def load(cls, path: Path) -> SongAudioFeatures:
        """Read a file written by :meth:`save` (memory-mapped)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            rows = f.get_tensor("rows")
        return cls(rows, int(meta["feature_frames"]), int(meta["m"]))


def zero_audio_like(audio: torch.Tensor) -> torch.Tensor:
    """The official negative-pass audio ``0.0 * audio`` (zeros of the same shape, dtype and device)."""
    return torch.zeros_like(audio)


def _bucket(layers, n_layers: int, n: int, m: int, dtype: torch.dtype) -> SongAudioFeatures:
    idx = bucket_indices(0, audible_frames(n))
    rows = None
    for i, layer in enumerate(layers):
        r = _rows(layer, idx, m)
        if rows is None:
            rows = torch.empty(len(idx), n_layers, r.shape[1], dtype=dtype)
        rows[:, i] = r.to("cpu", dtype)
    return SongAudioFeatures(rows, n, m)


def bucket_features(features: torch.Tensor, m: int = SAMPLE_M, dtype: torch.dtype = torch.float16) -> SongAudioFeatures:
    """Bucket (L, N, D) 30-Hz features of a whole song on the 16-fps clock."""
    return _bucket(iter(features), features.shape[0], features.shape[1], m, dtype)


def bucket_song(hidden: torch.Tensor, m: int = SAMPLE_M, dtype: torch.dtype = torch.float16) -> SongAudioFeatures:
    """Interpolate (L, T, D) 50-Hz hidden states to 30 Hz and bucket them, one layer at a time."""
    n = feature_frames(hidden.shape[1])
    if n < 1:
        raise ValueError(f"{hidden.shape[1]} wav2vec2 frames are too few for one 30-Hz frame")
    layers = (interpolate_features(hidden[i : i + 1])[0] for i in range(hidden.shape[0]))
    return _bucket(layers, hidden.shape[0], n, m, dtype)


def song_audio_features(
    encoder: Wav2Vec2Encoder,
    samples: np.ndarray,
    sample_rate: int,
    m: int = SAMPLE_M,
    dtype: torch.dtype = torch.float16,
) -> SongAudioFeatures:
    """wav2vec2 over the whole song once, then :func:`bucket_song`. ``samples``: (n,) or (channels, n)."""
    hidden = encoder.hidden_states(to_model_rate(samples, sample_rate))
    return bucket_song(hidden, m=m, dtype=dtype)
