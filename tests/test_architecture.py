"""The house rules of the source tree, read from the code: module size, import cycles, stage entry points,
and that every flag a message names is a real flag."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mvdirector", "stages", "models")
MAX_LINES = 500

STAGE_ENTRIES = {"stages.analyze", "stages.reference", "stages.direct", "stages.render", "stages.assemble",
                 "stages.preview", "stages.otio_export", "stages.publish"}
"""The stages' public entry modules: the framework imports only the names in their ``__all__``."""


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None, ast.AST]]:
    """(module, imported name or None, node) of every import in the file, function-level ones included."""
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, str | None, ast.AST]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            out += [(mod, a.name, node) for a in node.names]
    return out


def _target(mod: str, attr: str | None) -> str | None:
    """The module of ours an import reaches (``from a import b`` reaches ``a.b`` when that is a module)."""
    t = f"{mod}.{attr}" if attr and f"{mod}.{attr}" in MODULES else mod
    while t and t not in MODULES:
        t = t.rpartition(".")[0]
    return t or None


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, long


def test_no_import_cycle():
    g = nx.DiGraph()
    for name, path in MODULES.items():
        for mod, attr, _ in _imports(name, path):
            t = _target(mod, attr)
            if t and t != name:
                g.add_edge(name, t)
    assert list(nx.simple_cycles(g)) == []


def _public(entry: str) -> set[str]:
    tree = ast.parse(MODULES[entry].read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{entry} declares no __all__")


def test_the_framework_reaches_stages_only_through_their_public_entries():
    wrong = []
    for name, path in MODULES.items():
        if not name.startswith("mvdirector"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for mod, attr, node in _imports(name, path):
            if not mod.startswith("stages"):
                continue
            entry = f"{mod}.{attr}" if mod == "stages" else mod
            if entry not in STAGE_ENTRIES:
                wrong.append(f"{name}: imports {entry}")
            elif mod == "stages":  # `from stages import analyze as analyze_stage`: check the attributes used
                alias = next(a.asname or a.name for a in node.names if a.name == attr)
                aliases[alias] = entry
            elif attr not in _public(entry):
                wrong.append(f"{name}: imports {attr} from {entry}, which is not in its __all__")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                entry = aliases[node.value.id]
                if node.attr not in _public(entry):
                    wrong.append(f"{name}: uses {entry}.{node.attr}, which is not in its __all__")
    assert wrong == []


def test_no_backend_is_named_in_the_framework():
    named = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "mvdirector").rglob("*.py")
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""==\s*["'](dit|procedural|s2v)["']|["'](dit|procedural|s2v)["']\s*==""", line)
    ]
    assert named == []


def _flags() -> set[str]:
    import typer

    from mvdirector.cli import app

    group = typer.main.get_command(app)
    return {opt for cmd in group.commands.values() for p in cmd.params for opt in p.opts if opt.startswith("--")}


@pytest.mark.parametrize("package", ["mvdirector", "stages", "models"])
def test_every_flag_a_message_names_exists(package):
    flags = _flags() | {"--help"}
    other_tools = {"--head", "--port"}  # `ray start --head --port PORT`
    named = set()
    for p in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named |= {(m, str(p.relative_to(ROOT))) for m in re.findall(r"(?<![\w-])--[a-z][a-z-]*", node.value)}
    unknown = sorted((flag, where) for flag, where in named if flag not in flags | other_tools)
    assert unknown == []
