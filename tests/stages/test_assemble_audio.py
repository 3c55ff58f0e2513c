"""The song's sound track, encoded early at low priority and collected by the assembler."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import synth_song

from mvdirector.media.video import ffmpeg_exe
from stages.assemble import audio


@pytest.fixture()
def song(tmp_path):
    return synth_song(tmp_path / "song.wav", seconds=3.0)


def _decoded(path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-"], check=True,
                          capture_output=True).stdout


def test_an_early_encode_lands_in_the_cache_once(song, tmp_path):
    cache = tmp_path / "audio"
    dst = audio.prefetch(song, ".mp4", "auto", cache)
    assert dst is not None and dst.parent == cache and audio.pending(dst)
    assert audio.prefetch(song, ".mp4", "auto", cache) == dst  # under way: not started twice
    assert audio.collect(dst) and dst.is_file() and not audio.pending(dst)
    assert [p.name for p in cache.iterdir()] == [dst.name]  # no temporary left beside it
    assert dst.name.startswith("song-") and dst.suffix == ".m4a"
    assert len(_decoded(dst)) > 0
    # Cached now: nothing starts, and collecting what is cached says so.
    assert audio.prefetch(song, ".mp4", "auto", cache) is None
    assert audio.collect(dst)


def test_nothing_is_encoded_when_the_stream_is_copied(song, tmp_path):
    # A wav song goes into an .mp4 as AAC, but into a .mkv its PCM is copied as it is.
    assert audio.prefetch(song, ".mkv", "auto", tmp_path / "audio") is None
    assert not (tmp_path / "audio").exists()


def test_an_encode_nobody_collects_is_stopped_and_leaves_nothing(song, tmp_path):
    cache = tmp_path / "audio"
    dst = audio.prefetch(song, ".mp4", "auto", cache)
    job = audio._PENDING[dst]
    audio.cancel_all()
    assert job.proc.poll() is not None
    assert not audio.pending(dst) and not dst.exists() and list(cache.iterdir()) == []
    assert not audio.collect(dst)


def test_a_failed_early_encode_is_reported_as_not_cached(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + os.urandom(64))
    cache = tmp_path / "audio"
    cache.mkdir()
    dst = cache / "song-x.m4a"
    tmp = cache / ".song-x.tmp1.m4a"
    proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-y", "-i", str(bad), str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with audio._LOCK:
        audio._PENDING[dst] = audio._Encode(proc, tmp)
    assert not audio.collect(dst)  # the assembler then encodes the track itself
    assert not dst.exists() and not tmp.exists()


def test_a_run_the_analysis_refuses_stops_its_early_encode_before_removing_the_work_directory(
    tmp_path, portrait, monkeypatch
):
    import numpy as np
    import soundfile as sf

    from mvdirector.errors import InputError
    from mvdirector.pipeline import render
    from mvdirector.request import RenderRequest

    song = tmp_path / "silent.wav"
    sf.write(song, np.zeros(8 * 22050, np.float32), 22050)  # passes the pre-flight, the analysis refuses it
    wd = tmp_path / "run.mvd"
    started = []
    real = audio.prefetch

    def spy(*a, **k):
        started.append(real(*a, **k))
        return started[-1]

    monkeypatch.setattr(audio, "prefetch", spy)
    with pytest.raises(InputError, match="silent"):
        render(RenderRequest(song=song, reference=portrait, out=tmp_path / "v.mp4", workdir=wd, width=256,
                             height=144, fps=12.0, asr="none"))
    assert started and started[0] is not None  # the encode had started
    assert not audio.pending(started[0]) and not wd.exists() and not (tmp_path / "v.mp4").exists()


def test_a_run_that_fails_after_the_analysis_stops_its_early_encode_too(tmp_path, portrait, click_song, monkeypatch):
    from mvdirector import steps
    from mvdirector.pipeline import render
    from mvdirector.request import RenderRequest

    started = []
    real = audio.prefetch

    def spy(*a, **k):
        started.append(real(*a, **k))
        return started[-1]

    def broken(*a, **k):
        raise RuntimeError("the renderer broke")

    monkeypatch.setattr(audio, "prefetch", spy)
    monkeypatch.setattr(steps, "shots", broken)
    with pytest.raises(RuntimeError, match="broke"):
        render(RenderRequest(song=click_song, reference=portrait, out=tmp_path / "v.mp4", workdir=tmp_path / "w.mvd",
                             width=256, height=144, fps=12.0, asr="none"))
    assert started and started[0] is not None and not audio.pending(started[0])
    assert not list((tmp_path / "w.mvd" / "audio").glob(".*"))  # no temporary left


def test_a_run_stops_only_its_own_encode(song, tmp_path):
    """Jobs of a batch may run in threads of one process: one job's failure leaves the others' encodes alone."""
    other = synth_song(tmp_path / "other.wav", seconds=2.0)
    mine, theirs = audio.EarlyTrack(), audio.EarlyTrack()
    mine.start(song, ".mp4", "auto", tmp_path / "a")
    theirs.start(other, ".mp4", "auto", tmp_path / "b")
    with pytest.raises(KeyboardInterrupt), mine.stopped_on_error():
        raise KeyboardInterrupt
    assert not audio.pending(mine.dst) and list((tmp_path / "a").iterdir()) == []
    assert audio.pending(theirs.dst) and audio.collect(theirs.dst) and theirs.dst.is_file()


def test_an_interrupt_while_waiting_for_the_encode_stops_it(song, tmp_path, monkeypatch):
    dst = audio.prefetch(song, ".mp4", "auto", tmp_path / "audio")
    job = audio._PENDING[dst]

    real = job.proc.communicate
    calls = []

    def interrupted(*a, **k):  # Ctrl-C lands during the first wait; the clean-up's wait is a real one
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(job.proc, "communicate", interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):
        audio.collect(dst)
    assert len(calls) == 2 and job.proc.returncode is not None  # stopped and reaped, not left running
    assert list((tmp_path / "audio").iterdir()) == []
