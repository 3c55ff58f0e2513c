"""Wan image-to-video checkpoints: what a directory must be, its official sampling defaults, lean loading.

:func:`inspect_checkpoint` reads only the JSON configs, so a wrong directory fails in
milliseconds with one line naming what was found: an incomplete directory, a text-to-video or
TI2V checkpoint, a transformer without the image-condition channels, a missing CLIP encoder.
:func:`load_components` then loads the weights straight into their compute dtype and, when
nothing is offloaded, straight onto the compute device (``low_cpu_mem_usage`` + a device map),
so no full copy of a model sits in host memory on the way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mvdirector.errors import ModelError

log = logging.getLogger(__name__)

# What a diffusers-format Wan I2V directory must hold: (what it is, glob alternatives).
REQUIRED_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model_index.json", ("model_index.json",)),
    ("transformer/config.json", ("transformer/config.json",)),
    ("transformer weights", ("transformer/*.safetensors",)),
    ("vae/config.json", ("vae/config.json",)),
    ("vae weights", ("vae/*.safetensors",)),
    ("text_encoder/config.json", ("text_encoder/config.json",)),
    ("text_encoder weights", ("text_encoder/*.safetensors",)),
    ("tokenizer", ("tokenizer/tokenizer.json", "tokenizer/spiece.model")),
    ("scheduler/scheduler_config.json", ("scheduler/scheduler_config.json",)),
)
SCHEDULERS = ("UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler")
I2V_PIPELINE = "WanImageToVideoPipeline"
HINT = (
    "point --weights at a local diffusers Wan image-to-video checkpoint, e.g. Wan2.1-I2V-14B-480P-Diffusers "
    "or Wan2.2-I2V-A14B-Diffusers"
)


@dataclass(frozen=True)
class SamplingDefaults:
    """The official sampling settings of one Wan I2V family (``shift=None``: the checkpoint's scheduler)."""

    family: str
    steps: int
    guidance_scale: float  # the (high-noise) transformer
    guidance_scale_2: float | None  # the low-noise expert of a two-expert checkpoint
    shift: float | None
    shift_480p: float | None  # at or below 832×480 pixels
    fps: float

    def shift_for(self, width: int, height: int) -> float | None:
        """The flow shift for a render size."""
        return self.shift_480p if width * height <= 832 * 480 else self.shift


# Wan2.2 A14B: wan/configs/wan_i2v_A14B.py (sample_steps 40, sample_shift 5.0, sample_guide_scale
# (3.5, 3.5) as (low noise, high noise), boundary 0.900) and shared_config.py (sample_fps 16).
WAN22_A14B = SamplingDefaults("Wan2.2-I2V-A14B", 40, 3.5, 3.5, 5.0, 5.0, 16.0)
# Wan2.1 I2V 14B (480P and 720P share one architecture): Wan2.1 generate.py — 40 steps for i2v,
# sample_guide_scale 5.0, sample_shift 5.0 but 3.0 for i2v at 832*480 / 480*832 (here: any size
# of at most that area) — and its shared_config.py (sample_fps 16). diffusers' Wan examples give the
# same rule (flow_shift "5.0 for 720P, 3.0 for 480P").
WAN21_I2V = SamplingDefaults("Wan2.1-I2V-14B", 40, 5.0, None, 5.0, 3.0, 16.0)
# Any other single-expert Wan I2V transformer (no official config): Wan2.1's i2v steps and
# guidance, the checkpoint's own scheduler shift, Wan's 16 fps.
WAN_I2V = SamplingDefaults("Wan I2V", 40, 5.0, None, None, None, 16.0)


@dataclass(frozen=True)
class CheckpointInfo:
    """What :func:`inspect_checkpoint` found in a directory."""

    path: Path
    defaults: SamplingDefaults
    two_experts: bool
    has_image_encoder: bool
    boundary_ratio: float | None


def missing_weight_files(weights_dir: Path) -> list[str]:
    """What a Wan I2V diffusers checkpoint directory lacks (empty when complete)."""
    d = Path(weights_dir)
    if not d.is_dir():
        return [f"the directory itself ({d})"]
    missing = [name for name, globs in REQUIRED_FILES if not any(any(d.glob(g)) for g in globs)]
    if (d / "transformer_2").is_dir():
        for sub in ("transformer_2/config.json", "transformer_2/*.safetensors"):
            if not any(d.glob(sub)):
                missing.append(sub)
    return missing


def check_weights_dir(weights_dir: Path) -> None:
    """Raise ModelError naming every missing part of a Wan I2V checkpoint directory."""
    missing = missing_weight_files(weights_dir)
    if missing:
        raise ModelError(
            f"weights directory {weights_dir} is not a complete diffusers Wan image-to-video checkpoint: "
            f"missing {', '.join(missing)}",
            hint=HINT + " (all of model_index.json, transformer/, vae/, text_encoder/, tokenizer/, scheduler/)",
        )


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path} cannot be read as JSON: {e}", hint=HINT) from e
    if not isinstance(data, dict):
        raise ModelError(f"{path} holds a {type(data).__name__}, not a JSON object", hint=HINT)
    return data


def inspect_checkpoint(weights_dir: Path) -> CheckpointInfo:
    """Check that ``weights_dir`` is a complete diffusers Wan image-to-video checkpoint; read its family.

    Reads JSON configs only. Every refusal is a ModelError whose one line names what was found.
    """
    d = Path(weights_dir)
    check_weights_dir(d)
    index = _json(d / "model_index.json")
    cls = index.get("_class_name")
    if cls == "WanPipeline":
        raise ModelError(
            f"checkpoint {d} is a text-to-video Wan checkpoint (model_index.json _class_name WanPipeline), "
            "not image-to-video",
            hint=HINT,
        )
    if cls != I2V_PIPELINE:
        raise ModelError(
            f"checkpoint {d} is a {cls or 'unnamed'} checkpoint (model_index.json _class_name), "
            f"not {I2V_PIPELINE}",
            hint=HINT,
        )
    if index.get("expand_timesteps"):
        raise ModelError(
            f"checkpoint {d} uses per-token timesteps (expand_timesteps, Wan2.2 TI2V-5B), which this renderer "
            "does not run",
            hint=HINT,
        )
    z_dim = _json(d / "vae" / "config.json").get("z_dim", 16)
    two_experts = (d / "transformer_2").is_dir()
    image_dims = []
    for sub in ("transformer", "transformer_2") if two_experts else ("transformer",):
        cfg = _json(d / sub / "config.json")
        c_in, c_out = cfg.get("in_channels"), cfg.get("out_channels") or cfg.get("in_channels")
        if c_in == c_out:
            raise ModelError(
                f"checkpoint {d}: {sub} has in_channels {c_in} = out_channels, a text-to-video transformer "
                f"(image-to-video takes {c_out} + 4 mask + {z_dim} condition channels)",
                hint=HINT,
            )
        if c_in != (c_out or 0) + 4 + z_dim:
            raise ModelError(
                f"checkpoint {d}: {sub} has in_channels {c_in}; a Wan image-to-video transformer has "
                f"{(c_out or 0) + 4 + z_dim} (latents + 4 mask + {z_dim} condition channels)",
                hint=HINT,
            )
        image_dims.append(cfg.get("image_dim"))
    has_clip = image_dims[0] is not None
    if has_clip and not ((d / "image_encoder").is_dir() and (d / "image_processor").is_dir()):
        raise ModelError(
            f"checkpoint {d} has an image-conditioned transformer (image_dim {image_dims[0]}) but no "
            "image_encoder/ or image_processor/ directory",
            hint="copy the complete Wan2.1 I2V diffusers checkpoint",
        )
    boundary = index.get("boundary_ratio")
    if two_experts and not (isinstance(boundary, (int, float)) and 0.0 < boundary < 1.0):
        raise ModelError(
            f"checkpoint {d} has two experts (transformer_2/) but boundary_ratio {boundary!r} in model_index.json",
            hint="a Wan2.2 A14B checkpoint sets boundary_ratio 0.9",
        )
    sched = _json(d / "scheduler" / "scheduler_config.json").get("_class_name", SCHEDULERS[0])
    if sched not in SCHEDULERS:
        raise ModelError(
            f"checkpoint {d}: scheduler {sched} is not a flow-matching scheduler this renderer runs",
            hint="use UniPCMultistepScheduler (use_flow_sigmas) or FlowMatchEulerDiscreteScheduler",
        )
    defaults = WAN22_A14B if two_experts else WAN21_I2V if has_clip else WAN_I2V
    return CheckpointInfo(d, defaults, two_experts, has_clip, float(boundary) if two_experts else None)


@dataclass
class Components:
    """The loaded parts of a Wan I2V checkpoint."""

    transformer: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    transformer_2: Any | None = None
    image_encoder: Any | None = None
    image_processor: Any | None = None


def load_components(
    info: CheckpointInfo, dtype: torch.dtype, device: torch.device, offload: str = "none"
) -> Components:
    """Load every part lean: weights memory-mapped, cast on load, placed on ``device`` unless offloading.

    With ``offload`` "model" or "group" the weights stay in host memory (that is what
    offloading streams from); otherwise each tensor goes from the file to the device.
    """
    import diffusers
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5EncoderModel

    d = info.path
    place = {"low_cpu_mem_usage": True}
    if offload == "none":
        place["device_map"] = {"": str(device)}
    try:
        transformer = WanTransformer3DModel.from_pretrained(d / "transformer", torch_dtype=dtype, **place)
        transformer_2 = None
        if info.two_experts:
            transformer_2 = WanTransformer3DModel.from_pretrained(d / "transformer_2", torch_dtype=dtype, **place)
        vae = AutoencoderKLWan.from_pretrained(d / "vae", torch_dtype=torch.float32, **place)
        text_encoder = UMT5EncoderModel.from_pretrained(d / "text_encoder", dtype=dtype, **place)
        tokenizer = AutoTokenizer.from_pretrained(d / "tokenizer")
        sched_dir = d / "scheduler"
        name = _json(sched_dir / "scheduler_config.json").get("_class_name", SCHEDULERS[0])
        scheduler = getattr(diffusers, name).from_pretrained(sched_dir)
        image_encoder = image_processor = None
        if info.has_image_encoder:
            from transformers import CLIPImageProcessor, CLIPVisionModel

            image_encoder = CLIPVisionModel.from_pretrained(d / "image_encoder", dtype=torch.float32, **place)
            image_processor = CLIPImageProcessor.from_pretrained(d / "image_processor")
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"could not load the Wan checkpoint in {d}: {e}", hint=HINT) from e
    return Components(transformer, vae, text_encoder, tokenizer, scheduler, transformer_2, image_encoder,
                      image_processor)
