"""The S2V clip loop: official scheduler, clips and motion buffer, zero-audio negative pass, camera guide."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.tiny_s2v import BoxVae, s2v_goldens, tiny_s2v_model

from models.s2v_pipeline import (
    DiffusersWanVae,
    S2VPipeline,
    S2VRequest,
    S2VSampling,
    audio_frames_needed,
    audio_lead_frames,
    clip_yields,
    make_scheduler,
)
from mvdirector.errors import InputError

H, W = 64, 128
TINY = S2VSampling(steps=2, infer_frames=16)  # 4 latent frames per clip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Spy:
    """Wraps the transformer and records what every call received."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def eval(self):
        return self

    def __call__(self, x, t, ctx, ref, audio, motion, **kw):
        self.calls.append(dict(t=t.clone(), ctx=ctx.clone(), audio=audio.clone(), motion=motion.clone(), **kw))
        return self.model(x, t, ctx, ref, audio, motion, **kw)


@pytest.fixture(scope="module")
def model():
    return tiny_s2v_model()


def request(num_frames=20, seed=0, audio_seed=0, **kw):
    rng = np.random.default_rng(0)
    g = torch.Generator().manual_seed(audio_seed)
    base = dict(
        reference=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        prompt_embeds=torch.randn(7, 24, generator=torch.Generator().manual_seed(1)),
        negative_prompt_embeds=torch.randn(5, 24, generator=torch.Generator().manual_seed(2)),
        audio_embeds=torch.randn(25, 16, 40, generator=g),
        num_frames=num_frames,
        seed=seed,
        sampling=TINY,
    )
    base.update(kw)
    return S2VRequest(**base)


def test_scheduler_is_the_official_flow_unipc():
    g = s2v_goldens()
    s = make_scheduler(40, 3.0)
    assert torch.equal(s.timesteps, g["sched40_timesteps"])
    assert torch.allclose(s.sigmas, g["sched40_sigmas"], atol=0, rtol=0)
    s = make_scheduler(6, 3.0)
    x = g["traj_start"]
    for i, t in enumerate(s.timesteps):
        x = s.step(g["traj_v"][i], t, x, return_dict=False)[0]
    assert torch.allclose(x, g["traj_end"], atol=1e-6)


def test_clip_arithmetic_follows_the_official_first_clip():
    s = S2VSampling()
    assert (s.motion_latents, s.clip_latents) == (19, 20)
    assert audio_lead_frames(False) == 3 and audio_lead_frames(True) == 0
    assert clip_yields(77, False) == [77]
    assert clip_yields(78, False) == [77, 80]
    assert clip_yields(160, True) == [80, 80]
    assert audio_frames_needed(200, False) == 240
    assert clip_yields(20, False, TINY) == [13, 16]


def test_two_clips_carry_the_motion_buffer(model):
    spy, vae = Spy(model), BoxVae()
    out = S2VPipeline(spy, vae)(request())
    assert out.frames.shape == (20, H, W, 3) and out.frames.dtype == np.uint8
    assert out.tail.shape == (20, H, W, 3)  # no earlier frames: only the shot's own
    assert out.audio_lead_frames == 3
    assert out.metrics["s2v_clips"] == 2 and out.metrics["s2v_model_calls"] == 8
    first, second = spy.calls[0], spy.calls[4]
    assert first["drop_motion_frames"] and not second["drop_motion_frames"]
    assert first["motion_frames"] == (73, 19)
    # the buffer before clip 2 ends with clip 1's 13 output frames (after 60 zero frames)
    buf = vae.encoded[2]  # encodes: reference, buffer for clip 1, buffer for clip 2
    assert buf.shape[2] == 73
    assert torch.equal(buf[:, :, :60], torch.zeros_like(buf[:, :, :60]))
    clip1 = torch.from_numpy(out.frames[:13]).permute(3, 0, 1, 2).float() / 127.5 - 1
    assert torch.allclose(buf[0, :, 60:], clip1, atol=1 / 127.5)
    assert second["motion"].abs().sum() > 0
    # clip r is driven by audio frames [16 r, 16 r + 16)
    a = request().audio_embeds
    assert torch.equal(first["audio"][0], a[..., :16]) and torch.equal(second["audio"][0], a[..., 16:32])


def test_negative_pass_uses_zeroed_audio_and_the_negative_prompt(model):
    spy = Spy(model)
    audio = request().audio_embeds.unsqueeze(0)  # (1, layers, dim, frames), as SongAudioFeatures.window gives
    S2VPipeline(spy, BoxVae())(request(num_frames=8, audio_embeds=audio))
    cond, uncond = spy.calls[0], spy.calls[1]
    assert cond["audio"].abs().sum() > 0 and torch.count_nonzero(uncond["audio"]) == 0
    assert cond["ctx"].shape[1] == 7 and uncond["ctx"].shape[1] == 5


def test_mouth_follows_the_audio_and_silence_is_unconditional(model):
    pipe = S2VPipeline(model, BoxVae())
    a = pipe(request(num_frames=8)).frames
    assert np.array_equal(a, pipe(request(num_frames=8)).frames)  # same seed, same frames
    b = pipe(request(num_frames=8, audio_seed=5)).frames
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5
    # zeroed audio and the negative prompt as the prompt: guidance changes nothing
    neg = torch.randn(5, 24, generator=torch.Generator().manual_seed(2))
    silent = dict(num_frames=8, audio_embeds=torch.zeros(25, 16, 16), prompt_embeds=neg)
    guided = pipe(request(**silent)).frames
    plain = pipe(request(**silent, sampling=S2VSampling(steps=2, infer_frames=16, guidance_scale=1.0))).frames
    assert np.array_equal(guided, plain)


def test_previous_frames_start_the_buffer_and_guide_skips_steps(model):
    spy, vae = Spy(model), BoxVae()
    prev = np.random.default_rng(1).integers(0, 256, (90, H, W, 3), dtype=np.uint8)
    guide = np.random.default_rng(2).integers(0, 256, (16, H, W, 3), dtype=np.uint8)
    sampling = S2VSampling(steps=4, infer_frames=16)
    out = S2VPipeline(spy, vae)(
        request(num_frames=16, motion_frames=prev, guide_video=guide, guide_strength=0.5, sampling=sampling)
    )
    assert out.audio_lead_frames == 0 and out.metrics["s2v_clips"] == 1
    assert out.metrics["s2v_steps"] == 2 and len(spy.calls) == 4
    assert not spy.calls[0]["drop_motion_frames"]
    assert spy.calls[0]["t"].item() < 999  # started part-way down the schedule
    buf = vae.encoded[1]
    assert torch.allclose(buf[0, :, -1], torch.from_numpy(prev[-1]).permute(2, 0, 1).float() / 127.5 - 1)
    assert np.array_equal(out.tail, np.concatenate([prev, out.frames])[-73:])


def test_bad_requests_fail_before_work(model):
    pipe = S2VPipeline(model, BoxVae())
    with pytest.raises(InputError, match="audio features"):
        pipe(request(num_frames=20, audio_embeds=torch.zeros(25, 16, 22)))
    with pytest.raises(InputError, match="multiples of 16"):
        pipe(request(reference=np.zeros((72, 128, 3), np.uint8)))
    with pytest.raises(InputError, match="prompt embeddings"):
        pipe(request(prompt_embeds=torch.zeros(7, 32)))
    with pytest.raises(InputError, match="guide video has"):
        pipe(request(guide_video=np.zeros((3, H, W, 3), np.uint8)))


def test_diffusers_vae_adapter_normalises_latents():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ).eval()
    ad = DiffusersWanVae(vae)
    x = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    z = ad.encode(x)
    assert z.shape == (1, 16, 2, 2, 2)
    with torch.no_grad():
        mu = vae.encode(x).latent_dist.mode()
    assert torch.allclose(z * ad.std + ad.mean, mu, atol=1e-5)
    y = ad.decode(z)
    assert y.shape == (1, 3, 5, 16, 16) and y.min() >= -1 and y.max() <= 1
