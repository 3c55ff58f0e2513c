"""The render stage's registry and the pieces every backend shares (camera path, framing)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import flat_analysis, make_plan

from mvdirector.errors import InputError
from mvdirector.schemas import Camera, CameraKeyframe, ReferenceInfo
from stages.render import RENDERERS, ShotJob, make_renderer, renderer_spec
from stages.render.camera_path import camera_keyframes, camera_track


def test_each_backend_declares_what_it_needs():
    proc, dit = RENDERERS["procedural"], RENDERERS["dit"]
    assert (proc.gpu, proc.weights, proc.generative, proc.size_multiple) == (False, False, False, 2)
    assert (dit.gpu, dit.weights, dit.generative, dit.size_multiple) == (True, True, True, 16)
    assert type(proc.parse_options({"crf": "20", "captions": "false"})).__name__ == "ProceduralOptions"
    opts = proc.parse_options({"crf": "20", "captions": "false"})
    assert (opts.crf, opts.captions) == (20, False)
    assert dit.parse_options({"steps": "4"}).steps == 4
    with pytest.raises(InputError, match="'stepz' is not an option of the procedural renderer"):
        proc.parse_options({"stepz": 3})
    with pytest.raises(InputError, match="cannot change per shot"):
        dit.parse_options({"weights": "/w"}, base=dit.parse_options({}))
    dit.check_size(832, 480)
    with pytest.raises(InputError, match="832x478 is not a multiple of 16") as e:
        dit.check_size(832, 478)
    assert e.value.hint == "use e.g. --size 832x464"


def test_unknown_backends_are_named_with_the_choices():
    with pytest.raises(InputError, match="unknown renderer 'hologram'") as e:
        renderer_spec("hologram")
    assert e.value.hint == "use one of procedural, dit, s2v"
    with pytest.raises(InputError, match="unknown renderer"):
        make_renderer("hologram")
    assert make_renderer("procedural", grain=0.5).options.grain == 0.5


def test_a_job_gives_the_job_of_another_shot(tmp_path):
    plan = make_plan()
    ref = ReferenceInfo(path="r.png", sha256="1" * 64, width=64, height=64)
    job = ShotJob(plan, plan.shots[0], flat_analysis(6.0), ref, tmp_path / "r.png", tmp_path / "s.wav",
                  vocals_path=tmp_path / "v.wav")
    other = job.for_shot("verse1-03", tmp_path / "prev.mp4")
    assert (other.shot.id, other.previous_clip) == ("verse1-03", tmp_path / "prev.mp4")
    assert other.vocals_path == job.vocals_path
    assert other.n_frames == 48 and job.previous_clip is None


def test_camera_path_follows_keyframes_or_expands_the_move():
    plan = make_plan(camera=Camera(move="push_in", intensity=1.0))
    track = camera_track(plan.shots[0], 48)
    assert len(track) == 48 and track.position[-1, 2] > track.position[0, 2]  # moving toward the subject
    kfs = [CameraKeyframe(t=0.0), CameraKeyframe(t=1.0, position=(0.2, 0.0, 0.0))]
    shot = plan.shots[0].model_copy(update={"camera": Camera(move="static", keyframes=kfs)})
    assert [k.position for k in camera_keyframes(shot)] == [(0.0, 0.0, 0.0), (0.2, 0.0, 0.0)]
    x = camera_track(shot, 10).position[:, 0]
    assert x[0] == pytest.approx(0.0) and x[-1] == pytest.approx(0.2) and np.all(np.diff(x) >= 0)
