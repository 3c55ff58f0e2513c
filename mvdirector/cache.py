"""Cache keys: sha256 of canonical JSON of a stage's name, VERSION, config and inputs (DESIGN §5)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from mvdirector import __version__


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, no whitespace, pydantic models dumped in JSON mode."""

    def default(o: Any) -> Any:
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        if hasattr(o, "__fspath__"):
            return str(o)
        raise TypeError(f"cannot fingerprint {type(o).__name__}")

    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default, ensure_ascii=False)


def cache_key(stage: str, version: str, config: Any = None, inputs: Any = None, **extra: Any) -> str:
    """Hex sha256 naming one stage output: stage, its VERSION, config, input fingerprints, package version."""
    payload = {
        "stage": stage,
        "version": version,
        "config": config,
        "inputs": inputs,
        "package": __version__,
        **extra,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _without(obj: Any, keys: frozenset[str]) -> Any:
    if isinstance(obj, dict):
        return {k: _without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_without(v, keys) for v in obj]
    return obj


def model_fingerprint(model: BaseModel, ignore: tuple[str, ...] = ("path",)) -> str:
    """sha256 of a contract's canonical JSON, for use as an input fingerprint.

    Fields named in ``ignore`` are left out at every depth. By default that is ``path``:
    contracts record where a file was found *and* its sha256, and only the content should
    decide what is stale — moving a song or a work directory must not re-render anything.
    """
    data = _without(model.model_dump(mode="json"), frozenset(ignore))
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
