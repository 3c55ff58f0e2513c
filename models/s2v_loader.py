"""Load the official Wan2.2-S2V DiT (``config.json`` + sharded safetensors + index) into our model.

The release (``Wan-AI/Wan2.2-S2V-14B``) keeps the DiT at the top of its directory::

    config.json
    diffusion_pytorch_model.safetensors.index.json     {"weight_map": {key: shard file}}
    diffusion_pytorch_model-0000N-of-00004.safetensors

(a single ``diffusion_pytorch_model.safetensors`` without an index is accepted too; the directory is
checked by ``models.wan_checkpoint.check_dit_dir``, the one home of that rule). Loading is
lean: the model is built on the meta device, every tensor is read from its shard straight onto
the target device in its target dtype, and the resulting state dict is assigned (``strict=True,
assign=True``), so no second full copy of the weights is ever made.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from models.s2v import S2VConfig, S2VTransformer, param_dtype
from models.wan_checkpoint import DIT_CONFIG as CONFIG
from models.wan_checkpoint import DIT_INDEX as INDEX
from models.wan_checkpoint import HINT, dit_weight_map
from mvdirector.errors import ModelError

__all__ = ["INDEX", "load_s2v_transformer", "read_s2v_config", "save_s2v_checkpoint"]


def read_s2v_config(weights_dir: Path) -> S2VConfig:
    """The model config of a checkpoint directory, refusing settings this implementation lacks."""
    path = Path(weights_dir) / CONFIG
    try:
        cfg = S2VConfig.from_json(path)
        cfg.validate()
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"{path} is not a usable Wan2.2-S2V config: {e}", hint=HINT) from e
    return cfg


def _sample(keys: set[str], n: int = 3) -> str:
    ks = sorted(keys)
    return ", ".join(ks[:n]) + (f" and {len(ks) - n} more" if len(ks) > n else "")


def load_s2v_transformer(
    weights_dir: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> S2VTransformer:
    """Build the S2V DiT from ``config.json`` and load its weights (strict), on ``device`` in ``dtype``.

    ``dtype`` is the compute dtype (bf16 on CUDA); the parts the official code runs in float32
    stay float32 (``models.s2v.param_dtype``). Raises ModelError for a missing or incomplete
    checkpoint, or one whose keys or shapes do not match the config.
    """
    from safetensors import SafetensorError, safe_open

    d = Path(weights_dir)
    weight_map = dit_weight_map(d)  # checks the directory first, naming all that is missing
    cfg = read_s2v_config(d)
    with torch.device("meta"):
        model = S2VTransformer(cfg)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = set(expected) - set(weight_map), set(weight_map) - set(expected)
    if missing or unexpected:
        parts = [f"{len(missing)} missing ({_sample(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unexpected ({_sample(unexpected)})"] if unexpected else []
        raise ModelError(f"checkpoint {d} does not match its config.json: keys {'; '.join(parts)}", hint=HINT)
    by_shard: dict[str, list[str]] = {}
    for key, shard in weight_map.items():
        by_shard.setdefault(shard, []).append(key)
    dev = torch.device(device)
    state: dict[str, torch.Tensor] = {}
    for shard, keys in sorted(by_shard.items()):
        try:
            with safe_open(str(d / shard), framework="pt", device=str(dev)) as f:
                present = set(f.keys())
                absent = [k for k in keys if k not in present]
                if absent:
                    raise ModelError(
                        f"shard {shard} in {d} lacks {len(absent)} tensors its index lists ({_sample(set(absent))})",
                        hint=HINT,
                    )
                for key in keys:
                    t = f.get_tensor(key)
                    if tuple(t.shape) != expected[key]:
                        raise ModelError(
                            f"checkpoint tensor {key} has shape {tuple(t.shape)}; config.json implies {expected[key]}",
                            hint=HINT,
                        )
                    state[key] = t.to(param_dtype(key, dtype))
        except (OSError, RuntimeError, SafetensorError) as e:  # truncated or corrupt shard
            raise ModelError(f"cannot read shard {shard} in {d}: {e}", hint=HINT) from e
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def save_s2v_checkpoint(
    state_dict: dict[str, torch.Tensor], config: S2VConfig | dict, out_dir: Path, max_shard_bytes: int = 5 * 2**30
) -> Path:
    """Write a state dict in the release's layout (config.json, shards, index); for tests and tools."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config.to_dict() if isinstance(config, S2VConfig) else dict(config)
    (out / CONFIG).write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, t in state_dict.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = t.contiguous()
        size += nbytes
    n = len(shards)
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"diffusion_pytorch_model-{i:05d}-of-{n:05d}.safetensors"
        save_file(shard, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in state_dict.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return out
