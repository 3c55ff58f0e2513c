"""One line per contract violation: the field, the value, the rule — and for a misspelt key, the right one.

Every place that validates what a person typed or edited (a request's flags, a plan, an
analysis, a manifest, a style) turns pydantic's errors into lines here, so an unknown key
always comes with a suggestion (``'fsp' is not a field — did you mean 'fps'?``) and a value
always appears escaped and shortened.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = tuple[int | str, ...]


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the choice closest to ``word``, or ``''`` when none is close."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def unknown(what: str, word: str, choices: Iterable[str]) -> str:
    """``unknown <what> 'word' — did you mean 'x'?``, else the choices listed."""
    choices = sorted(set(choices))
    hint = suggest(word, choices)
    return f"unknown {what} '{word}'" + (hint or f" (use one of {', '.join(choices[:16])})")


def shown(value: Any, width: int = 40) -> str:
    """A value as it appears in a message: repr-escaped and at most ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, list, dict, tuple, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            out += _models_in(arg)
    return out


def fields_at(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (empty when unknown)."""
    current = [model] if model is not None else []
    for part in loc:
        if isinstance(part, int) or not current:
            continue
        nxt: list[type[BaseModel]] = []
        for m in current:
            f = m.model_fields.get(part)
            if f is not None:
                nxt += _models_in(f.annotation)
        current = nxt or current
    return sorted({name for m in current for name in m.model_fields})


def line(err: Any, model: type[BaseModel] | None = None, where: str | None = None) -> str:
    """One pydantic error (a dict of ``ValidationError.errors()``) as one line; ``where`` names its place."""
    loc: Loc = tuple(err.get("loc") or ())
    place = where if where is not None else ".".join(str(x) for x in loc)
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    kind = err.get("type", "")
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        parent = ".".join(str(x) for x in loc[:-1])
        known = fields_at(model, loc[:-1])
        text = unknown("field", key, known) if known else f"unknown field '{key}'"
        return f"{where}: {text}" if where else (f"{parent}: {text}" if parent else text)
    if kind == "missing":
        return f"{place}: is missing" if place else "a required field is missing"
    if kind in ("finite_number",):
        msg = "must be a finite number"
    if kind == "value_error" or "input" not in err:
        return f"{place}: {msg}" if place else msg
    return f"{place} = {shown(err['input'])}: {msg}" if place else f"{shown(err['input'])}: {msg}"


def lines(
    error: ValidationError, model: type[BaseModel] | None = None, where: Callable[[Loc], str | None] | None = None
) -> list[str]:
    """Every error of ``error`` as one line each; ``where(loc)`` may rename a location (a shot's id)."""
    return [line(e, model, where(tuple(e["loc"])) if where else None) for e in error.errors()]


def first_problem(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """The first error as one line, with a count of the rest."""
    all_lines = lines(error, model)
    more = f" (and {len(all_lines) - 1} more problem(s))" if len(all_lines) > 1 else ""
    return all_lines[0] + more
