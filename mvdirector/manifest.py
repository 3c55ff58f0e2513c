"""Batch manifests: a YAML or CSV list of songs → validated render jobs (`mvdirector.batch` runs them).

A manifest is YAML (a list of jobs, or ``{defaults: {...}, jobs: [...]}``) or CSV (one job a
row, a header naming the fields). Fields of a job:

``song`` and ``reference`` (required; or ``references``, a list of photos and folders — in CSV
separated by ``;`` — the singer's first; ``singer`` names it when it is not), ``name``, ``style``,
``lyrics``, ``size`` (``WxH``), ``fps``, ``seed``, ``renderer``, ``plan``, ``vocals``, ``language``,
``captions`` (burn, soft, both, none), ``formats`` (a list or ``16:9,9:16``; in CSV quote it), ``output``,
``workdir`` and
``overrides`` — any other `RenderRequest` field (``crf``, ``codec``, ``beats``, ``asr``,
``colour_match``, …) as a mapping (in CSV: JSON text or ``key=value;key=value``). Relative paths are relative to the
manifest. The default work directory is ``<output stem>.mvd`` beside the output (or
``<song>.mvd`` when there is no output), so every job must end up with its own.

Every job is checked before anything runs — by the same `RenderRequest.preflight` as
``mvdirector render`` — and every problem is reported at once (`BatchError.problems`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvdirector.describe import lines, unknown
from mvdirector.errors import InputError, MvError
from mvdirector.outputs import check_together
from mvdirector.request import RenderRequest
from mvdirector.rules import parse_size

JOB_FIELDS = {
    "name", "song", "reference", "ref", "references", "singer", "style", "lyrics", "vocals", "language", "size",
    "fps", "seed", "renderer", "plan", "output", "out", "workdir", "overrides", "captions", "formats",
}
ROLES = {"-o": "output", "-o's cover image": "cover image", "--ref": "reference",
         "--singer": "singer", "the song": "song", "--lyrics": "lyrics", "--vocals": "vocals", "--plan": "plan"}
"""A request's roles (its flags) as a manifest names them."""
NOT_OVERRIDABLE = {"song", "reference", "references", "singer", "out", "workdir", "lyrics", "plan", "vocals"}


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
    """Overrides from YAML (a mapping) or CSV (JSON text or ``k=v;k=v``, each value read as safe YAML)."""
    from mvdirector.loaders import parse_json, parse_yaml

    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    text = str(value).strip()
    if text.startswith("{"):
        data = parse_json(text, "overrides", "(JSON)")
        if not isinstance(data, dict):
            raise ValueError("overrides must be a mapping")
        return data
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        k, sep, v = part.partition("=")
        if not sep:
            raise ValueError(f"override '{part}' is not key=value")
        out[k.strip()] = parse_yaml(v.strip(), "override", k.strip())
    return out


def _photo_list(value: Any) -> list[str]:
    """Photos of a job field: one path, a YAML list of them, or (CSV) paths separated by ``;``."""
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    return [str(x).strip() for x in items if str(x).strip()]


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Raw job mappings of a YAML or CSV manifest, defaults applied (no validation yet)."""
    from mvdirector.loaders import YAML_LIMIT, parse_yaml, read_text

    if not path.exists():
        raise InputError(f"manifest '{path}' does not exist", "give a .yaml or .csv list of jobs")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json", ".csv"):
        raise InputError(f"manifest '{path.name}' is neither YAML nor CSV", "name it .yaml, .yml or .csv")
    text, _ = read_text(path, "manifest", YAML_LIMIT)
    if suffix == ".csv":
        try:
            rows = list(csv.DictReader(text.splitlines()))
        except csv.Error as e:
            raise InputError(f"manifest '{path.name}' is not valid CSV: {e}", "fix the CSV") from None
        jobs = [
            {
                k.strip(): (v.strip() if isinstance(v, str) else v)
                for k, v in r.items()
                if k and v not in (None, "")
            }
            for r in rows
        ]
        jobs = [j for j in jobs if j]
        if not jobs:
            raise InputError(
                f"manifest '{path}' holds no jobs", "write a header line (song,reference,…) and one line per job"
            )
        return jobs
    data = parse_yaml(text, "manifest", path.name)
    defaults: dict[str, Any] = {}
    if isinstance(data, dict):
        defaults = data.get("defaults") or {}
        extra = set(data) - {"defaults", "jobs"}
        if extra or not isinstance(defaults, dict):
            raise InputError(
                f"manifest '{path}' has top-level keys {sorted(extra)}",
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
        bad(unknown("field", k, JOB_FIELDS))
    raw = dict(raw)
    if "ref" in raw:
        raw.setdefault("reference", raw.pop("ref"))
    if "out" in raw:
        raw.setdefault("output", raw.pop("out"))
    try:
        over = _parse_overrides(raw.get("overrides"))
    except MvError as e:
        bad(f"overrides: {e.message}")
        over = {}
    except ValueError as e:
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
    song = path_of("song", raw.get("song"))
    if song is None:
        bad("'song' is missing")
    elif not song.is_file():
        bad(f"song '{raw['song']}' does not exist")
    fields["song"] = song
    photos = _photo_list(raw.get("reference")) + _photo_list(raw.get("references"))
    if not photos:
        bad("'reference' is missing (the singer's photo; 'references' lists more)")
    for given in photos:
        p = path_of("reference", given)
        if p is not None and not p.exists():
            bad(f"reference '{given}' does not exist")
    if photos:
        fields["reference"] = path_of("reference", photos[0])
        fields["references"] = tuple(path_of("reference", x) for x in photos[1:])
    for key in ("lyrics", "plan", "vocals", "singer"):
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
            for found in lines(e, RenderRequest):
                bad(found)
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
    labels = {j.index: f"job {j.index + 1} ({j.request.song.name})" for j in jobs}
    problems += check_together([(labels[j.index], j.request.files()) for j in jobs], ROLES)
    names: dict[str, int] = {}
    for j in jobs:
        names[j.name] = names.get(j.name, 0) + 1
    jobs = [
        j if names[j.name] == 1 else BatchJob(j.index, f"{j.name}#{j.index + 1}", j.request) for j in jobs
    ]
    if problems:
        raise BatchError(problems, path)
    return jobs
