"""The official ``Wan-AI/Wan2.2-S2V-14B`` release directory: checking it, and loading its parts lean.

The release, as downloaded (see ``wan/configs/wan_s2v_14B.py`` and ``wan/speech2video.py``)::

    config.json                                        the S2V DiT's config (``_class_name`` WanModel_S2V)
    diffusion_pytorch_model.safetensors.index.json     weight map of the DiT shards
    diffusion_pytorch_model-0000{1..4}-of-00004.safetensors
    Wan2.1_VAE.pth                                     the Wan2.1 VAE (official key names)
    models_t5_umt5-xxl-enc-bf16.pth                    the UMT5-XXL encoder (official key names, bf16)
    google/umt5-xxl/                                   its tokenizer (tokenizer.json / spiece.model + config)
    wav2vec2-large-xlsr-53-english/                    transformers Wav2Vec2ForCTC folder

:func:`check_s2v_dir` names everything missing in one :class:`ModelError` line, and refuses
directories that are clearly another checkpoint (a diffusers pipeline, a Wan I2V/T2V release).
``.pth`` files are read with ``torch.load(weights_only=True, mmap=True)``: a model built on the
meta device and loaded with ``assign=True`` (:func:`assign_state_dict`) then holds one copy of
its weights — the file's own pages while the dtype matches, one converted copy otherwise. (The
DiT shards are loaded by ``models.s2v_loader``.)
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from mvdirector.errors import ModelError

log = logging.getLogger(__name__)

DIT_CONFIG = "config.json"
DIT_INDEX = "diffusion_pytorch_model.safetensors.index.json"
DIT_SINGLE = "diffusion_pytorch_model.safetensors"
VAE_FILE = "Wan2.1_VAE.pth"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_DIR = "google/umt5-xxl"
WAV2VEC_DIR = "wav2vec2-large-xlsr-53-english"
DIT_CLASS = "WanModel_S2V"
HINT = (
    "point --weights at a complete local copy of Wan-AI/Wan2.2-S2V-14B as downloaded (config.json, "
    f"{DIT_INDEX} and its shards, {VAE_FILE}, {T5_FILE}, {TOKENIZER_DIR}/, {WAV2VEC_DIR}/)"
)
_LFS_MAGIC = b"version https://git-lfs"


@dataclass(frozen=True)
class S2VLayout:
    """Paths of every part of a checked Wan2.2-S2V-14B directory."""

    root: Path
    dit_config: Path
    dit_index: Path | None  # None for a single-file DiT
    dit_shards: tuple[Path, ...]
    vae: Path
    t5: Path
    tokenizer: Path  # folder
    wav2vec: Path  # folder

    def weight_files(self) -> tuple[Path, ...]:
        """The files the renderer reads (for cache fingerprints), in a fixed order."""
        w2v = sorted(p for p in self.wav2vec.iterdir() if p.name in _W2V_USED)
        tok = sorted(p for p in self.tokenizer.iterdir() if p.is_file())
        index = (self.dit_index,) if self.dit_index else ()
        return (self.dit_config, *index, *self.dit_shards, self.vae, self.t5, *tok, *w2v)


_W2V_USED = {"config.json", "preprocessor_config.json", "model.safetensors", "pytorch_model.bin"}


def _is_lfs_pointer(path: Path) -> bool:
    if path.stat().st_size > 1024:
        return False
    with path.open("rb") as f:
        return f.read(len(_LFS_MAGIC)) == _LFS_MAGIC


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _wrong_kind(root: Path) -> str | None:
    """What the directory is when it is clearly not the S2V release, else None."""
    index = _read_json(root / "model_index.json")
    if index is not None or (root / "model_index.json").exists():
        cls = (index or {}).get("_class_name", "unknown pipeline")
        return f"a diffusers pipeline checkpoint (model_index.json: {cls})"
    if (root / "high_noise_model").is_dir() or (root / "low_noise_model").is_dir():
        return "a Wan2.2 A14B two-expert release (high_noise_model/, low_noise_model/)"
    cfg = _read_json(root / DIT_CONFIG)
    if cfg is None:
        return None
    cls, kind = cfg.get("_class_name"), cfg.get("model_type")
    if cls == DIT_CLASS or kind == "s2v":
        return None
    if cls in (None, "WanModel") and kind is not None:
        return f"a Wan {kind!r} release (config.json: model_type {kind!r})"
    return f"a {cls or 'non-S2V'} checkpoint (config.json: _class_name {cls!r})"


def _dit_parts(root: Path, missing: list[str]) -> tuple[Path | None, tuple[Path, ...]]:
    """(index or None, shard files present) of the DiT; appends what is missing or unreadable to ``missing``."""
    if not (root / DIT_CONFIG).is_file():
        missing.append(DIT_CONFIG)
    elif _read_json(root / DIT_CONFIG) is None:
        missing.append(f"a readable {DIT_CONFIG} (it is not a JSON object)")
    index = root / DIT_INDEX
    if index.is_file():
        data = _read_json(index)
        if data is None or not isinstance(data.get("weight_map"), dict):
            missing.append(f"a readable weight_map in {DIT_INDEX}")
            return index, ()
        names = sorted(set(data["weight_map"].values()))
        shards = tuple(root / n for n in names)
        missing.extend(f"DiT shard {n}" for n, p in zip(names, shards, strict=True) if not p.is_file())
        return index, tuple(p for p in shards if p.is_file())
    single = root / DIT_SINGLE
    if single.is_file():
        return None, (single,)
    shards = sorted(root.glob("diffusion_pytorch_model-*.safetensors"))
    missing.append(DIT_INDEX + (f" (the index of the {len(shards)} shards present)" if shards else " and its shards"))
    return None, ()


def _incomplete(root: Path, missing: list[str], pointers: list[str], what: str) -> ModelError:
    parts = [f"missing {', '.join(missing)}"] if missing else []
    if pointers:
        parts.append(f"git-lfs pointers instead of weights: {', '.join(pointers)} (run `git lfs pull`)")
    return ModelError(f"weights directory {root} is not a complete {what}: {'; '.join(parts)}", hint=HINT)


def _lfs_pointers(root: Path, files: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in files if p.is_file() and _is_lfs_pointer(p)]


def _existing_dir(path: Path | str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"weights directory {root} does not exist or is not a directory", hint=HINT)
    return root


def check_dit_dir(path: Path | str) -> tuple[Path | None, tuple[Path, ...]]:
    """The DiT part alone (config, index, shards), as the DiT loader reads it: (index or None, shards).

    ModelError naming everything missing. (:func:`check_s2v_dir` checks the whole release with
    the same rules; this lets a DiT-only directory load.)
    """
    root = _existing_dir(path)
    missing: list[str] = []
    index, shards = _dit_parts(root, missing)
    pointers = _lfs_pointers(root, list(shards))
    if missing or pointers:
        raise _incomplete(root, missing, pointers, "Wan2.2-S2V DiT checkpoint")
    return index, shards


def dit_weight_map(path: Path | str) -> dict[str, str]:
    """Tensor name -> shard file name of a checked DiT directory (the index's map, or the single file's keys)."""
    root = Path(path)
    index, shards = check_dit_dir(root)
    if index is not None:
        return dict(_read_json(index)["weight_map"])  # type: ignore[index]
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(shards[0]), framework="pt") as f:
            return dict.fromkeys(f.keys(), shards[0].name)
    except (OSError, SafetensorError) as e:
        raise ModelError(f"cannot read {shards[0]}: {e}", hint=HINT) from e


def check_s2v_dir(path: Path | str) -> S2VLayout:
    """The layout of an official Wan2.2-S2V-14B directory; ModelError naming all that is missing or wrong."""
    root = _existing_dir(path)
    kind = _wrong_kind(root)
    if kind is not None:
        raise ModelError(f"weights directory {root} holds {kind}, not the Wan2.2-S2V-14B release", hint=HINT)
    missing: list[str] = []
    index, shards = _dit_parts(root, missing)
    for name in (VAE_FILE, T5_FILE):
        if not (root / name).is_file():
            missing.append(name)
    tok = root / TOKENIZER_DIR
    if not (tok / "tokenizer_config.json").is_file():
        missing.append(f"{TOKENIZER_DIR}/tokenizer_config.json")
    if not ((tok / "tokenizer.json").is_file() or (tok / "spiece.model").is_file()):
        missing.append(f"{TOKENIZER_DIR}/tokenizer.json (or spiece.model)")
    w2v = root / WAV2VEC_DIR
    for name in ("config.json", "preprocessor_config.json"):
        if not (w2v / name).is_file():
            missing.append(f"{WAV2VEC_DIR}/{name}")
    w2v_weights = [w2v / n for n in ("model.safetensors", "pytorch_model.bin") if (w2v / n).is_file()]
    if not w2v_weights:
        missing.append(f"{WAV2VEC_DIR}/model.safetensors (or pytorch_model.bin)")
    pointers = _lfs_pointers(root, [*shards, root / VAE_FILE, root / T5_FILE, *w2v_weights[:1]])
    if missing or pointers:
        raise _incomplete(root, missing, pointers, "Wan2.2-S2V-14B checkpoint")
    return S2VLayout(root, root / DIT_CONFIG, index, shards, root / VAE_FILE, root / T5_FILE, tok, w2v)


def load_pth(path: Path) -> dict[str, torch.Tensor]:
    """A ``.pth`` state dict read with ``weights_only=True``, memory-mapped when the file allows it."""
    try:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:  # legacy (non-zip) serialisation cannot be memory-mapped
            log.info("%s cannot be memory-mapped (%s); reading it into memory", path, e)
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise ModelError(f"{path} is not a readable PyTorch weights file: {e}", hint=HINT) from e
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ModelError(f"{path} does not hold a state dict of tensors", hint=HINT)
    return sd


def assign_state_dict(model: torch.nn.Module, sd: dict[str, torch.Tensor], what: str, source: Path) -> None:
    """Load ``sd`` into a (meta-initialised) model with strict key and shape checks, sharing its storage."""
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    extra = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or extra or shapes:
        bits = []
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes)):
            if keys:
                bits.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise ModelError(f"{source} does not match the {what}: {', '.join(bits)}", hint=HINT)
    model.load_state_dict(sd, strict=True, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise ModelError(f"{source}: the {what} has tensors without weights (e.g. {left[0]})", hint=HINT)
