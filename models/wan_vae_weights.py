"""The official ``Wan2.1_VAE.pth`` loaded into diffusers' ``AutoencoderKLWan``.

The official ``wan/modules/vae2_1.py`` (``WanVAE_``) and diffusers name the same layers
differently; the mapping below is written from reading both module trees:

==============================================  ==============================================
official                                        diffusers
==============================================  ==============================================
``conv1`` / ``conv2``                           ``quant_conv`` / ``post_quant_conv``
``{enc,dec}oder.conv1``                         ``{enc,dec}oder.conv_in``
``*.middle.0`` / ``.1`` / ``.2``                ``*.mid_block.resnets.0`` / ``attentions.0`` / ``resnets.1``
``*.head.0`` / ``*.head.2``                     ``*.norm_out`` / ``*.conv_out``
``encoder.downsamples.N``                       ``encoder.down_blocks.N`` (same flat list)
``decoder.upsamples.N`` (flat)                  ``decoder.up_blocks.i.resnets.j`` / ``.upsamplers.0``
``residual.0/.2/.3/.6``, ``shortcut``           ``norm1/conv1/norm2/conv2``, ``conv_shortcut``
==============================================  ==============================================

The decoder's flat list is cut into levels at each ``Resample``. The architecture (base width,
levels, blocks per level, temporal downsampling) is read off the tensor shapes, so the same code
loads the released VAE and the tiny test one. Latent normalisation follows the official
``Wan2_1_VAE`` wrapper: ``(mu - mean) * (1 / std)`` to encode, ``z / (1 / std) + mean`` and a clamp
to [-1, 1] to decode, with diffusers' default ``latents_mean``/``latents_std`` (the official 16 values).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from models.wan_checkpoint import assign_state_dict, load_pth
from mvdirector.errors import ModelError

_RES_OFF2DIF = {"residual.0": "norm1", "residual.2": "conv1", "residual.3": "norm2", "residual.6": "conv2"}
_RES_OFF2DIF["shortcut"] = "conv_shortcut"
_RES_DIF2OFF = {v: k for k, v in _RES_OFF2DIF.items()}
_MID_OFF2DIF = {"0": "resnets.0", "1": "attentions.0", "2": "resnets.1"}
_MID_DIF2OFF = {v: k for k, v in _MID_OFF2DIF.items()}
_HEAD_OFF2DIF = {"0": "norm_out", "2": "conv_out"}
_HEAD_DIF2OFF = {v: k for k, v in _HEAD_OFF2DIF.items()}


def _rename_block(rest: str, table: dict[str, str]) -> str:
    for old, new in table.items():
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def _is_resample(keys: list[str]) -> bool:
    return any(k.startswith(("resample.", "time_conv.")) for k in keys)


def _flat_groups(sd: dict, prefix: str) -> dict[int, list[str]]:
    """Sub-keys of each index of a flat nn.Sequential ``prefix.N.…``."""
    groups: dict[int, list[str]] = {}
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)")
    for k in sd:
        m = pat.fullmatch(k)
        if m:
            groups.setdefault(int(m.group(1)), []).append(m.group(2))
    return dict(sorted(groups.items()))


def _decoder_slots(sd: dict) -> dict[int, str]:
    """Flat official decoder index -> diffusers ``up_blocks.i.resnets.j`` / ``up_blocks.i.upsamplers.0``."""
    slots, level, j = {}, 0, 0
    for n, keys in _flat_groups(sd, "decoder.upsamples").items():
        if _is_resample(keys):
            slots[n] = f"up_blocks.{level}.upsamplers.0"
            level, j = level + 1, 0
        else:
            slots[n] = f"up_blocks.{level}.resnets.{j}"
            j += 1
    return slots


def vae_official_to_diffusers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official ``WanVAE_`` state dict to ``AutoencoderKLWan`` names (tensors shared, not copied)."""
    slots = _decoder_slots(sd)
    out: dict[str, torch.Tensor] = {}
    for key, t in sd.items():
        part, _, rest = key.partition(".")
        if part in ("conv1", "conv2") and key.count(".") == 1:
            new = ("quant_conv." if part == "conv1" else "post_quant_conv.") + rest
        elif part in ("encoder", "decoder"):
            group, _, tail = rest.partition(".")
            if group == "conv1":
                new = f"{part}.conv_in.{tail}"
            elif group in ("middle", "head"):
                idx, _, leaf = tail.partition(".")
                table = _MID_OFF2DIF if group == "middle" else _HEAD_OFF2DIF
                if idx not in table:
                    raise ModelError(f"unknown Wan VAE tensor {key}")
                if group == "middle":
                    new = f"{part}.mid_block.{table[idx]}.{_rename_block(leaf, _RES_OFF2DIF)}"
                else:
                    new = f"{part}.{table[idx]}.{leaf}"
            elif group in ("downsamples", "upsamples"):
                idx, _, leaf = tail.partition(".")
                slot = f"down_blocks.{idx}" if group == "downsamples" else slots[int(idx)]
                new = f"{part}.{slot}.{_rename_block(leaf, _RES_OFF2DIF)}"
            else:
                raise ModelError(f"unknown Wan VAE tensor {key}")
        else:
            raise ModelError(f"unknown Wan VAE tensor {key}")
        out[new] = t
    return out


def vae_diffusers_to_official(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`vae_official_to_diffusers` (used to write official-format test checkpoints)."""
    up = re.compile(r"decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)")
    order = sorted(
        {(int(m[1]), m[3] is None, int(m[3] or 0)) for k in sd if (m := up.fullmatch(k))}
    )  # resnets of a level before its upsampler
    flat = {slot: n for n, slot in enumerate(order)}
    out: dict[str, torch.Tensor] = {}
    for key, t in sd.items():
        if key.startswith(("quant_conv.", "post_quant_conv.")):
            head, _, rest = key.partition(".")
            out[("conv1." if head == "quant_conv" else "conv2.") + rest] = t
            continue
        part, _, rest = key.partition(".")
        if rest.startswith("conv_in."):
            new = f"{part}.conv1.{rest[len('conv_in.'):]}"
        elif rest.startswith("mid_block."):
            sub = rest[len("mid_block.") :]
            slot = next(s for s in _MID_DIF2OFF if sub.startswith(s + "."))
            new = f"{part}.middle.{_MID_DIF2OFF[slot]}.{_rename_block(sub[len(slot) + 1:], _RES_DIF2OFF)}"
        elif rest.startswith(("norm_out.", "conv_out.")):
            slot, _, leaf = rest.partition(".")
            new = f"{part}.head.{_HEAD_DIF2OFF[slot]}.{leaf}"
        elif rest.startswith("down_blocks."):
            idx, _, leaf = rest[len("down_blocks.") :].partition(".")
            new = f"{part}.downsamples.{idx}.{_rename_block(leaf, _RES_DIF2OFF)}"
        elif m := up.fullmatch(key):
            n = flat[(int(m[1]), m[3] is None, int(m[3] or 0))]
            new = f"decoder.upsamples.{n}.{_rename_block(m[4], _RES_DIF2OFF)}"
        else:
            raise ValueError(f"unknown AutoencoderKLWan tensor {key}")
        out[new] = t
    return out


def vae_config(sd: dict[str, torch.Tensor]) -> dict:
    """``AutoencoderKLWan`` constructor arguments read off an official state dict's shapes."""
    try:
        conv_in = sd["encoder.conv1.weight"]
        base = conv_in.shape[0]
        blocks: list[list[int]] = [[]]  # per level: output width of each residual block
        temporal: list[bool] = []
        for i, keys in _flat_groups(sd, "encoder.downsamples").items():
            if _is_resample(keys):
                temporal.append(any(k.startswith("time_conv.") for k in keys))
                blocks.append([])
            elif "residual.2.weight" in keys:
                blocks[-1].append(sd[f"encoder.downsamples.{i}.residual.2.weight"].shape[0])
            else:
                raise ModelError("the Wan VAE has attention inside its down blocks, which diffusers does not load")
        cfg = dict(
            base_dim=int(base),
            z_dim=int(sd["conv2.weight"].shape[0]),
            dim_mult=[int(level[-1] // base) for level in blocks],
            num_res_blocks=len(blocks[0]),
            attn_scales=[],
            temperal_downsample=temporal,
            in_channels=int(conv_in.shape[1]),
            out_channels=int(sd["decoder.head.2.weight"].shape[0]),
        )
    except (KeyError, IndexError) as e:
        raise ModelError(f"the weights do not look like a Wan2.1 VAE (no tensor {e})") from e
    if len({len(level) for level in blocks}) != 1:
        raise ModelError(f"the Wan VAE has unequal residual blocks per level {[len(b) for b in blocks]}")
    return cfg


def load_wan_vae(
    path: Path,
    dtype: torch.dtype = torch.float32,
    latents_mean: list[float] | None = None,
    latents_std: list[float] | None = None,
):
    """``AutoencoderKLWan`` (eval, no grad, on CPU) with the weights of an official ``Wan2.1_VAE.pth``."""
    from diffusers import AutoencoderKLWan

    official = load_pth(Path(path))
    cfg = vae_config(official)
    if latents_mean is not None or latents_std is not None:
        cfg.update(latents_mean=list(latents_mean or []), latents_std=list(latents_std or []))
    elif cfg["z_dim"] != 16:
        raise ModelError(f"{path}: a {cfg['z_dim']}-channel Wan VAE needs its latents_mean and latents_std")
    with torch.device("meta"):
        vae = AutoencoderKLWan(**cfg)
    sd = {k: v.to(dtype) for k, v in vae_official_to_diffusers(official).items()}
    assign_state_dict(vae, sd, "Wan2.1 VAE", Path(path))
    return vae.eval().requires_grad_(False)


def _stats(vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Latent mean and 1/std (1, z, 1, 1, 1) float32, the official ``scale`` pair."""
    shape = (1, -1, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean, dtype=torch.float32, device=like.device).view(shape)
    std = torch.tensor(vae.config.latents_std, dtype=torch.float32, device=like.device).view(shape)
    return mean, 1.0 / std


@torch.no_grad()
def encode_latents(vae, video: torch.Tensor) -> torch.Tensor:
    """Normalised latents (B, z, 1+(T-1)/4, H/8, W/8) float32 of a video (B, 3, T, H, W) in [-1, 1]."""
    mu = vae.encode(video.to(vae.dtype)).latent_dist.mode().float()
    mean, inv_std = _stats(vae, mu)
    return (mu - mean) * inv_std


@torch.no_grad()
def decode_latents(vae, latents: torch.Tensor) -> torch.Tensor:
    """A video (B, 3, T, H, W) float32 in [-1, 1] of normalised latents."""
    mean, inv_std = _stats(vae, latents)
    z = latents.float() / inv_std + mean
    return vae.decode(z.to(vae.dtype)).sample.float().clamp(-1, 1)
