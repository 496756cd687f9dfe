"""The package's folders are its layers, and the walls between them hold (checked by reading imports with ast).

- only ``audiowgan/nn`` imports TensorFlow or Keras, anywhere under workflow/;
- arrows point down: a module imports its own folder and the folders listed before its own in
  ``audiowgan.LAYERS``, never one listed after it; rule scripts import modules, never the reverse;
- what the Snakefile imports while it parses (common.smk) loads neither librosa, soundfile nor TensorFlow;
- every rule in ``audiowgan.RULES`` has its script and its module; no file is longer than 500 lines.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

import audiowgan
from audiowgan.core import imports as code_inputs
from conftest import REPO

WORKFLOW = REPO / "workflow"
PACKAGE = WORKFLOW / "scripts" / "audiowgan"
HEAVY = {"tensorflow", "keras", "tf_keras"}
LAYERS = list(audiowgan.LAYERS)


def python_files():
    return sorted(p for p in WORKFLOW.rglob("*.py") if "__pycache__" not in p.parts)


def imports(path) -> list[tuple[str, int]]:
    """(absolute dotted module, line) of every import in ``path``, at any depth (inside functions too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = None
    if PACKAGE in path.parents:
        package = ["audiowgan", *path.relative_to(PACKAGE).parent.parts]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert package is not None, f"{path}:{node.lineno}: relative import outside the package"
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module
            out.append((module, node.lineno))
            out += [(f"{module}.{a.name}", node.lineno) for a in node.names]  # from audiowgan.nn import train
    return out


def folder(path) -> str | None:
    """The layer folder of a package file, '' for the package's own top files, None outside the package."""
    if PACKAGE not in path.parents:
        return None
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def test_layers_are_the_folders():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in {"__pycache__", "templates"}}
    assert folders == set(LAYERS), "every folder of the package is a layer in audiowgan.LAYERS, and back"
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top == {"__init__.py"}, f"modules live in a layer folder, not at the top: {sorted(top)}"


def test_only_nn_imports_tensorflow_or_keras():
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in python_files()
        if folder(path) != "nn"
        for name, line in imports(path)
        if name.split(".")[0] in HEAVY
    ]
    assert not offenders, "TensorFlow/Keras outside audiowgan/nn:\n" + "\n".join(offenders)


def test_the_check_sees_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from keras import layers\n")
    assert ("keras", 2) in imports(bad)


def test_arrows_point_down_only():
    wrong = []
    for path in python_files():
        own = folder(path)
        if own is None:  # a rule script: may import any module, never another script
            continue
        allowed = set(LAYERS[: LAYERS.index(own) + 1]) if own else set(LAYERS)
        for name, line in imports(path):
            parts = name.split(".")
            if parts[0] != "audiowgan" or len(parts) < 2 or parts[1] not in LAYERS:
                continue
            if parts[1] not in allowed:
                wrong.append(f"{path.relative_to(REPO)}:{line}: {own} imports {parts[1]} ({name})")
    assert not wrong, "imports that point up (LAYERS in audiowgan/__init__.py is the order):\n" + "\n".join(wrong)


def test_scripts_are_never_imported():
    scripts = {p.stem for p in (WORKFLOW / "scripts").glob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        for name, line in imports(path):
            assert name.split(".")[0] not in scripts, f"{path}:{line} imports the rule script {name}"


def test_every_rule_has_its_script_and_module():
    for rule, module in audiowgan.RULES.items():
        assert (WORKFLOW / "scripts" / f"{rule}.py").is_file(), rule
        assert PACKAGE.joinpath(*module.split(".")).with_suffix(".py").is_file(), (rule, module)
        script = ast.parse((WORKFLOW / "scripts" / f"{rule}.py").read_text())
        assert module in code_inputs.imported(script), f"scripts/{rule}.py does not import {module}"


def test_no_python_file_under_workflow_is_longer_than_500_lines():
    long = {str(p.relative_to(REPO)): n for p in python_files() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


def common_smk_imports() -> list[str]:
    """common.smk's own import lines of the package, as it runs them while the Snakefile parses."""
    text = (WORKFLOW / "rules" / "common.smk").read_text()
    return [line.split("  #")[0] for line in text.splitlines() if line.startswith("from audiowgan")]


@pytest.mark.parametrize("heavy", ["librosa", "soundfile", "tensorflow", "keras", "scipy", "pandas"])
def test_what_the_snakefile_imports_at_parse_time_is_light(heavy):
    """common.smk's imports and its config check (a dry run runs nothing else of the package)."""
    code = "\n".join(
        [
            "import sys",
            *common_smk_imports(),
            "from audiowgan.core.check import check",
            "from audiowgan.core.imports import module_files",
            "from audiowgan.core.settings import schema",
            "import yaml",
            f"check(yaml.safe_load(open({str(REPO / 'config' / 'config.yaml')!r})), schema())",
            f"module_files({str(WORKFLOW / 'scripts' / 'train.py')!r})",
            "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))",
        ]
    )
    env = os.environ | {"PYTHONPATH": str(WORKFLOW / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert heavy not in out.split(), f"parsing the Snakefile imports {heavy}"


def test_common_smk_imports_only_core():
    found = {line.split()[1] for line in common_smk_imports()}
    assert found and all(name.startswith("audiowgan.core.") for name in found), found
