"""Which shared-module files a rule script runs: its ``audiowgan`` imports, followed through the package.

Snakemake's code trigger looks at a ``script:`` file alone, not at what it imports. The rules list
these files as inputs (``common.smk`` computes them with :func:`module_files`), so editing a module
reruns exactly the rules whose scripts import it, directly or through other modules. Imports inside
functions count too: they run when the function does. Modules are named by their dotted path below
the package (``nn.train``, ``core.settings``). Reads source text with :mod:`ast`; imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "audiowgan"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _module_file(name: str) -> Path | None:
    """The file of module ``name`` (dotted, below the package), or None for a package or a non-module."""
    path = PACKAGE_DIR.joinpath(*name.split(".")).with_suffix(".py")
    return path if name and path.is_file() else None


def _resolve(node: ast.ImportFrom, module: str | None) -> list[str] | None:
    """The absolute dotted name ``from ... import`` reads from (relative forms resolved in ``module``)."""
    if node.level == 0:
        return node.module.split(".") if node.module else None
    if module is None:  # a relative import outside the package
        return None
    base = [PACKAGE, *module.split(".")][: -node.level]
    return [*base, *(node.module.split(".") if node.module else [])]


def imported(tree: ast.AST, *, module: str | None = None) -> set[str]:
    """Dotted names (below the package) of the package modules ``tree`` imports.

    ``module``: the dotted name of the module ``tree`` is (for its relative imports), None for a script.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE:
                    found.add(".".join(parts[1:]))
        elif isinstance(node, ast.ImportFrom):
            parts = _resolve(node, module)
            if not parts or parts[0] != PACKAGE:
                continue
            below = ".".join(parts[1:])
            found.add(below)  # from audiowgan.nn.train import x
            found.update(f"{below}.{a.name}".lstrip(".") for a in node.names)  # from audiowgan.nn import train
    return {name for name in found if _module_file(name) is not None}


def module_names(script: str | Path) -> list[str]:
    """Sorted dotted names of the package modules ``script`` imports, transitively."""
    todo = imported(ast.parse(Path(script).read_text()))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= imported(ast.parse(_module_file(name).read_text()), module=name)
    return sorted(seen)


def module_files(script: str | Path) -> list[Path]:
    """The files of :func:`module_names` plus the ``__init__.py`` of every package on their way (any import
    runs them): the package's first."""
    names = module_names(script)
    if not names:
        return []
    inits = {PACKAGE_DIR / "__init__.py"}
    inits.update(PACKAGE_DIR.joinpath(*n.split(".")[:-1], "__init__.py") for n in names if "." in n)
    ordered = [PACKAGE_DIR / "__init__.py", *sorted(inits - {PACKAGE_DIR / "__init__.py"})]
    return [*ordered, *(_module_file(n) for n in names)]
