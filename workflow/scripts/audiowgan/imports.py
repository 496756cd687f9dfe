"""Which shared-module files a rule script runs: its ``audiowgan`` imports, followed through the package.

Snakemake's code trigger looks at a ``script:`` file alone, not at what it imports. The rules list
these files as inputs (``common.smk`` computes them with :func:`module_files`), so editing a module
reruns exactly the rules whose scripts import it, directly or through other modules. Imports inside
functions count too: they run when the function does. Reads source text with :mod:`ast`; imports
nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "audiowgan"
PACKAGE_DIR = Path(__file__).resolve().parent


def _imported(tree: ast.AST, *, in_package: bool) -> set[str]:
    """Names of package modules imported by ``tree`` (absolute ``audiowgan...`` or, inside it, relative)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] == PACKAGE:
                parts = node.module.split(".")
            elif node.level == 1 and in_package:
                parts = [PACKAGE, *(node.module.split(".") if node.module else [])]
            else:
                continue
            if len(parts) > 1:
                found.add(parts[1])  # from audiowgan.x import y / from .x import y
            else:
                found.update(alias.name for alias in node.names)  # from audiowgan import x, y / from . import x
    return {name for name in found if (PACKAGE_DIR / f"{name}.py").is_file()}


def module_names(script: str | Path) -> list[str]:
    """Sorted names of the package modules ``script`` imports, transitively."""
    todo = _imported(ast.parse(Path(script).read_text()), in_package=False)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _imported(ast.parse((PACKAGE_DIR / f"{name}.py").read_text()), in_package=True)
    return sorted(seen)


def module_files(script: str | Path) -> list[Path]:
    """The files of :func:`module_names` plus the package's ``__init__.py`` (any import runs it)."""
    names = module_names(script)
    return [PACKAGE_DIR / "__init__.py", *(PACKAGE_DIR / f"{n}.py" for n in names)] if names else []
