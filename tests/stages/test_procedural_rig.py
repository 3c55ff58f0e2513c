"""The face rig's parts: mesh, pose, blinks, performance on the song's clock, voice features."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mvdirector.schemas import (
    AudioAnalysis,
    AudioSource,
    Beat,
    EnergyCurve,
    Face,
    LyricLine,
    Lyrics,
    Section,
    Word,
)
from stages.procedural import rig as rig_mod
from stages.procedural.rig import rig_setup, voice
from stages.procedural.rig.blink import DOUBLE_GAP_S, REFRACTORY_S, blink_curve, blink_times
from stages.procedural.rig.mesh import INNER_LIPS, LEFT_EYE, RIGHT_EYE, build_mesh
from stages.procedural.rig.performance import Performance, mouth_curves
from stages.procedural.rig.pose import FaceState, MouthGeometry, displace
from stages.procedural.rig.voice import CLASSES, FORMANTS, RATE, SR, classify, frame_features, synth_vowel
from stages.procedural.rig.voice import voice_features as load_voice


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    from PIL import Image
    from skimage import data

    from stages.reference import inspect_reference

    p = tmp_path_factory.mktemp("rig") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return inspect_reference(p)


def _song_analysis(duration: float = 8.0, words=((1.0, 1.5, "hold"), (1.6, 2.2, "me"), (4.0, 4.6, "night"))):
    lines = [LyricLine(start_s=words[0][0], end_s=words[-1][1], text=" ".join(w[2] for w in words),
                       words=[Word(start_s=a, end_s=b, text=t) for a, b, t in words])]
    return AudioAnalysis(
        source=AudioSource(path="s.wav", sha256="0" * 64, duration_s=duration, sample_rate=16000), bpm=120,
        beats_per_bar=4,
        beats=[Beat(t_s=0.5 * i, bar=i // 4 + 1, position=i % 4 + 1) for i in range(int(duration * 2))],
        sections=[Section(start_s=0, end_s=duration, label="verse")],
        energy=EnergyCurve(fps=10, values=[0.6] * int(duration * 10)), lyrics=Lyrics(source="file", lines=lines))


# ---------------------------------------------------------------------------------- mesh


def test_mesh_keeps_lips_and_eyes_as_outlines(astronaut):
    mesh = build_mesh(np.asarray(astronaut.primary_face.landmarks))
    assert mesh.fit == {"mouth", "eyes", "head"}
    tris = [set(t) for t in mesh.triangles.tolist()]
    for loop in (INNER_LIPS, RIGHT_EYE, LEFT_EYE):
        for a, b in zip(loop, loop[1:] + loop[:1], strict=True):
            assert any({a, b} <= t for t in tris), f"edge {a}-{b} of an outline is missing"
    holes = mesh.hole_triangles
    assert holes.any() and all(set(t) <= set(INNER_LIPS) | set(RIGHT_EYE) | set(LEFT_EYE)
                               for t in mesh.triangles[holes].tolist())
    # The outer ring never moves; everything else moves with the head.
    ring = mesh.head == 0
    assert ring.sum() >= 16 and mesh.head[:68].min() == 1.0


def test_a_face_in_profile_animates_only_what_fits(astronaut, caplog):
    lm = np.asarray(astronaut.primary_face.landmarks).copy()
    nose = lm[30, 0]
    left = lm[:, 0] < nose  # squeeze the image-left half against the nose: a face turned away
    lm[left, 0] = nose - 0.25 * (nose - lm[left, 0])
    face = astronaut.primary_face.model_copy(update={"landmarks": [tuple(p) for p in lm]})
    ref = astronaut.model_copy(update={"faces": [face], "sha256": "p" * 64})
    with caplog.at_level(logging.WARNING):
        setup = rig_setup(ref)
        rig_setup(ref)
    assert setup is not None and "head" not in setup.mesh.fit and "eyes" not in setup.mesh.fit
    assert sum("animates only" in r.message for r in caplog.records) == 1  # warned once


def test_no_face_and_several_faces_warn_once(astronaut, caplog):
    none = astronaut.model_copy(update={"faces": [], "primary": None, "sha256": "n" * 64})
    other = Face(box=(10, 10, 40, 40), landmarks=[], embedding=[])
    many = astronaut.model_copy(update={"faces": [astronaut.primary_face, other], "primary": 0, "sha256": "m" * 64})
    with caplog.at_level(logging.WARNING):
        assert rig_setup(none) is None and rig_setup(none) is None
        assert rig_setup(many) is not None and rig_setup(many) is not None
    msgs = [r.message for r in caplog.records]
    assert sum("rig is off" in m for m in msgs) == 1 and sum("only the singer" in m for m in msgs) == 1


def test_rig_setup_is_kept_in_the_work_directory(astronaut, tmp_path, monkeypatch):
    ref = astronaut.model_copy(update={"sha256": "c" * 64})
    first = rig_setup(ref, tmp_path)
    assert list(tmp_path.glob("rig-*.npz"))
    rig_mod._SETUPS.clear()  # a new process: only the disk remains

    def no_build(*a, **k):
        raise AssertionError("the mesh was rebuilt although the work directory has it")

    monkeypatch.setattr(rig_mod, "build_mesh", no_build)
    again = rig_setup(ref, tmp_path)
    assert np.array_equal(again.mesh.triangles, first.mesh.triangles) and again.mesh.fit == first.mesh.fit


# ---------------------------------------------------------------------------------- pose


def test_the_mouth_opens_and_closes_around_the_photos_own(astronaut):
    mesh = build_mesh(np.asarray(astronaut.primary_face.landmarks))
    geo = MouthGeometry.of(mesh)
    f = mesh.frame

    def gap(state: FaceState) -> float:
        p = mesh.points + displace(mesh, geo, state)
        return float(np.mean([(p[lo] - p[up]) @ f.ey for up, lo in ((61, 67), (62, 66), (63, 65))]))

    rest = gap(FaceState())
    assert rest == pytest.approx(geo.rest_aperture, abs=1e-6) and rest > 0.05 * geo.width  # an open smile
    assert gap(FaceState(aperture=0.4)) == pytest.approx(0.4 * geo.width, rel=0.02)
    assert gap(FaceState(aperture=0.0)) < 0  # closed lips meet (a little past each other)
    assert gap(FaceState(aperture=0.3, press=1.0)) < 0
    d = displace(mesh, geo, FaceState(aperture=0.4))
    assert d[8] @ f.ey > 0.5 * d[66] @ f.ey > 0  # the chin follows the lower lip
    assert np.abs(d[mesh.head == 0]).max() == 0  # the ring stays put
    wide = displace(mesh, geo, FaceState(aperture=0.2, spread=1.0))
    round_ = displace(mesh, geo, FaceState(aperture=0.2, spread=-1.0))
    width = lambda d: float((mesh.points[54] + d[54] - mesh.points[48] - d[48]) @ f.ex)  # noqa: E731
    assert width(wide) > geo.width > width(round_)
    tilt = displace(mesh, geo, FaceState(roll_deg=3.0))
    assert np.abs(tilt[:68]).max() > 0.02 * f.iod


# ---------------------------------------------------------------------------------- blinks


def test_blinks_happen_at_irregular_natural_intervals():
    starts = blink_times(600.0, seed=3, line_ends=list(np.arange(5.0, 600.0, 7.3)))
    gaps = np.diff(starts)
    assert 100 < len(starts) < 300  # every 2-6 s
    singles = gaps[np.abs(gaps - DOUBLE_GAP_S) > 1e-6]
    assert singles.min() >= REFRACTORY_S - 1e-9
    assert singles.std() / singles.mean() > 0.3  # not periodic
    # No strong periodicity either: the autocorrelation of the intervals is small.
    g = singles - singles.mean()
    assert abs(float(np.dot(g[:-1], g[1:]) / np.dot(g, g))) < 0.3
    assert np.array_equal(starts, blink_times(600.0, seed=3, line_ends=list(np.arange(5.0, 600.0, 7.3))))
    assert not np.array_equal(starts[:10], blink_times(600.0, seed=4)[:10])
    curve = blink_curve(np.arange(0, 60, 1 / 24), starts)
    assert curve.max() > 0.95 and (curve > 0.5).mean() < 0.08  # eyes are mostly open


# ---------------------------------------------------------------------------------- performance


def test_face_state_is_a_function_of_song_time_so_cuts_are_continuous():
    analysis = _song_analysis()
    perf = Performance.of(analysis, None, seed=1)
    fps = 24.0
    a = perf.states(np.arange(0, 48) / fps)  # shot A: frames 0..47
    b = perf.states(np.arange(48, 96) / fps)  # shot B continues at frame 48
    whole = perf.states(np.arange(0, 96) / fps)
    for k in whole:
        assert np.allclose(np.concatenate([a[k], b[k]]), whole[k])  # the same curves, however cut
        step = np.abs(np.diff(whole[k])).max()
        assert abs(b[k][0] - a[k][-1]) <= step + 1e-9  # the cut is no jump


def test_mouth_rests_in_gaps_and_opens_on_words():
    analysis = _song_analysis()
    m = mouth_curves(analysis, None)
    t = np.arange(len(m.gate)) / RATE
    sung = (t > 1.1) & (t < 1.4) | (t > 4.1) & (t < 4.5)
    gap = (t > 2.6) & (t < 3.6) | (t > 5.0)
    assert m.gate[sung].min() > 0.9 and m.gate[gap].max() < 0.05
    assert m.aperture[sung].mean() > 0.1
    # "me" starts with m: the lips are pressed as it begins.
    assert m.press[int(1.6 * RATE):int(1.64 * RATE)].max() > 0.5


def test_the_jaw_follows_the_voice_with_at_most_a_frame_of_lag(tmp_path):
    # Syllables of a synthetic vowel at irregular times; the aperture must line up with the level.
    rng = np.random.default_rng(0)
    y = np.zeros(int(6 * SR), np.float32)
    onsets = np.sort(rng.uniform(0.3, 5.4, 9))
    for o in onsets:
        v = synth_vowel(FORMANTS["a"][0], 180.0, seconds=0.25, seed=int(o * 100))
        y[int(o * SR):int(o * SR) + len(v)] += v
    song = tmp_path / "syll.wav"
    sf.write(song, y, SR)
    analysis = _song_analysis(6.0, words=((0.2, 5.9, "aaaa"),))
    voice = load_voice(song, None)
    m = mouth_curves(analysis, voice)
    lvl = np.interp(np.arange(len(m.aperture)), np.arange(len(voice.level_db)) + 0.5, voice.level_db)
    a = m.aperture[30:570] - m.aperture[30:570].mean()
    e = lvl[30:570] - lvl[30:570].mean()
    lags = range(-10, 11)  # ±100 ms
    corr = [float(np.dot(np.roll(a, -k), e)) for k in lags]
    best = list(lags)[int(np.argmax(corr))]
    assert abs(best) <= RATE / 24, f"aperture lags the voice by {best * 10} ms"


# ---------------------------------------------------------------------------------- voice


def test_vowel_templates_tell_the_mouth_shapes_apart():
    clips, names = [], []
    for name, (fm, _) in FORMANTS.items():
        for f0 in (165.0, 300.0):  # pitches the templates were not made at
            clips.append(synth_vowel(fm, f0, nasal=name == "m", seed=11))
            names.append(FORMANTS[name][1])
    level, mfcc = frame_features(np.concatenate(clips))
    post = classify(mfcc, level)
    n = len(clips[0]) // 160
    right = [CLASSES[int(post[k * n + 3:(k + 1) * n - 3].mean(axis=0).argmax())] == c for k, c in enumerate(names)]
    assert np.mean(right) >= 0.85


def test_voice_features_are_measured_once_per_song(tmp_path, monkeypatch):
    from stages.procedural.rig import voice

    song = tmp_path / "v.wav"
    sf.write(song, synth_vowel(FORMANTS["a"][0], 200.0, seconds=1.0), SR)
    first = load_voice(song, tmp_path)
    assert list(tmp_path.glob("voice-*.npz"))
    voice._MEMO.clear()  # a new process

    def no_compute(*a, **k):
        raise AssertionError("measured again although the work directory has the features")

    monkeypatch.setattr(voice, "compute", no_compute)
    again = load_voice(song, tmp_path)
    assert np.array_equal(again.level_db, first.level_db)



def test_the_vocal_stem_drives_the_mouth_when_given(astronaut, tmp_path):
    from mvdirector.schemas import RenderSettings, Shot, ShotPlan, SongRef
    from stages.procedural import ProceduralRenderer
    from stages.render import ShotJob

    analysis = _song_analysis(6.0, words=((1.0, 4.0, "aaaah"),))
    silent, stem = tmp_path / "song.wav", tmp_path / "vocals.wav"
    sf.write(silent, np.zeros(6 * SR, np.float32), SR)
    y = np.zeros(6 * SR, np.float32)
    v = synth_vowel(FORMANTS["a"][0], 200.0, seconds=0.6)
    y[int(2.0 * SR):int(2.0 * SR) + len(v)] = v  # one loud syllable in the middle of the word
    sf.write(stem, y, SR)
    shot = Shot(id="verse1-01", start_s=0.0, end_s=6.0, section="verse", framing="close_up")
    plan = ShotPlan(song=SongRef(path="s.wav", sha256="0" * 64, duration_s=6.0), render=RenderSettings(), shots=[shot])
    job = ShotJob(plan, shot, analysis, astronaut, Path(astronaut.path), silent)
    times = np.array([1.5, 2.3])  # inside the word: before the syllable, and on it
    with_song = ProceduralRenderer()._performance(job, ProceduralRenderer().options).states(times)
    with_stem = ProceduralRenderer()._performance(replace(job, vocals_path=stem),
                                                  ProceduralRenderer().options).states(times)
    assert with_song["aperture_sing"][1] == pytest.approx(with_song["aperture_sing"][0], abs=0.02)  # no voice heard
    assert with_stem["aperture_sing"][1] > with_stem["aperture_sing"][0] + 0.1  # the stem's syllable opens it


def test_saved_vowel_templates_are_the_synthesised_ones():
    """The shipped template file is what the synthesiser makes from today's formants (else: regenerate it
    with ``python -m stages.procedural.rig.voice``)."""
    with np.load(voice.TEMPLATE_FILE, allow_pickle=False) as z:
        assert str(z["digest"]) == voice.template_digest()
        saved = z["means"], z["spread"]
    fresh = voice.synthesise_templates()
    for a, b in zip(saved, fresh, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    loaded = voice.templates()
    assert all(np.array_equal(a, b) for a, b in zip(loaded, saved, strict=True))
