"""Lip motion: the singer's mouth opens and closes with the vocal loudness.

``VocalTrack`` measures a vocal-band (200–4000 Hz) loudness envelope of the song, gated by
the analysis' vocal activity (or, without it, by the lyric word spans), so the mouth moves
only where someone sings. ``MouthWarper`` maps the 68 landmarks into each output frame and
applies a local warp in a small window around the mouth: the lower lip and jaw move down,
the upper lip a little up, and the gap between them is painted as a soft dark cavity with a
hint of upper teeth. The warp is monotone (no fold-over) and costs a ~(2 × mouth width)²
remap per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mvdirector.schemas import AudioAnalysis, ReferenceInfo, Shot

from .projection import apply_homography

MOUTH_FRAMINGS = ("extreme_close_up", "close_up", "medium")
ENV_RATE = 100.0  # envelope samples per second
MAX_OPEN = 0.22  # mouth opening at full loudness, as a fraction of the mouth width
CAVITY = np.array([52.0, 20.0, 24.0])


def wants_mouth(shot: Shot, reference: ReferenceInfo) -> bool:
    """Whether this shot shows the singer's mouth closely enough to animate it."""
    face = reference.primary_face
    return shot.framing in MOUTH_FRAMINGS and face is not None and len(face.landmarks) >= 68


def activity_mask(analysis: AudioAnalysis, times: np.ndarray, fade_s: float = 0.05) -> np.ndarray:
    """1 where a voice is active (vocal_activity, else lyric words), 0 elsewhere, with short fades."""
    spans = [(s.start_s, s.end_s) for s in analysis.vocal_activity]
    if not spans:
        spans = [(w.start_s, w.end_s) for line in analysis.lyrics.lines for w in line.words]
    m = np.zeros_like(times, dtype=np.float64)
    for a, b in spans:
        inside = np.clip((times - (a - fade_s)) / fade_s, 0, 1) * np.clip(((b + fade_s) - times) / fade_s, 0, 1)
        m = np.maximum(m, inside)
    return m


@dataclass(frozen=True)
class VocalTrack:
    """A song's gated vocal-band loudness envelope, 0..1 at ``ENV_RATE`` Hz."""

    envelope: np.ndarray

    @classmethod
    def from_song(cls, song_path: Path, analysis: AudioAnalysis, sr: int = 16000) -> VocalTrack:
        """Measure the envelope of ``song_path`` (decoded with ``media.audio.load_audio``)."""
        from scipy.signal import butter, sosfiltfilt

        from mvdirector.media.audio import load_audio

        y, sr = load_audio(song_path, sr=sr, mono=True)
        sos = butter(4, [200.0, 4000.0], btype="bandpass", fs=sr, output="sos")
        band = sosfiltfilt(sos, y.astype(np.float64))
        hop = int(sr / ENV_RATE)
        n = max(1, len(band) // hop)
        frames = band[: n * hop].reshape(n, hop)
        rms = np.sqrt((frames**2).mean(axis=1) + 1e-12)
        # 30 ms smoothing so syllables, not single cycles, drive the mouth.
        rms = np.convolve(rms, np.ones(3) / 3, mode="same")
        db = 20 * np.log10(rms + 1e-9)
        times = (np.arange(n) + 0.5) / ENV_RATE
        gate = activity_mask(analysis, times)
        voiced = db[gate > 0.5]
        ref = np.percentile(voiced if voiced.size > 10 else db, 95)
        loud = np.clip((db - (ref - 24.0)) / 24.0, 0.0, 1.0) ** 1.3
        return cls(envelope=(loud * gate).astype(np.float32))

    def per_frame(self, start_s: float, n_frames: int, fps: float) -> np.ndarray:
        """Loudness 0..1 at each frame of a shot starting at ``start_s``."""
        t = start_s + np.arange(n_frames) / fps
        idx = np.clip(np.round(t * ENV_RATE).astype(int), 0, len(self.envelope) - 1)
        # Average over the frame's duration (a frame shows 1/fps of singing).
        half = max(0, int(ENV_RATE / fps / 2))
        c = np.cumsum(np.concatenate([[0.0], self.envelope]))
        lo = np.clip(idx - half, 0, len(self.envelope))
        hi = np.clip(idx + half + 1, 0, len(self.envelope))
        return ((c[hi] - c[lo]) / np.maximum(1, hi - lo)).astype(np.float32)


class MouthWarper:
    """Opens the mouth of one face by a per-frame amount (landmarks in reference pixels)."""

    def __init__(self, landmarks: np.ndarray, loudness: np.ndarray, min_width_px: float = 14.0) -> None:
        self.mouth = np.asarray(landmarks, dtype=np.float64)[48:68]
        self.loudness = np.asarray(loudness, dtype=np.float64)
        self.min_width_px = min_width_px
        self.applied = 0

    def opening(self, i: int, mouth_width: float) -> float:
        """Opening in output pixels at frame ``i``."""
        return float(self.loudness[min(i, len(self.loudness) - 1)]) * MAX_OPEN * mouth_width

    @staticmethod
    def _fields(rx: np.ndarray, ry: np.ndarray, ux: np.ndarray, down: np.ndarray, mw: float, gap0: float,
                open_px: float) -> tuple[np.ndarray, np.ndarray]:
        """Sampling offset along ``down`` and cavity opacity at offsets (rx, ry) from the inner upper lip."""
        u = (rx * np.float32(ux[0]) + ry * np.float32(ux[1])) / np.float32(0.5 * mw)
        v = rx * np.float32(down[0]) + ry * np.float32(down[1])  # 0 on the inner upper lip, + towards the chin
        w_lip = np.clip(1.0 - u**2, 0.0, 1.0) ** 0.75
        w_jaw = np.clip(1.0 - (u / (1.0 + 0.7 * np.clip(v / mw, 0, 1))) ** 2, 0.0, 1.0) ** 0.7
        up = 0.2 * open_px * w_lip  # the upper lip (and the upper teeth) rise a little
        gap = gap0 * w_lip  # the mouth's own opening keeps its content, moved up with the upper lip
        low = open_px * np.maximum(w_lip, w_jaw * (v > gap + open_px * w_lip))  # lower lip and jaw drop
        fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((v - gap - low) / (0.9 * mw), 0, 1))
        src_v = np.where(
            v < -up,
            v + up * np.clip(1.0 + (v + up) / (0.35 * mw), 0.0, 1.0),
            np.where(v < gap - up, v + up, np.where(v <= gap + low, gap, v - low * fall)),
        )
        # The new opening between the teeth and the dropped lower lip is the dark mouth cavity.
        soft = np.maximum(1.0, 0.3 * (up + low))
        inside = np.clip((v - (gap - up)) / soft, 0, 1) * np.clip(gap + low - v, 0, 1)
        alpha = 0.92 * inside * (w_lip > 0.05)
        return (src_v - v).astype(np.float32), alpha.astype(np.float32)

    def apply(self, frame: np.ndarray, i: int, ref_to_out: np.ndarray) -> np.ndarray:
        """Warp frame ``i`` (RGB or RGBX) in place around the mouth; ``ref_to_out`` maps reference to output."""
        pts = apply_homography(ref_to_out, self.mouth)
        left, right = pts[0], pts[6]
        mw = float(np.linalg.norm(right - left))
        if mw < self.min_width_px:
            return frame
        open_px = self.opening(i, mw)
        if open_px < 0.6:
            return frame
        ux = (right - left) / mw
        down = np.array([-ux[1], ux[0]])
        upper = pts[13:16].mean(axis=0)  # inner upper lip (61-63)
        lower = pts[17:20].mean(axis=0)  # inner lower lip (65-67)
        gap0 = max(0.5, float(np.dot(lower - upper, down)))
        h, w = frame.shape[:2]
        reach = np.array([[-0.9, -0.45], [0.9, -0.45], [0.9, 1.6], [-0.9, 1.6]]) * mw
        corners = upper + reach[:, :1] * ux + reach[:, 1:] * down
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return frame
        # The fields are smooth: evaluate them on a coarser grid for large mouths and upsample.
        step = 1 if mw < 80 else 2
        gy, gx = np.mgrid[y0:y1:step, x0:x1:step].astype(np.float32)
        dv, alpha = self._fields(gx - np.float32(upper[0]), gy - np.float32(upper[1]), ux, down, mw, gap0, open_px)
        size = (x1 - x0, y1 - y0)
        if step > 1:
            dv = cv2.resize(dv, size, interpolation=cv2.INTER_LINEAR)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        map_x = xs + dv * np.float32(down[0])
        map_y = ys + dv * np.float32(down[1])
        warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        rows = np.flatnonzero(alpha.max(axis=1) > 0.004)
        cols = np.flatnonzero(alpha.max(axis=0) > 0.004)
        if rows.size and cols.size:
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            a = alpha[r0:r1, c0:c1, None]
            patch = warped[r0:r1, c0:c1, :3].astype(np.float32) * (1 - a) + CAVITY.astype(np.float32) * a
            warped[r0:r1, c0:c1, :3] = np.clip(patch, 0, 255).astype(np.uint8)
        frame[y0:y1, x0:x1] = warped
        self.applied += 1
        return frame
