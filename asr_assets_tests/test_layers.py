"""The layers of asr_assets (docs/layers.md): every import points down, no import cycle, one reader of the
environment.

The module graph is read from the source (ast), not by importing it: every `import asr_assets...` and
`from asr_assets... import ...`, at the top of a module or inside a function (a deferred import is still an
arrow). `python -m asr_assets_tests.test_layers` prints the graph's arrows between layers and any cycle.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "asr_assets"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# Bottom first. A module may import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("asr_assets", "asr_assets.settings", "asr_assets.hashing", "asr_assets.report_page",
                    "asr_assets.samples")),
    ("engine", ("asr_assets.asr",)),
    ("platform", ("asr_assets.platform",)),
    ("defs", ("asr_assets.defs",)),
    ("code location", ("asr_assets.definitions",)),
    ("local", ("asr_assets.local",)),
    ("cli", ("asr_assets.cli",)),
)  # fmt: skip
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
# The only module that reads (or writes) the environment.
ENVIRONMENT_READERS = {"asr_assets.settings"}


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the package (a package is its __init__.py)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: Iterable[str]) -> str:
    """The module `name` refers to: itself, else its nearest enclosing module (`pkg.mod.function` -> `pkg.mod`)."""
    known = set(modules)
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def arrows(modules: dict[str, Path]) -> list[Arrow]:
    """Every import of an asr_assets module by an asr_assets module, wherever it is in the file."""
    found = []
    for source, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the source's package upwards
                    package = source if is_package else source.rsplit(".", 1)[0]
                    package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{package}.{base}" if base else package
                # `from pkg import mod` imports the module pkg.mod when there is one, else a name of pkg
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target == PACKAGE or target.startswith(PACKAGE + "."):
                    resolved = _resolve(target, modules)
                    if resolved != source:
                        found.append(Arrow(source, resolved, node.lineno))
    return found


def layer_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            # the bare package (asr_assets/__init__.py) is foundation; its subpackages have their own layers
            matches = module == prefix or (prefix != PACKAGE and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return best[1] if best else None


def upward(found: Iterable[Arrow]) -> list[str]:
    """The arrows that point up (or to a module with no layer), as messages."""
    bad = []
    for arrow in found:
        source, target = layer_of(arrow.source), layer_of(arrow.target)
        if source is None or target is None:
            bad.append(f"{arrow}: {arrow.source if source is None else arrow.target} has no layer (LAYERS)")
        elif RANK[target] > RANK[source]:
            bad.append(f"{arrow}: {source} must not import {target}")
    return bad


def cycles(found: Iterable[Arrow]) -> list[list[str]]:
    """Every strongly connected group of modules (Tarjan), sorted: each is an import cycle."""
    graph: dict[str, set[str]] = {}
    for arrow in found:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def environment_reads(modules: dict[str, Path]) -> list[str]:
    """`os.environ` / `os.getenv` / `from os import environ, getenv` outside ENVIRONMENT_READERS."""
    found = []
    for module, path in modules.items():
        if module in ENVIRONMENT_READERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            reads = (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in ("environ", "getenv", "environb", "getenvb")
            ) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in ("environ", "getenv", "environb", "getenvb") for a in node.names)
            )
            if reads:
                found.append(f"{module} (line {node.lineno})")
    return found


def test_every_module_has_a_layer_and_every_import_points_down():
    """defs never imports local; platform never imports defs or local; the engine imports none of them."""
    modules = module_files()
    assert [m for m in modules if layer_of(m) is None] == []
    assert upward(arrows(modules)) == []


def test_there_is_no_import_cycle_under_asr_assets():
    assert cycles(arrows(module_files())) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    """The rules themselves, on made-up arrows: what they must refuse, they refuse."""
    refused = [
        Arrow("asr_assets.defs.resources", "asr_assets.local.commands", 1),
        Arrow("asr_assets.platform.registry", "asr_assets.defs.resources", 1),
        Arrow("asr_assets.platform.erasure", "asr_assets.local.landing", 1),
        Arrow("asr_assets.asr.transcribe", "asr_assets.platform.sql", 1),
        Arrow("asr_assets.settings", "asr_assets.asr.audio", 1),
        Arrow("asr_assets.platform.x", "asr_assets.somewhere_new", 1),
    ]
    assert len(upward(refused)) == len(refused)
    allowed = [
        Arrow("asr_assets.local.commands", "asr_assets.defs.dbt", 1),
        Arrow("asr_assets.local.commands", "asr_assets.platform.erasure", 1),
        Arrow("asr_assets.defs.resources", "asr_assets.platform.embedded_pg", 1),
        Arrow("asr_assets.platform.languages", "asr_assets.asr.tokenizer", 1),
        Arrow("asr_assets.cli", "asr_assets.local.commands", 1),
    ]
    assert upward(allowed) == []
    loop = [
        Arrow("asr_assets.defs.a", "asr_assets.defs.b", 1),
        Arrow("asr_assets.defs.b", "asr_assets.defs.a", 9),
    ]
    assert cycles(loop) == [["asr_assets.defs.a", "asr_assets.defs.b"]]


def test_the_graph_is_read_from_top_level_and_deferred_imports():
    """A function-level import is an arrow too (local/commands.py imports platform.erasure inside `erase`)."""
    found = {(a.source, a.target) for a in arrows(module_files())}
    assert ("asr_assets.local.commands", "asr_assets.platform.erasure") in found
    assert ("asr_assets.defs.resources", "asr_assets.platform.embedded_pg") in found
    assert ("asr_assets.definitions", "asr_assets.defs") in found


def test_asr_assets_never_imports_the_benchmarks_or_the_tests():
    """benchmarks/ and the tests stand beside the package: they import it, never the other way."""
    outside = ("benchmarks", "benchmarks_tests", "asr_assets_tests")
    found = []
    for module, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [f"{module} -> {n}" for n in names if n.split(".")[0] in outside]
    assert found == []


def test_only_settings_reads_the_environment():
    assert environment_reads(module_files()) == []


if __name__ == "__main__":
    modules = module_files()
    found = arrows(modules)
    between = Counter((layer_of(a.source), layer_of(a.target)) for a in found)
    for (source, target), n in sorted(between.items(), key=lambda kv: (RANK[kv[0][0]], RANK[kv[0][1]])):
        print(f"{source:>13} -> {target:<13} {n}")
    print("upward:", upward(found) or "none")
    print("cycles:", cycles(found) or "none")
    print("environment read outside settings.py:", environment_reads(modules) or "none")
