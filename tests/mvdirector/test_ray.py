"""The Ray executor on a local Ray instance (``ray.init(num_cpus=2)``): two short songs, shots as tasks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from mvdirector.batch import BatchProgress, run_batch  # noqa: E402
from mvdirector.manifest import BatchJob  # noqa: E402
from mvdirector.media.video import probe_video  # noqa: E402
from mvdirector.pipeline import render  # noqa: E402
from mvdirector.request import RenderRequest  # noqa: E402

W, H, FPS = 160, 90, 12.0


def test_an_unreachable_head_fails_fast_with_one_line():
    from mvdirector.errors import InputError
    from mvdirector.executors import RayExecutor

    if ray.is_initialized():
        pytest.skip("Ray is already running in this process")
    with pytest.raises(InputError, match="no Ray head answers at '127.0.0.1:1'"):
        RayExecutor(address="127.0.0.1:1")
    with pytest.raises(InputError, match="is not auto, HOST:PORT"):
        RayExecutor(address="somewhere")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def songs(tmp_path_factory, click_song, portrait):
    import soundfile as sf

    d = tmp_path_factory.mktemp("ray")
    shutil.copy(click_song, d / "a.wav")
    y, sr = sf.read(click_song)
    sf.write(d / "b.wav", (0.7 * y).astype(np.float32), sr)  # a second, different song
    shutil.copy(portrait, d / "singer.png")
    return d


def _job(d, i: int, song: str, out: str) -> BatchJob:
    req = RenderRequest(
        song=d / song,
        reference=d / "singer.png",
        out=d / out,
        workdir=(d / out).with_suffix(".mvd"),
        width=W,
        height=H,
        fps=FPS,
        asr="none",
    )
    return BatchJob(i, song, req)


def _clips(wd) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in sorted((wd / "shots").glob("*.mp4")) if not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def ray_batch(local_ray, songs):
    jobs = [_job(songs, 0, "a.wav", "a/video.mp4"), _job(songs, 1, "b.wav", "b/video.mp4")]
    progress = BatchProgress(jobs)
    return jobs, run_batch(jobs, executor="ray", on_event=progress.handle), progress


@pytest.mark.slow
def test_ray_batch_renders_both_songs_and_the_cache_agrees(ray_batch):
    jobs, results, progress = ray_batch
    assert [r.ok for r in results] == [True, True], [r.error for r in results]
    assert all(r.rendered >= 2 and r.cached == 0 for r in results)
    assert ray.is_initialized()  # an instance we did not start is left running
    for j in jobs:
        info = probe_video(j.request.resolved_out())
        assert (info.width, info.height, info.frames) == (W, H, round(8.0 * FPS)) and info.has_audio
    assert [r.stage for r in progress.rows.values()] == ["done", "done"]
    # the clips Ray wrote are exactly the clips a local run expects: nothing to do in-process
    seen: list[tuple[str, bool]] = []
    report = render(jobs[0].request, on_shot=lambda s, c: seen.append((s, c)))
    assert report.rendered == 0 and seen and all(c for _, c in seen)


@pytest.mark.slow
def test_object_transfer_gives_the_same_clips_as_the_shared_work_directory(ray_batch, songs):
    from mvdirector.executors import RayExecutor

    jobs, _, _ = ray_batch
    obj = _job(songs, 0, "a.wav", "object/video.mp4")
    shutil.copytree(jobs[0].request.resolved_workdir(), obj.request.resolved_workdir())
    shutil.rmtree(obj.request.resolved_workdir() / "shots")  # keep the analysis and plan, drop the clips
    report = render(obj.request, executor=RayExecutor(transfer="object"))
    assert report.rendered >= 2 and report.stage_s["analyze"] < 1.0
    a, b = _clips(jobs[0].request.resolved_workdir()), _clips(obj.request.resolved_workdir())
    assert a and a == b
