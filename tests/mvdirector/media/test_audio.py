"""load_audio: formats, rates, channel layouts, streaming resampling and clear errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from mvdirector.errors import InputError
from mvdirector.media import audio as audio_mod
from mvdirector.media.audio import audio_info, load_audio, stream_audio
from mvdirector.media.video import ffmpeg_exe


def _tone(sr: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_stereo_48k_to_mono_22k_matches_whole_file_resampling(tmp_path: Path) -> None:
    sr = 48000
    left, right = _tone(sr, 5.0, 440), _tone(sr, 5.0, 660)  # 240 000 frames: several blocks
    path = tmp_path / "s.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    y, rate = load_audio(path, sr=22050)
    ref = soxr.resample((left + right) / 2, sr, 22050)
    assert rate == 22050 and y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - len(ref)) <= 2
    n = min(len(y), len(ref))
    assert np.max(np.abs(y[:n] - ref[:n])) < 1e-3
    both, rate = load_audio(path, mono=False)
    assert rate == sr and both.shape == (2, len(left))
    assert np.allclose(both[1], right, atol=1e-6)


def test_5_1_downmix_drops_lfe_and_weights_surrounds(tmp_path: Path) -> None:
    sr = 16000
    x = np.zeros((sr * 4, 6), np.float32)
    x[:, 3] = _tone(sr, 4.0, 50)  # LFE only
    path = tmp_path / "lfe.wav"
    sf.write(path, x, sr)
    y, _ = load_audio(path)
    assert np.abs(y).max() < 1e-6
    x[:, 2] = _tone(sr, 4.0)  # centre
    sf.write(path, x, sr)
    y, _ = load_audio(path)
    assert 0.05 < np.abs(y).max() < 0.5
    assert audio_info(path).channels == 6


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_flac_and_ogg_via_soundfile(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"a.{fmt}"
    sf.write(path, _tone(44100, 3.5), 44100, format=fmt.upper())
    y, rate = load_audio(path, sr=16000)
    assert rate == 16000 and abs(len(y) - 3.5 * 16000) < 200
    assert 0.3 < np.abs(y).max() < 0.6


@pytest.mark.parametrize("ext,codec", [("mp3", "libmp3lame"), ("m4a", "aac")])
def test_mp3_and_m4a_decode(tmp_path: Path, ext: str, codec: str) -> None:
    wav = tmp_path / "a.wav"
    sf.write(wav, np.stack([_tone(32000, 4.0), _tone(32000, 4.0)], axis=1), 32000)
    out = tmp_path / f"a.{ext}"
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-c:a", codec, str(out)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"bundled ffmpeg cannot encode {codec}")
    y, rate = load_audio(out, sr=22050)
    assert rate == 22050 and 3.9 < len(y) / rate < 4.2
    assert 0.3 < np.abs(y).max() < 0.7
    info = audio_info(out)
    assert info.channels == 2 and 3.9 < info.duration_s < 4.2


def test_ffmpeg_path_streams_the_same_samples(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    y0 = _tone(44100, 3.2)
    sf.write(path, y0, 44100, subtype="FLOAT")
    sink = audio_mod._decode_ffmpeg(path, 22050, True)
    y, rate = sink.result(), sink.sr
    ref = soxr.resample(y0, 44100, 22050)
    n = min(len(y), len(ref))
    assert rate == 22050 and abs(len(y) - len(ref)) <= 2 and np.max(np.abs(y[:n] - ref[:n])) < 1e-3


def test_bad_files_raise_one_clear_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        load_audio(empty)
    with pytest.raises(InputError, match="directory"):
        load_audio(tmp_path)
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    with pytest.raises(InputError, match="junk.m4a"):
        load_audio(junk)
    header_only = tmp_path / "h.wav"
    sf.write(header_only, np.zeros((0,), np.float32), 8000)
    with pytest.raises(InputError):
        load_audio(header_only)


def test_stream_audio_yields_what_load_audio_returns(tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, np.stack([_tone(44100, 6.0, 330), _tone(44100, 6.0, 550)], axis=1), 44100)
    blocks: list[np.ndarray] = []
    rate, n = stream_audio(path, blocks.append, sr=22050)
    whole, rate2 = load_audio(path, sr=22050)
    assert rate == rate2 == 22050 and n == len(whole) and len(blocks) > 2
    assert np.array_equal(np.concatenate(blocks), whole)


def test_damaged_mp3_decodes_without_a_word_on_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """libmpg123 (inside libsndfile) prints warnings on fd 2; an mp3 with junk inside must decode silently."""
    wav, mp3 = tmp_path / "t.wav", tmp_path / "t.mp3"
    sf.write(wav, _tone(44100, 6.0), 44100)
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3)]
    subprocess.run(cmd, check=True, capture_output=True)
    data = mp3.read_bytes()
    rng = np.random.default_rng(0)
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(data[:20000] + rng.bytes(3000) + data[20000:] + bytes(2000))
    with sf.SoundFile(str(damaged)) as f:  # the reference: libsndfile itself is loud about this file
        capfd.readouterr()
        try:
            f.read()
        except sf.LibsndfileError:
            pass
    assert capfd.readouterr().err.strip(), "the damaged file no longer makes libsndfile complain; damage it more"
    info = audio_info(damaged)
    y, rate = load_audio(damaged, sr=22050)
    out = capfd.readouterr()
    assert out.err == "" and out.out == ""
    assert rate == 22050 and abs(len(y) / rate - 6.0) < 0.3 and abs(info.duration_s - 6.0) < 0.3
    with audio_mod.quiet_c_stderr("test"):  # fd-level output inside the guard goes to the log, not the terminal
        import os

        os.write(2, b"Note: Illegal Audio-MPEG-Header\n")
    assert capfd.readouterr().err == ""
