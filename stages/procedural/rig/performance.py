"""The singer's performance as a pure function of song time: what the mouth, eyes and head do.

The mouth follows the voice: the inner-lip aperture rises with the vocal level (attack ~35 ms,
release ~90 ms, time-aligned so it neither leads nor lags the sound by more than a frame), its shape
comes from the vocal spectrum's mouth-class posteriors (open / spread / round / closed) nudged by the
letters of the word being sung, lips press together on m, b and p, and between words and in
instrumentals the mouth returns to the photo's own rest. The lyric timings say where words are; the
analysis' vocal activity stands in when there are no lyrics. Blinks and head motion come from
``blink`` and ``head``. Because everything is computed on the song's clock from the song and a seed,
consecutive shots — a cut inside a continued take included — are continuous by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mvdirector.schemas import AudioAnalysis

from .blink import blink_curve, blink_times
from .head import head_motion
from .voice import CLASSES, RATE, VoiceFeatures

A_MIN, A_MAX = 0.12, 0.6  # inner-lip aperture (share of mouth width) of a soft / a loud open vowel
SHAPE_APERTURE = {"open": 1.0, "spread": 0.6, "round": 0.72, "closed": 0.35}
ATTACK_S, RELEASE_S = 0.035, 0.09
PRE_S, POST_S = 0.06, 0.08  # the mouth starts moving before a word and settles after it
BILABIAL_S = 0.07  # lips stay pressed this long at a word's m/b/p
PRIOR_WEIGHT = 0.45  # how much the word's letters pull the spectral lip shape


@dataclass(frozen=True)
class MouthCurves:
    """At ``RATE`` Hz over the song: singing aperture, lip shape, pressed lips and the singing gate."""

    aperture: np.ndarray  # share of mouth width while singing
    spread: np.ndarray  # -1 round .. +1 spread
    press: np.ndarray  # 0..1
    gate: np.ndarray  # 0 rest .. 1 singing

    def at(self, t_s: np.ndarray) -> dict[str, np.ndarray]:
        """Curves linearly interpolated at ``t_s``."""
        x = np.asarray(t_s, dtype=np.float64) * RATE
        k = np.arange(len(self.gate))
        return {name: np.interp(x, k, getattr(self, name)) for name in ("aperture", "spread", "press", "gate")}


def _word_spans(analysis: AudioAnalysis) -> tuple[list[tuple[float, float, str]], bool]:
    """The spans where someone sings — the lyric words, else the vocal activity — and whether they are words."""
    words = [(w.start_s, w.end_s, w.text) for line in analysis.lyrics.lines for w in line.words]
    if words:
        return sorted(words), True
    return [(s.start_s, s.end_s, "") for s in analysis.vocal_activity], False


def _gate(n: int, spans: list[tuple[float, float, str]]) -> np.ndarray:
    t = np.arange(n) / RATE
    g = np.zeros(n)
    for a, b, _ in spans:
        rise = np.clip((t - (a - PRE_S)) / PRE_S, 0.0, 1.0)
        fall = np.clip(((b + POST_S) - t) / POST_S, 0.0, 1.0)
        g = np.maximum(g, np.minimum(rise, fall))
    return g


def _letters_prior(n: int, spans: list[tuple[float, float, str]]) -> tuple[np.ndarray, np.ndarray]:
    """A mouth-class prior (n, 4) from each word's vowels spread over its span, and bilabial presses."""
    prior = np.full((n, len(CLASSES)), 1.0 / len(CLASSES))
    press = np.zeros(n)
    for a, b, text in spans:
        word = re.sub(r"[^a-z]", "", text.lower())
        if not word:
            continue
        i0, i1 = int(a * RATE), max(int(a * RATE) + 1, int(b * RATE))
        nuclei = _vowel_classes(word)
        if nuclei:
            bounds = np.linspace(i0, i1, len(nuclei) + 1).astype(int)
            for cls, lo, hi in zip(nuclei, bounds[:-1], bounds[1:], strict=True):
                p = np.full(len(CLASSES), 0.1)
                p[CLASSES.index(cls)] = 0.7
                prior[max(0, lo):min(n, hi)] = p
        k = int(BILABIAL_S * RATE)
        if word[0] in "mbp":
            press[max(0, i0 - 2):min(n, i0 + k)] = 1.0
        if word[-1] in "mbp" or word.endswith(("mb", "mp")):
            press[max(0, i1 - k):min(n, i1)] = 1.0
        elif word[-1] in "fv":
            press[max(0, i1 - k):min(n, i1)] = 0.6
    return prior, press


_NUCLEI = [("igh", "open"), ("ire", "open"), ("ear", "open"), ("ar", "open"), ("oo", "round"), ("ou", "round"),
           ("ow", "open"), ("ew", "round"), ("ee", "spread"), ("ea", "spread"), ("ai", "spread"), ("ay", "spread"),
           ("ey", "spread"), ("oa", "round"),
           ("a", "open"), ("e", "spread"), ("i", "spread"), ("y", "spread"), ("o", "round"), ("u", "open")]


def _vowel_classes(word: str) -> list[str]:
    """Mouth classes of a word's vowel groups in order (a rough English grapheme reading)."""
    out: list[str] = []
    i = 0
    if word.startswith("w"):
        out.append("round")
    while i < len(word):
        for g, cls in _NUCLEI:
            if word.startswith(g, i):
                if not (g == "e" and i == len(word) - 1 and len(word) > 3):  # silent final e
                    if not (g == "y" and i == 0):
                        out.append(cls)
                i += len(g)
                break
        else:
            i += 1
    return out


def _attack_release(x: np.ndarray, attack_s: float, release_s: float) -> np.ndarray:
    """One-pole follower, fast up and slow down, shifted earlier by its own attack delay (no lag)."""
    a_up = 1.0 - np.exp(-1.0 / (attack_s * RATE))
    a_dn = 1.0 - np.exp(-1.0 / (release_s * RATE))
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x):
        acc += (a_up if v > acc else a_dn) * (v - acc)
        y[i] = acc
    lead = int(round(attack_s * RATE))
    return np.concatenate([y[lead:], np.repeat(y[-1:], lead)]) if lead else y


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    k = max(1, int(round(seconds * RATE)))
    if k <= 1:
        return x
    w = np.hanning(k + 2)[1:-1]
    w /= w.sum()
    pad = np.pad(x, [(k, k)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    if x.ndim == 1:
        return np.convolve(pad, w, mode="same")[k:-k]
    return np.stack([np.convolve(pad[:, c], w, mode="same")[k:-k] for c in range(x.shape[1])], axis=1)


def mouth_curves(analysis: AudioAnalysis, voice: VoiceFeatures | None) -> MouthCurves:
    """The singing mouth over the whole song."""
    n = int(np.ceil(analysis.source.duration_s * RATE)) + 2
    spans, are_words = _word_spans(analysis)
    gate = _gate(n, spans)
    prior, press = _letters_prior(n, spans)
    if voice is not None and len(voice.level_db):
        lvl = np.interp(np.arange(n), np.arange(len(voice.level_db)) + 0.5, voice.level_db)
        post = np.stack([np.interp(np.arange(n), np.arange(len(voice.level_db)) + 0.5, voice.posteriors[:, c])
                         for c in range(len(CLASSES))], axis=1)
        sung = lvl[gate > 0.5]
        ref = float(np.percentile(sung, 95)) if sung.size > 20 else float(np.percentile(lvl, 95))
        absolute = np.clip((lvl - (ref - 30.0)) / 30.0, 0.0, 1.0)
        # Syllables inside a loud mix: the level above its own recent floor.
        floor = _running_min(lvl, int(0.25 * RATE))
        relative = np.clip((lvl - floor) / 18.0, 0.0, 1.0)
        loud = 0.45 * absolute + 0.55 * relative
        if not are_words:  # without word timings, silence inside a vocal passage is a rest too
            gate = gate * _smooth(np.clip((lvl - (ref - 36.0)) / 12.0, 0.0, 1.0), 0.06)
    else:
        loud = np.full(n, 0.6)
        post = np.full((n, len(CLASSES)), 1.0 / len(CLASSES))
    post = _smooth(post, 0.05) ** (1.0 - PRIOR_WEIGHT) * prior**PRIOR_WEIGHT
    post /= post.sum(axis=1, keepdims=True)
    scale = post @ np.array([SHAPE_APERTURE[c] for c in CLASSES])
    # A confident closed class (a nasal murmur) presses the lips; in a dense mix it rarely is.
    press = np.maximum(press, (_smooth(post[:, CLASSES.index("closed")], 0.03) - 0.6) / 0.4).clip(0.0, 1.0)
    aperture = (A_MIN + (A_MAX - A_MIN) * loud) * scale * gate
    aperture = _attack_release(aperture, ATTACK_S, RELEASE_S)
    spread = _smooth(post[:, CLASSES.index("spread")] - post[:, CLASSES.index("round")], 0.06) * gate
    press = _attack_release(press * gate, 0.02, 0.05)
    return MouthCurves(aperture=aperture.astype(np.float32), spread=spread.astype(np.float32),
                       press=press.astype(np.float32), gate=_smooth(gate, 0.04).astype(np.float32))


def _running_min(x: np.ndarray, half: int) -> np.ndarray:
    from scipy.ndimage import minimum_filter1d

    return minimum_filter1d(x, size=2 * half + 1, mode="nearest")


@dataclass(frozen=True)
class Performance:
    """Everything the face does over a song; ``states`` samples it at any times."""

    analysis: AudioAnalysis
    mouth: MouthCurves
    blinks: np.ndarray
    seed: int

    @classmethod
    def of(cls, analysis: AudioAnalysis, voice: VoiceFeatures | None, seed: int) -> Performance:
        """Build the song's performance (the mouth from the voice, blinks and head from the seed)."""
        ends = [line.end_s for line in analysis.lyrics.lines]
        blinks = blink_times(analysis.source.duration_s + 1.0, seed, ends)
        return cls(analysis=analysis, mouth=mouth_curves(analysis, voice), blinks=blinks, seed=seed)

    def states(self, times_s: np.ndarray) -> dict[str, np.ndarray]:
        """Per time: aperture (share of mouth width, -1 = the photo's rest), spread, press, blink, roll,
        pitch, yaw (degrees) and breath."""
        m = self.mouth.at(times_s)
        out = {"aperture_sing": m["aperture"], "gate": m["gate"], "spread": m["spread"], "press": m["press"]}
        out["blink"] = blink_curve(times_s, self.blinks)
        out.update(head_motion(self.analysis, times_s, self.seed))
        return out
