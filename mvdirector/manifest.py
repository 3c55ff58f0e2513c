"""Batch manifests: a YAML or CSV list of songs → validated render jobs (`mvdirector.batch` runs them).

A manifest is YAML (a list of jobs, or ``{defaults: {...}, jobs: [...]}``) or CSV (one job a
row, a header naming the fields). Fields of a job:

``song`` and ``reference`` (required), ``name``, ``style``, ``lyrics``, ``size`` (``WxH``),
``fps``, ``seed``, ``renderer``, ``plan``, ``vocals``, ``language``, ``captions`` (burn, soft, both,
none), ``formats`` (a list or ``16:9,9:16``; in CSV quote it), ``output``, ``workdir`` and
``overrides`` — any other `RenderRequest` field (``crf``, ``codec``, ``beats``, ``asr``,
``colour_match``, …) as a mapping (in CSV: JSON text or ``key=value;key=value``). Relative paths are relative to the
manifest. The default work directory is ``<output stem>.mvd`` beside the output (or
``<song>.mvd`` when there is no output), so every job must end up with its own.

Every job is checked before anything runs — by the same `RenderRequest.preflight` as
``mvdirector render`` — and every problem is reported at once (`BatchError.problems`).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mvdirector.errors import InputError, MvError
from mvdirector.request import RenderRequest
from mvdirector.rules import parse_size


class _ManifestLoader(yaml.SafeLoader):
    """Safe YAML without YAML 1.1's base-60 numbers: ``16:9`` and ``9:16`` stay text (``--formats``), not 969."""


_ManifestLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _digit in "0123456789":
    _ManifestLoader.yaml_implicit_resolvers.setdefault(_digit, []).insert(
        0, ("tag:yaml.org,2002:str", re.compile(r"^[0-9]+(?::[0-9]+)+$")))


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ManifestLoader)  # noqa: S506 - a SafeLoader subclass


JOB_FIELDS = {
    "name", "song", "reference", "ref", "style", "lyrics", "vocals", "language", "size", "fps", "seed", "renderer",
    "plan", "output", "out", "workdir", "overrides", "captions", "formats",
}
NOT_OVERRIDABLE = {"song", "reference", "out", "workdir", "lyrics", "plan", "vocals"}


class BatchError(MvError):
    """A manifest with problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str], manifest: Path) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"{problems[0]}{more}", f"fix {manifest.name}; `mvdirector batch --check` lists them all"
        )
        self.problems = problems


@dataclass(frozen=True)
class BatchJob:
    """One validated job of a manifest."""

    index: int
    name: str
    request: RenderRequest


def _parse_overrides(value: Any) -> dict[str, Any]:
    """Overrides from YAML (a mapping) or CSV (JSON text or ``k=v;k=v``)."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = str(value).strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("overrides must be a mapping")
        return data
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        k, sep, v = part.partition("=")
        if not sep:
            raise ValueError(f"override '{part}' is not key=value")
        out[k.strip()] = _yaml(v.strip())
    return out


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Raw job mappings of a YAML or CSV manifest, defaults applied (no validation yet)."""
    if not path.exists():
        raise InputError(f"manifest '{path}' does not exist", "give a .yaml or .csv list of jobs")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read manifest '{path}': {e}") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        return [
            {
                k.strip(): (v.strip() if isinstance(v, str) else v)
                for k, v in r.items()
                if k and v not in (None, "")
            }
            for r in rows
        ]
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError(f"manifest '{path.name}' is neither YAML nor CSV", "name it .yaml, .yml or .csv")
    try:
        data = _yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"manifest '{path}' is not valid YAML{where}", "fix the YAML syntax") from None
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = data.get("defaults") or {}
        unknown = set(data) - {"defaults", "jobs"}
        if unknown or not isinstance(defaults, dict):
            raise InputError(
                f"manifest '{path}' has top-level keys {sorted(unknown)}",
                "use only 'defaults' (a mapping) and 'jobs' (a list)",
            )
        data = data.get("jobs")
    if not isinstance(data, list) or not data:
        raise InputError(
            f"manifest '{path}' holds no jobs", "write a list of jobs, each with song and reference"
        )
    jobs = []
    for item in data:
        if isinstance(item, dict):
            merged = {**defaults, **item}
            if isinstance(defaults.get("overrides"), dict) and isinstance(item.get("overrides"), dict):
                merged["overrides"] = {**defaults["overrides"], **item["overrides"]}
            jobs.append(merged)
        else:
            jobs.append({"__invalid__": item})
    return jobs


def _check_job(i: int, raw: dict[str, Any], base: Path, problems: list[str]) -> BatchJob | None:
    """Validate one raw job; append a line per problem; return the job when it has none."""
    label = f"job {i + 1}"
    if "__invalid__" in raw:
        problems.append(f"{label}: is {type(raw['__invalid__']).__name__}, not a mapping of fields")
        return None
    if raw.get("song"):
        label += f" ({Path(str(raw['song'])).name})"
    n_before = len(problems)

    def bad(msg: str) -> None:
        problems.append(f"{label}: {msg}")

    for k in sorted(set(raw) - JOB_FIELDS):
        bad(f"unknown field '{k}' (fields: {', '.join(sorted(JOB_FIELDS - {'ref', 'out'}))})")
    raw = dict(raw)
    if "ref" in raw:
        raw.setdefault("reference", raw.pop("ref"))
    if "out" in raw:
        raw.setdefault("output", raw.pop("out"))
    try:
        over = _parse_overrides(raw.get("overrides"))
    except (ValueError, json.JSONDecodeError) as e:
        bad(f"overrides: {e}")
        over = {}
    for k in sorted(set(over) & NOT_OVERRIDABLE):
        bad(f"override '{k}' must be a job field, not an override")
        over.pop(k)

    def path_of(key: str, value: Any) -> Path | None:
        if value in (None, ""):
            return None
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else base / p

    fields: dict[str, Any] = dict(over)
    for key in ("song", "reference"):
        p = path_of(key, raw.get(key))
        if p is None:
            bad(f"'{key}' is missing")
        elif not p.is_file():
            bad(f"{key} '{raw[key]}' does not exist")
        fields[key] = p
    for key in ("lyrics", "plan", "vocals"):
        p = path_of(key, raw.get(key))
        if p is not None and not p.is_file():
            bad(f"{key} '{raw[key]}' does not exist")
        if p is not None:
            fields[key] = p
    for key in ("templates_dir", "asr_model"):
        if key in fields:
            fields[key] = path_of(key, fields[key])
    if fields.get("asr_model") is not None:
        fields["asr_model"] = str(fields["asr_model"])
    if "size" in raw:
        try:
            fields["width"], fields["height"] = parse_size(raw["size"])
        except ValueError as e:
            bad(str(e))
    for key in ("style", "fps", "seed", "renderer", "language", "captions", "formats"):
        if key in raw:
            fields[key] = raw[key]
    out = path_of("output", raw.get("output"))
    wd = path_of("workdir", raw.get("workdir"))
    if wd is None and out is not None:
        wd = out.with_suffix(".mvd")
    fields.update({k: v for k, v in (("out", out), ("workdir", wd)) if v is not None})
    req: RenderRequest | None = None
    if len(problems) == n_before:
        try:
            req = RenderRequest(**fields)
        except ValidationError as e:
            for err in e.errors():
                where = ".".join(str(x) for x in err["loc"])
                bad(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        except MvError as e:
            bad(e.one_line())
    if req is None:
        return None
    try:
        req.preflight()  # the same check as `mvdirector render`, before any job runs
    except MvError as e:
        bad(e.one_line())
        return None
    name = str(raw.get("name") or (req.out.stem if req.out else req.song.stem))
    return BatchJob(i, name, req)


def load_manifest(path: str | Path) -> list[BatchJob]:
    """Read and validate a manifest; raise BatchError listing every problem of every job."""
    path = Path(path)
    raws = read_manifest(path)
    base = path.resolve().parent
    problems: list[str] = []
    jobs = [j for i, r in enumerate(raws) if (j := _check_job(i, r, base, problems)) is not None]
    seen_out: dict[Path, str] = {}
    seen_wd: dict[Path, str] = {}
    for j in jobs:
        wd = j.request.resolved_workdir().resolve()
        label = f"job {j.index + 1} ({j.request.song.name})"
        for out in dict.fromkeys(p.resolve() for p in j.request.outputs()):  # videos, covers, lyric files
            if out in seen_out:
                problems.append(
                    f"{label}: output '{out}' is also the output of {seen_out[out]} — give each an output"
                )
                break
            seen_out.setdefault(out, label)
        if wd in seen_wd:
            problems.append(
                f"{label}: work directory '{wd}' is shared with {seen_wd[wd]} — give each an output "
                "or workdir"
            )
        seen_wd.setdefault(wd, label)
    names: dict[str, int] = {}
    for j in jobs:
        names[j.name] = names.get(j.name, 0) + 1
    jobs = [
        j if names[j.name] == 1 else BatchJob(j.index, f"{j.name}#{j.index + 1}", j.request) for j in jobs
    ]
    if problems:
        raise BatchError(problems, path)
    return jobs
