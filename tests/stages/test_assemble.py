"""The assembler end to end on tiny generated clips: frames, cuts, transitions, sound, formats, report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import factories
import numpy as np
import pytest
import soundfile as sf

from mvdirector.errors import InputError, PlanError
from mvdirector.media.video import VideoWriter, ffmpeg_exe, probe_video
from mvdirector.schemas import (
    Camera,
    ReferenceInfo,
    RenderReport,
    ShotClip,
    ShotPlan,
)
from stages.assemble import AssembleConfig, assemble
from stages.assemble.timeline import shot_frame_ranges

SR = 22050


def make_plan(
    frames: Sequence[int],
    fps: float = 12.0,
    size: tuple[int, int] = (64, 36),
    framing: str = "wide",
    **kw,
) -> ShotPlan:
    """A plan whose shots last ``frames[i]`` frames (see `factories.make_plan` for transitions, sections…)."""
    return factories.make_plan(frames=frames, fps=fps, size=size, ids="s{:02d}", song="song.wav", framing=framing,
                               camera=Camera(move="static", direction=1), **kw)


def solid_colour(i: int) -> tuple[int, int, int]:
    """A distinct, codec-friendly RGB colour for shot ``i``."""
    palette = [(200, 40, 40), (40, 180, 60), (50, 70, 210), (220, 200, 40), (40, 200, 200), (180, 60, 190)]
    return palette[i % len(palette)]


def write_clips(
    plan: ShotPlan,
    folder: Path,
    frame_fn: Callable[[int, int, int, int], np.ndarray] | None = None,
    crf: int = 18,
    gop: int | None = None,
) -> list[ShotClip]:
    """One clip per shot; ``frame_fn(shot_index, k, width, height)`` draws frame k (default: solid)."""
    r = plan.render
    clips = []
    for i, shot in enumerate(plan.shots):
        n = shot.n_frames(r.fps)
        path = folder / f"{shot.id}.mp4"
        extra = ["-g", str(gop)] if gop else None
        with VideoWriter(path, r.width, r.height, r.fps, crf=crf, extra_args=extra) as w:
            for k in range(n):
                if frame_fn is None:
                    frame = np.empty((r.height, r.width, 3), np.uint8)
                    frame[:] = solid_colour(i)
                else:
                    frame = frame_fn(i, k, r.width, r.height)
                w.write(frame)
        clips.append(
            ShotClip(
                shot_id=shot.id,
                path=str(path),
                frames=n,
                fps=r.fps,
                width=r.width,
                height=r.height,
                cache_key=f"k{i}",
                cached=bool(i % 2),
                render_s=0.5 + i,
            )
        )
    return clips


def write_song(path: Path, duration_s: float, clicks_s: Sequence[float] = (), sr: int = SR) -> Path:
    """A quiet stereo sine with full-scale 5 ms clicks at ``clicks_s``."""
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    x = 0.02 * np.sin(2 * np.pi * 220.0 * t)
    for c in clicks_s:
        a = int(round(c * sr))
        x[a : a + int(0.005 * sr)] = 0.9
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), sr)
    return path


def decode_video(path: Path) -> np.ndarray:
    """All frames of a video as an (F, H, W, 3) uint8 array."""
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first audio channel of a file as float32 samples and the sample rate."""
    import av

    with av.open(str(path)) as c:
        sr = c.streams.audio[0].codec_context.sample_rate
        chunks = [f.to_ndarray()[0].astype(np.float32) for f in c.decode(audio=0)]
    return np.concatenate(chunks), sr


# ------------------------------------------------------------------------------- tests

FAST = AssembleConfig(consistency=False)


def shot_means(video: np.ndarray) -> np.ndarray:
    """Mean RGB of every frame, shape (F, 3)."""
    return video.reshape(video.shape[0], -1, 3).mean(axis=1)


def coded_slices(path: Path) -> list[bytes]:
    """The coded picture data (H.264 slice NAL units, types 1 and 5) of every packet, in decode order.

    Parameter sets and SEI are left out: a join may repeat SPS/PPS in-band before key frames.
    """
    import av

    out = []
    with av.open(str(path)) as c:
        for pkt in c.demux(video=0):
            data, i = bytes(pkt), 0
            while i < len(data):
                n = int.from_bytes(data[i : i + 4], "big")
                nal = data[i + 4 : i + 4 + n]
                if nal and nal[0] & 31 in (1, 5):
                    out.append(nal)
                i += 4 + n
    return out


def onset_s(samples: np.ndarray, sr: int, level: float = 0.5) -> float:
    """Time of the first sample louder than ``level``."""
    idx = np.flatnonzero(np.abs(samples) > level)
    assert idx.size, "no click found in the decoded audio"
    return idx[0] / sr


def test_hard_cuts_are_joined_without_decoding_and_land_on_their_frames(tmp_path: Path) -> None:
    plan = make_plan([12, 7, 20, 9])
    clips = write_clips(plan, tmp_path)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, song, out, FAST)

    assert (rep.copied_shots, rep.reencoded_shots) == (4, 0)
    assert rep.frames == plan.n_frames == 48
    video = decode_video(out)
    assert video.shape == (48, 36, 64, 3)
    means = shot_means(video)
    for i, (a, b) in enumerate(shot_frame_ranges(plan)):
        assert np.abs(means[a:b] - solid_colour(i)).max() < 6, f"shot {i} frames {a}..{b}"
    # Joined without decoding: the output's coded pictures are the clips', byte for byte.
    assert coded_slices(out) == [nal for c in clips for nal in coded_slices(Path(c.path))]
    info = probe_video(out)
    fps = plan.render.fps
    assert info.has_audio and rep.audio_codec == "aac"
    assert abs(info.duration_s - plan.song.duration_s) <= 1 / fps
    assert abs(info.audio_duration_s - plan.song.duration_s) <= 1 / fps
    assert abs(rep.duration_s - rep.song_duration_s) <= 1 / fps
    assert [s.cached for s in rep.shots] == [c.cached for c in clips]
    assert rep.cache_hits == 2 and rep.rendered == 2


@pytest.mark.parametrize("reencode", ["auto", "always"])
def test_av_offset_is_zero_flash_frame_meets_click(tmp_path: Path, reencode: str) -> None:
    fps, flash_at = 24.0, 37
    plan = make_plan([24, 24, 24], fps=fps, transitions={2: ("crossfade", 1.0)})

    def draw(i: int, k: int, w: int, h: int) -> np.ndarray:
        frame = np.full((h, w, 3), 30 + 40 * i, np.uint8)
        if i * 24 + k == flash_at:
            frame[:] = 255
        return frame

    clips = write_clips(plan, tmp_path, draw)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s, clicks_s=[flash_at / fps])
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, song, out, AssembleConfig(consistency=False, reencode=reencode))

    video_t = int(np.argmax(shot_means(decode_video(out)).mean(axis=1))) / fps
    samples, sr = decode_audio(out)
    audio_t = onset_s(samples, sr)
    assert video_t == pytest.approx(flash_at / fps)
    assert abs(audio_t - video_t) < 0.002
    assert abs(rep.av_offset_s) < 1e-3
    assert rep.reencoded_shots == (3 if reencode == "always" else 2)


def test_crossfade_and_flash_sit_on_the_exact_frames(tmp_path: Path) -> None:
    # 120 bpm at 12 fps: one beat is 6 frames, centred on the cut: 3 before, 3 after.
    plan = make_plan([12] * 6, transitions={1: ("crossfade", 1.0), 2: ("flash", 1.0)})
    clips = write_clips(plan, tmp_path)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, song, out, FAST)
    assert (rep.reencoded_shots, rep.copied_shots) == (3, 3)
    means = shot_means(decode_video(out))
    assert means.shape[0] == 72
    c = [np.array(solid_colour(i), float) for i in range(6)]
    inside = set(range(9, 15)) | set(range(21, 27))
    for f in range(72):
        if f not in inside:
            assert np.abs(means[f] - c[f // 12]).max() < 6, f"frame {f} should be untouched"
    for f in range(9, 15):  # crossfade: weight of the incoming shot (f - 9 + 0.5) / 6
        alpha = (f - 9 + 0.5) / 6
        assert np.abs(means[f] - ((1 - alpha) * c[0] + alpha * c[1])).max() < 8, f"crossfade frame {f}"
    assert means[24].min() > 250, "the cut frame of a flash is white"
    for f, wgt in [(21, 1 / 4), (22, 2 / 4), (23, 3 / 4), (25, 2 / 3), (26, 1 / 3)]:
        base = c[1] if f < 24 else c[2]
        assert np.abs(means[f] - (base + (255 - base) * wgt)).max() < 8, f"flash frame {f}"


def test_whip_blurs_only_its_window(tmp_path: Path) -> None:
    plan = make_plan([12, 12, 12], size=(96, 54), transitions={1: ("whip", 1.0)})

    def columns(i: int, k: int, w: int, h: int) -> np.ndarray:
        cols = np.random.default_rng(i).integers(0, 256, (1, w, 3), dtype=np.uint8)
        return np.repeat(cols, h, axis=0)

    clips = write_clips(plan, tmp_path, columns)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, song, out, FAST)
    video = decode_video(out).astype(np.float64)
    sharpness = (np.diff(video, axis=2) ** 2).mean(axis=(1, 2, 3))  # horizontal gradient energy
    window = range(9, 15)
    sharp = [sharpness[f] for f in range(36) if f not in window]
    assert min(sharp) > 2 * max(sharpness[f] for f in window)
    assert int(np.argmin(sharpness)) == 12, "the blur peaks on the cut frame"
    assert rep.copied_shots == 1


def test_first_shot_crossfade_opens_from_black(tmp_path: Path) -> None:
    plan = make_plan([12, 12], transitions={0: ("crossfade", 1.0)})
    clips = write_clips(plan, tmp_path)
    out = tmp_path / "out.mp4"
    assemble(plan, clips, write_song(tmp_path / "song.wav", plan.song.duration_s), out, FAST)
    means = shot_means(decode_video(out))
    c0 = np.array(solid_colour(0), float)
    for f in range(6):
        assert np.abs(means[f] - c0 * (f + 1) / 7).max() < 8
    assert np.abs(means[6] - c0).max() < 6


@pytest.mark.parametrize(
    ("codec", "suffix", "size", "name"),
    [("h265", ".mp4", (36, 64), "hevc"), ("prores", ".mov", (48, 48), "prores")],
)
def test_other_codecs_and_aspect_ratios(tmp_path: Path, codec: str, suffix: str, size: tuple, name: str) -> None:
    plan = make_plan([6, 9], size=size, transitions={1: ("flash", 0.5)})
    clips = write_clips(plan, tmp_path)
    out = tmp_path / f"out{suffix}"
    cfg = AssembleConfig(codec=codec, consistency=False)
    rep = assemble(plan, clips, write_song(tmp_path / "song.wav", plan.song.duration_s), out, cfg)
    info = probe_video(out)
    assert (info.video_codec, info.width, info.height, info.frames) == (name, size[0], size[1], 15)
    assert info.has_audio and rep.reencoded_shots == 2 and rep.codec == codec


def test_crf_and_faststart(tmp_path: Path) -> None:
    def noise(i: int, k: int, w: int, h: int) -> np.ndarray:
        return np.random.default_rng(i * 100 + k).integers(0, 256, (h, w, 3), dtype=np.uint8)

    plan = make_plan([12, 12])
    clips = write_clips(plan, tmp_path, noise)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    sizes = {}
    for crf in (10, 40):
        out = tmp_path / f"crf{crf}.mp4"
        assemble(plan, clips, song, out, AssembleConfig(crf=crf, reencode="always", consistency=False))
        sizes[crf] = out.stat().st_size
    assert sizes[40] < sizes[10] / 2
    head = (tmp_path / "crf10.mp4").read_bytes()
    assert head.index(b"moov") < head.index(b"mdat"), "faststart puts the index first"
    slow = tmp_path / "slow.mp4"
    assemble(plan, clips, song, slow, AssembleConfig(faststart=False, consistency=False))
    data = slow.read_bytes()
    assert data.index(b"moov") > data.index(b"mdat")


def test_aac_song_is_copied_and_stays_in_sync(tmp_path: Path) -> None:
    import subprocess

    fps, flash_at = 12.0, 15
    plan = make_plan([12, 12], fps=fps)

    def draw(i: int, k: int, w: int, h: int) -> np.ndarray:
        return np.full((h, w, 3), 255 if i * 12 + k == flash_at else 40, np.uint8)

    clips = write_clips(plan, tmp_path, draw)
    wav = write_song(tmp_path / "song.wav", plan.song.duration_s, clicks_s=[flash_at / fps])
    m4a = tmp_path / "song.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, m4a, out, FAST)
    assert rep.audio_codec == "copy:aac"
    samples, sr = decode_audio(out)
    assert abs(onset_s(samples, sr) - flash_at / fps) < 0.002
    with pytest.raises(InputError, match="cannot be copied"):
        assemble(plan, clips, wav, tmp_path / "copy.mp4", AssembleConfig(audio="copy", consistency=False))
    assert not (tmp_path / "copy.mp4").exists()


def test_colour_match_evens_out_a_section(tmp_path: Path) -> None:
    greys = [60, 180, 120]

    def grey(i: int, k: int, w: int, h: int) -> np.ndarray:
        frame = np.full((h, w, 3), greys[i], np.uint8)
        frame[: h // 2] //= 2  # some contrast, so there is a standard deviation to match
        return frame

    plan = make_plan([12, 12, 12], sections=["verse", "verse", "chorus"])
    clips = write_clips(plan, tmp_path, grey)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    plain = assemble(plan, clips, song, tmp_path / "plain.mp4", AssembleConfig())
    matched = assemble(plan, clips, song, tmp_path / "matched.mp4", AssembleConfig(colour_match=True))

    def jump(rep: RenderReport) -> float:
        return abs(rep.shots[0].lab_mean[0] - rep.shots[1].lab_mean[0])  # type: ignore[index]

    assert jump(plain) > 30 and jump(matched) < 3
    assert any("grade jump" in w for w in plain.shots[1].warnings)
    assert not any("grade jump" in w for w in matched.warnings)
    assert matched.reencoded_shots == 2 and matched.copied_shots == 1
    assert abs(matched.shots[2].lab_mean[0] - plain.shots[2].lab_mean[0]) < 1  # type: ignore[index]


def test_bad_inputs_fail_early_and_leave_no_output(tmp_path: Path) -> None:
    plan = make_plan([6, 6])
    clips = write_clips(plan, tmp_path)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    out = tmp_path / "out.mp4"
    with pytest.raises(PlanError, match="do not match the plan"):
        assemble(plan, clips[::-1], song, out, FAST)
    with pytest.raises(PlanError, match="needs 6"):
        assemble(plan, [clips[0].model_copy(update={"frames": 5}), clips[1]], song, out, FAST)
    with pytest.raises(InputError, match="cannot hold prores; name it with one of .mov"):
        assemble(plan, clips, song, tmp_path / "out.mp4", AssembleConfig(codec="prores"))
    short = write_song(tmp_path / "short.wav", plan.song.duration_s - 0.5)
    with pytest.raises(PlanError, match="is 0.500 s but the plan was made for 1.000 s") as err:
        assemble(plan, clips, short, out, FAST)
    assert "re-plan" in err.value.one_line()
    # The file on disk holds fewer frames than its ShotClip claims.
    liar = make_plan([5, 6])
    lying = write_clips(liar, tmp_path / "liar")[0].model_copy(update={"frames": 6})
    with pytest.raises(PlanError, match="holds 5 frames"):
        assemble(plan, [lying, clips[1]], song, out, FAST)
    Path(clips[1].path).write_bytes(b"not a video")
    with pytest.raises(InputError, match="cannot be read"):
        assemble(plan, clips, song, out, FAST)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not out.exists() and leftovers == []


def test_report_thumbnails_and_measurements(tmp_path: Path) -> None:
    from mvdirector.report import write_report

    plan = make_plan([8, 8, 8], transitions={1: ("crossfade", 1.0)})
    clips = write_clips(plan, tmp_path)
    out = tmp_path / "video" / "out.mp4"
    rep = assemble(plan, clips, write_song(tmp_path / "song.wav", plan.song.duration_s), out, AssembleConfig())
    assert not (out.parent / "report.html").exists(), "the assembler returns the report; the pipeline writes it"
    for shot in plan.shots:
        assert (out.parent / "out.thumbs" / f"{shot.id}.jpg").is_file()
    assert [s.thumbnail for s in rep.shots] == [f"out.thumbs/{s.id}.jpg" for s in plan.shots]
    assert all(s.lab_mean is not None and s.colour_delta_e is not None for s in rep.shots)
    assert "no reference face: identity was not measured" in rep.warnings
    assert RenderReport.model_validate_json(rep.model_dump_json()) == rep
    assert [s.transition_in for s in rep.shots] == ["cut", "crossfade", "cut"]
    write_report(rep, out.parent, out.parent / "out.thumbs")
    page = (out.parent / "report.html").read_text(encoding="utf-8")
    assert all(shot.id in page for shot in plan.shots) and page.count("data:image/jpeg;base64,") == 3


def _portrait_canvas(w: int, h: int) -> np.ndarray:
    """A frame with the astronaut's face (scikit-image's bundled sample) on grey, face ~80 px tall."""
    import cv2
    from skimage.data import astronaut

    face = cv2.resize(astronaut()[30:210, 130:310], (h, h), interpolation=cv2.INTER_AREA)
    frame = np.full((h, w, 3), 128, np.uint8)
    x0 = (w - h) // 2
    frame[:, x0 : x0 + h] = face
    return frame


def test_identity_per_shot_warnings_and_rerender_marks(tmp_path: Path) -> None:
    from stages.reference import FaceAnalyzer

    plan = make_plan([6, 6, 6], size=(256, 144), framing="close_up", renderer="dit")
    canvas = _portrait_canvas(256, 144)

    def draw(i: int, k: int, w: int, h: int) -> np.ndarray:
        return canvas if i != 1 else np.full((h, w, 3), 90, np.uint8)

    clips = write_clips(plan, tmp_path, draw)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    faces = FaceAnalyzer().analyze(canvas)
    assert faces, "the fixture portrait must hold a detectable face"
    ref = ReferenceInfo(path="astronaut.png", sha256="0" * 64, width=256, height=144, faces=faces[:1], primary=0)
    cfg = AssembleConfig(samples_per_shot=2)
    rep = assemble(plan, clips, song, tmp_path / "same.mp4", cfg, reference=ref)
    s0, s1, s2 = rep.shots
    assert s0.identity_distance is not None and s0.identity_distance < 0.25
    assert s0.identity_similarity is not None and s0.identity_similarity > 0.97
    assert s0.identity_frames == 2 and not s0.warnings and not s0.needs_rerender
    assert s1.identity_distance is None and any("no face found" in w for w in s1.warnings)
    assert s2.identity_distance == pytest.approx(s0.identity_distance, abs=0.05)

    # Another person: the same face against a reference embedding far from it.
    emb = np.asarray(faces[0].embedding)
    other = faces[0].model_copy(update={"embedding": list(emb + 0.08 * np.sign(np.sin(np.arange(128) * 7.0)))})
    far = ref.model_copy(update={"faces": [other]})
    rep = assemble(plan, clips, song, tmp_path / "other.mp4", cfg, reference=far)
    s0 = rep.shots[0]
    assert s0.identity_distance is not None and s0.identity_distance > 0.6
    assert s0.needs_rerender and any("marked for re-render" in w for w in s0.warnings)
    assert [s.needs_rerender for s in rep.shots] == [True, False, True]
    assert sum("threshold 0.6" in w for w in rep.warnings) == 2


@pytest.mark.parametrize("gop", [250, 6])
def test_only_the_transition_regions_are_reencoded(tmp_path: Path, gop: int) -> None:
    """Clips cut at clean points: the frame-numbered content proves every output frame is the right one."""
    plan = make_plan([24, 24, 24, 24], size=(128, 72), transitions={1: ("crossfade", 1.0), 2: ("flash", 1.0)})

    def numbered(i: int, k: int, w: int, h: int) -> np.ndarray:
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = solid_colour(i)
        frame[:, 4 * k + 8 : 4 * k + 12] = 255  # a white bar whose position is the frame number
        return frame

    clips = write_clips(plan, tmp_path, numbered, gop=gop)
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, write_song(tmp_path / "song.wav", plan.song.duration_s), out, FAST)
    video = decode_video(out)
    assert video.shape[0] == 96
    windows = set(range(21, 27)) | set(range(45, 51))
    row = video[:, 36].astype(int)
    for g in range(96):
        if g in windows:
            continue
        i, k = divmod(g, 24)
        bar = int(np.argmax(row[g].sum(axis=1)))
        assert 4 * k + 8 <= bar < 4 * k + 12, f"frame {g} shows frame {(bar - 8) // 4} of its shot, not {k}"
        assert np.abs(row[g, 0] - np.array(solid_colour(i))).max() < 8, f"frame {g} is not from shot {i}"
    assert video[48].min() > 250
    assert rep.copied_shots == 1  # the last shot; the others are copied in part
    if gop == 6:
        # Key frames every 6 frames: only a little more than the two 6-frame windows is re-encoded.
        assert 12 <= rep.reencoded_frames <= 36
    else:
        # One key frame per clip: the incoming shots are re-encoded to their ends, the outgoing tails only.
        assert 48 <= rep.reencoded_frames <= 60


def test_gather_frames_by_seeking_matches_decoding_from_the_start(tmp_path: Path) -> None:
    from stages.assemble.concat import clip_index
    from stages.assemble.consistency import gather_frames

    plan = make_plan([40], size=(96, 54))

    def numbered(i: int, k: int, w: int, h: int) -> np.ndarray:
        frame = np.full((h, w, 3), 60, np.uint8)
        frame[:, 2 * k : 2 * k + 2] = 255
        return frame

    clip = write_clips(plan, tmp_path, numbered, gop=5)[0]
    index = clip_index(clip.path)
    assert index.resumes[:3] == (0, 5, 10) or len(index.resumes) >= 4
    wanted = [0, 3, 5, 7, 12, 13, 25, 39]
    by_seek = gather_frames(clip.path, wanted, index=index)
    in_order = gather_frames(clip.path, wanted)
    assert sorted(by_seek) == sorted(in_order) == wanted
    for k in wanted:
        assert np.array_equal(by_seek[k], in_order[k])
        assert int(np.argmax(by_seek[k][27].sum(axis=1))) // 2 == k


def test_a_clip_with_other_codec_parameters_is_reencoded_alone(tmp_path: Path) -> None:
    plan = make_plan([12, 12, 12])
    clips = write_clips(plan, tmp_path)
    odd = write_clips(plan, tmp_path / "odd", crf=35)[1]  # a different PPS: cannot be joined as it is
    clips[1] = odd.model_copy(update={"shot_id": plan.shots[1].id})
    out = tmp_path / "out.mp4"
    rep = assemble(plan, clips, write_song(tmp_path / "song.wav", plan.song.duration_s), out, FAST)
    assert (rep.copied_shots, rep.reencoded_shots, rep.reencoded_frames) == (2, 1, 12)
    means = shot_means(decode_video(out))
    for g in range(36):
        assert np.abs(means[g] - solid_colour(g // 12)).max() < 8


def test_audio_cache_reuses_the_encoded_song(tmp_path: Path) -> None:
    fps, flash_at = 12.0, 17
    plan = make_plan([12, 12], fps=fps)

    def draw(i: int, k: int, w: int, h: int) -> np.ndarray:
        return np.full((h, w, 3), 255 if i * 12 + k == flash_at else 40, np.uint8)

    clips = write_clips(plan, tmp_path, draw)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s, clicks_s=[flash_at / fps])
    cfg = AssembleConfig(consistency=False, audio_cache=str(tmp_path / "cache"))
    assemble(plan, clips, song, tmp_path / "a.mp4", cfg)
    (cached,) = (tmp_path / "cache").iterdir()
    stamp = cached.stat().st_mtime_ns
    rep = assemble(plan, clips, song, tmp_path / "b.mp4", cfg)
    assert cached.stat().st_mtime_ns == stamp and rep.audio_codec == "aac"
    samples, sr = decode_audio(tmp_path / "b.mp4")
    assert abs(onset_s(samples, sr) - flash_at / fps) < 0.002 and abs(rep.av_offset_s) < 1e-3
    write_song(song, plan.song.duration_s, clicks_s=[0.5])  # another song: another cache entry
    assemble(plan, clips, song, tmp_path / "c.mp4", cfg)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_piece_and_measure_caches_redo_only_what_an_edit_touches(tmp_path: Path, monkeypatch) -> None:
    """Change one clip: the cached re-assembly equals a fresh one, encoding and decoding only around it."""
    import stages.assemble.pieces as pieces
    from stages.assemble import consistency

    plan = make_plan([24] * 6, size=(128, 72), transitions={1: ("crossfade", 1.0), 4: ("flash", 1.0)})
    clips = write_clips(plan, tmp_path / "a", gop=6)
    song = write_song(tmp_path / "song.wav", plan.song.duration_s)
    caches = {"piece_cache": str(tmp_path / "pieces"), "measure_cache": str(tmp_path / "measure")}
    cfg = FAST.model_copy(update={**caches, "consistency": True})
    encoded: list[tuple[int, int]] = []
    decoded: list[int] = []
    real_encode, real_gather = pieces.encode_piece, consistency.gather_frames
    monkeypatch.setattr(
        pieces, "encode_piece", lambda c, p, o: encoded.append((p.start, p.end)) or real_encode(c, p, o)
    )
    monkeypatch.setattr(
        consistency, "gather_frames", lambda v, w, *a, **k: decoded.extend(w) or real_gather(v, w, *a, **k)
    )
    first = assemble(plan, clips, song, tmp_path / "one.mp4", cfg)
    assert len(encoded) == 2 and decoded

    # Re-draw shot 4 (entered by the flash) in another colour; everything else stays.
    def changed(i: int, k: int, w: int, h: int) -> np.ndarray:
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = (250, 250, 250) if i == 4 else solid_colour(i)
        return frame

    new_clips = clips[:4] + write_clips(plan, tmp_path / "b", changed, gop=6)[4:5] + clips[5:]
    encoded.clear()
    decoded.clear()
    second = assemble(plan, new_clips, song, tmp_path / "two.mp4", cfg)
    ranges = shot_frame_ranges(plan)
    assert len(encoded) == 1 and encoded[0][0] < ranges[4][1] and encoded[0][1] > ranges[4][0]
    assert decoded and all(ranges[3][0] <= g < ranges[4][1] for g in decoded), "only shots next to the edit"
    fresh = assemble(plan, new_clips, song, tmp_path / "fresh.mp4", FAST.model_copy(update={"consistency": True}))
    assert np.array_equal(decode_video(tmp_path / "two.mp4"), decode_video(tmp_path / "fresh.mp4"))
    assert [s.lab_mean for s in second.shots] == [s.lab_mean for s in fresh.shots]
    assert second.shots[0].lab_mean == first.shots[0].lab_mean
    assert second.shots[4].lab_mean != first.shots[4].lab_mean
    assert len(list((tmp_path / "pieces").iterdir())) == 2, "pieces of the old edit are pruned"
