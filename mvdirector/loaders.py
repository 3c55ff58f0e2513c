"""Read what a person hands the program — JSON, YAML, text files — with limits, in one place.

Every file a person gives (a plan, an analysis, a manifest, a style, lyrics) is read here:

- its size is bounded (``limit`` bytes) before it is read;
- JSON and YAML are parsed with a depth limit (``MAX_DEPTH``), a node limit (YAML aliases
  cannot blow up), short numbers only (``MAX_NUMBER_CHARS``: no 5000-digit integers) and
  finite numbers only (no ``NaN``, ``Infinity``, ``1e999``, ``.inf``); YAML with the safe
  loader only, so no tag ever constructs an object;
- text is decoded by its byte-order mark, else as UTF-8, else as Windows-1252 with a warning
  that says so; binary data is refused.

Each problem is one `InputError` naming the file, what is wrong and how to fix it.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mvdirector.errors import InputError, MvError

MAX_DEPTH = 64
"""Deepest nesting of lists and mappings a file may have (a plan needs 6)."""
MAX_NODES = 2_000_000
"""Most values a parsed file may hold, YAML aliases counted each time they are used."""
MAX_NUMBER_CHARS = 40
"""Longest number a file may spell out (``-1.2345678901234567e-300`` has 24 characters)."""
MAX_INT = 2**63
"""Largest integer magnitude a file may hold."""
JSON_LIMIT = 16 << 20
"""Default size limit of a JSON file (an analysis of a two-hour song is about 4 MB)."""
YAML_LIMIT = 1 << 20
"""Size limit of a YAML file (a style or a manifest of thousands of jobs is far smaller)."""
TEXT_LIMIT = 2 << 20
"""Default size limit of a text file (the longest lyrics run to tens of kilobytes)."""

T = TypeVar("T", bound=BaseModel)


class _Refused(ValueError):
    """A value the parser must not accept (raised from inside the JSON hooks)."""


# ---------------------------------------------------------------------------- bytes


def read_bytes(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; InputError naming ``what`` otherwise."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{what} '{p}' does not exist", "check the path") from None
    except OSError as e:
        raise InputError(f"cannot read {what} '{p}': {e.strerror or e}", "check the path and its permissions") from None
    if p.is_dir():
        raise InputError(f"{what} '{p}' is a folder, not a file", "give the file itself")
    if not p.is_file():
        raise InputError(f"{what} '{p}' is not a regular file", "give a file saved on disk")
    if st.st_size > limit:
        raise InputError(
            f"{what} '{p}' is {st.st_size / 1e6:.1f} MB; at most {limit / 1e6:.1f} MB is read",
            "check that this is the right file",
        )
    try:
        with open(p, "rb") as f:
            return f.read(limit + 1)[: limit + 1]
    except OSError as e:
        raise InputError(f"cannot read {what} '{p}': {e.strerror or e}", "check its permissions") from None


# ---------------------------------------------------------------------------- text

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = set("\t\n\r\f\v")


def _utf16_without_bom(raw: bytes) -> str | None:
    """``'utf-16-le'``/``'utf-16-be'`` when ``raw`` looks like mostly-ASCII UTF-16 text with no BOM."""
    if len(raw) < 4 or len(raw) % 2:
        return None
    even, odd = raw[0::2], raw[1::2]
    n = len(even)
    if odd.count(0) >= 0.9 * n and even.count(0) <= 0.05 * n:
        return "utf-16-le"
    if even.count(0) >= 0.9 * n and odd.count(0) <= 0.05 * n:
        return "utf-16-be"
    return None


def _first_control(text: str) -> tuple[int, str] | None:
    """(line number, escaped character) of the first control character that text files do not hold."""
    for i, ch in enumerate(text):
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc":
            return text.count("\n", 0, i) + 1, f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
    return None


def decode_text(raw: bytes, what: str, name: str) -> tuple[str, str | None]:
    """Text of ``raw`` and a warning when its encoding had to be guessed; InputError for binary data.

    Byte-order mark first (UTF-8, UTF-16, UTF-32), else UTF-8, else UTF-16 without a mark when
    every other byte is zero, else Windows-1252 (with the warning).
    """
    warning = None
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError:
                raise InputError(f"{what} '{name}' starts with a {enc} mark but is not {enc} text",
                                 "save it again as UTF-8") from None
            break
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            enc = _utf16_without_bom(raw)
            if enc is None and b"\x00" in raw:
                raise InputError(f"{what} '{name}' is binary data, not text", "give a plain-text file") from None
            text = raw.decode(enc) if enc else raw.decode("cp1252", errors="replace")
            if not enc and "\ufffd" in text:
                text = raw.decode("latin-1")
            warning = (
                f"{what} '{name}' is not UTF-8; read it as {(enc or 'Windows-1252').upper()} — "
                "save it as UTF-8 if any letter looks wrong"
            )
        else:
            enc16 = _utf16_without_bom(raw) if b"\x00" in raw else None
            if enc16:
                text = raw.decode(enc16, errors="replace")
                warning = f"{what} '{name}' has no byte-order mark; read it as {enc16.upper()} — save it as UTF-8"
    bad = _first_control(text)
    if bad is not None:
        line, ch = bad
        raise InputError(
            f"{what} '{name}' is not plain text: control character {ch} on line {line}",
            "give a plain-text file (binary data and terminal codes are refused)",
        )
    return text, warning


def read_text(path: str | Path, what: str, limit: int = TEXT_LIMIT) -> tuple[str, str | None]:
    """A text file's content and a warning when its encoding was guessed (see `decode_text`)."""
    p = Path(path)
    return decode_text(read_bytes(p, what, limit), what, p.name)


# ---------------------------------------------------------------------------- structure


def _where(trail: Any) -> str:
    """``at grades.default.saturation`` from a trail of (parent trail, key) pairs; ``''`` at the top."""
    keys: list[str] = []
    while trail is not None:
        trail, key = trail
        keys.append(f"[{key}]" if isinstance(key, int) else str(key))
    return " at " + ".".join(reversed(keys)).replace(".[", "[") if keys else ""


def _check_tree(data: Any, what: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, more than MAX_NODES values, non-finite or huge numbers."""
    stack: list[tuple[Any, int, Any]] = [(data, 0, None)]
    nodes = 0
    while stack:
        node, depth, trail = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _Refused(f"holds more than {MAX_NODES:,} values")
        if isinstance(node, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise _Refused(f"is nested more than {MAX_DEPTH} levels deep")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for k, v in items:
                if isinstance(node, dict) and not isinstance(k, str | int | float | bool) and k is not None:
                    raise _Refused(f"has a key of type {type(k).__name__}{_where(trail)}; keys must be plain words")
                stack.append((v, depth + 1, (trail, k)))
        elif isinstance(node, float) and not math.isfinite(node):
            raise _Refused(f"holds the number {node}{_where(trail)}; numbers must be finite")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= MAX_INT:
            raise _Refused(f"holds an integer of {len(str(abs(node)))} digits{_where(trail)}; at most 18 are read")


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds a number {len(text)} characters long ('{text[:12]}…')")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text}, which is out of range")
    return value


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds an integer of {len(text.lstrip('-'))} digits ('{text[:12]}…')")
    return int(text)


def _json_constant(text: str) -> Any:
    raise _Refused(f"holds {text}, which JSON does not allow; numbers must be finite")


@contextlib.contextmanager
def _refusals(what: str, name: str, hint: str) -> Iterator[None]:
    """What JSON and YAML reads share: a refused value, too deep a nesting or an unreadable number (Python's
    own limit on integer digits) becomes one InputError naming the file."""
    try:
        yield
    except _Refused as e:
        raise InputError(f"{what} '{name}' {e}", hint) from None
    except RecursionError:
        raise InputError(f"{what} '{name}' is nested too deeply", hint) from None
    except ValueError as e:
        raise InputError(f"{what} '{name}' holds a value that cannot be read: {e}", "fix the file") from None


def parse_json(text: str | bytes, what: str, name: str) -> Any:
    """Parse JSON text with the limits of this module; InputError naming the line of a syntax error."""
    with _refusals(what, name, "fix the file or make it again"):
        try:
            data = json.loads(text, parse_float=_json_float, parse_int=_json_int, parse_constant=_json_constant)
        except json.JSONDecodeError as e:
            raise InputError(
                f"{what} '{name}' is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                "fix the syntax or make the file again",
            ) from None
        except UnicodeDecodeError:
            raise InputError(f"{what} '{name}' is not UTF-8 JSON", "save it as UTF-8") from None
        _check_tree(data, what)
    return data


def load_json(path: str | Path, what: str, limit: int = JSON_LIMIT) -> Any:
    """A JSON file, read and parsed with the limits of this module."""
    p = Path(path)
    text, _ = decode_text(read_bytes(p, what, limit), what, p.name)
    return parse_json(text, what, p.name)


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain data only: no tag constructs an object), in pure Python, without YAML 1.1's
    base-60 numbers: ``16:9`` and ``9:16`` stay text (``--formats`` in a manifest), not 969 and 556."""


_SafeLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _digit in "0123456789":
    _SafeLoader.yaml_implicit_resolvers.setdefault(_digit, []).insert(
        0, ("tag:yaml.org,2002:str", re.compile(r"^[0-9]+(?::[0-9]+)+$")))


def parse_yaml(text: str, what: str, name: str) -> Any:
    """Parse YAML text safely with the limits of this module; InputError naming the line of a problem."""
    if len(text) > YAML_LIMIT:
        raise InputError(f"{what} '{name}' is over {YAML_LIMIT >> 20} MB of YAML", "check that this is the right file")
    with _refusals(what, name, "fix the file"):
        try:
            data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - _SafeLoader is a SafeLoader
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or "syntax error"
            raise InputError(f"{what} '{name}' is not valid YAML{where}: {problem}", "fix the YAML syntax") from None
        _check_tree(data, what)
    return data


def load_yaml(path: str | Path, what: str) -> tuple[Any, str | None]:
    """A YAML file (and the warning of its text decoding), read and parsed with the limits of this module."""
    p = Path(path)
    text, warning = read_text(p, what, YAML_LIMIT)
    return parse_yaml(text, what, p.name), warning


# ---------------------------------------------------------------------------- contracts


def load_contract(
    path: str | Path, model: type[T], what: str, describe: Callable[[ValidationError], str] | None = None
) -> T:
    """A JSON file validated as ``model``; one InputError naming the file, the field and the rule otherwise."""
    from mvdirector.describe import first_problem

    p = Path(path)
    data = load_json(p, what)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        line = describe(e) if describe else first_problem(e, model)
        raise InputError(f"{what} '{p.name}': {line}", f"give a {what} made by mvdirector, or fix that field") from None
    except MvError:
        raise
