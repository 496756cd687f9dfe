"""Editing a shared module reruns the rules whose scripts import it, and no others.

Each rule lists ``module_inputs("<its script>")`` (common.smk), the files that ``audiowgan.core.imports``
finds by following the script's imports through the package.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from audiowgan.core import imports
from conftest import REPO, dry_run_counts

SCRIPTS = REPO / "workflow" / "scripts"
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def rule_scripts() -> dict[str, str]:
    """{rule: script file name} for every rule with a ``script:``, read from the stage files."""
    found = {}
    for smk in RULE_FILES:
        for block in re.split(r"^(?=(?:rule|checkpoint) )", smk.read_text(), flags=re.M):
            m = re.match(r"(?:rule|checkpoint) (\w+):", block)
            s = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"', block)
            if m and s:
                found[m.group(1)] = s.group(1)
                code = re.search(r'code=(?:ancient\()?module_inputs\("(\w+\.py)"\)', block)
                assert code, f"rule {m.group(1)} in {smk.name} does not list module_inputs() of its script"
                assert code.group(1) == s.group(1), (
                    f"rule {m.group(1)}: module_inputs({code.group(1)}) for {s.group(1)}"
                )
    return found


def test_every_rule_lists_the_modules_of_its_own_script():
    scripts = rule_scripts()
    assert {"tracks", "download", "segment", "mel", "pack", "train", "generate", "evaluate", "plots", "report",
            "track_status"} <= set(scripts)  # fmt: skip


def test_rules_live_in_the_stage_file_their_name_says():
    for smk in RULE_FILES:
        for name in re.findall(r"^(?:rule|checkpoint) (\w+):", smk.read_text(), flags=re.M):
            assert smk.stem in {name, {"track_status": "status"}.get(name)}, f"rule {name} lives in {smk.name}"


def test_imports_are_followed_through_the_package():
    names = imports.module_names(SCRIPTS / "train.py")
    assert {"training", "model", "dataset", "settings", "atomic", "runlog", "devices"} == set(names)
    assert "features" not in imports.module_names(SCRIPTS / "segment.py")  # no TensorFlow or mel code for segments
    files = imports.module_files(SCRIPTS / "report.py")
    assert files[0].name == "__init__.py" and {f.stem for f in files[1:]} == {"report", "runlog", "atomic"}


def test_relative_and_absolute_forms(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import audiowgan.look.plots\nfrom audiowgan.look.report import write_report\n"
                      "def f():\n    from audiowgan import inversion\n")  # fmt: skip
    names = set(imports.module_names(script))
    assert {"plots", "report", "inversion", "features"} <= names  # plots -> evaluation -> features
    script.write_text("import numpy\n")
    assert imports.module_files(script) == []


@pytest.fixture(scope="module")
def copied_workflow(finished_workdir, tmp_path_factory):
    """The finished run and a copy of the workflow code (mtimes kept) whose modules the test may touch."""
    root = tmp_path_factory.mktemp("module-edits")
    code = root / "code"
    code.mkdir()
    shutil.copy2(REPO / "Snakefile", code / "Snakefile")
    shutil.copytree(REPO / "workflow", code / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    wd = root / "wd"
    shutil.copytree(finished_workdir, wd, symlinks=True)
    return code, wd


MODULES = sorted(p.stem for p in (SCRIPTS / "audiowgan").glob("*.py") if p.stem != "__init__")


@pytest.mark.workflow
@pytest.mark.parametrize("module", MODULES)
def test_editing_a_module_reruns_the_rules_that_import_it(copied_workflow, module):
    code, wd = copied_workflow
    users = {rule for rule, script in rule_scripts().items() if module in imports.module_names(SCRIPTS / script)}
    users -= {"download"}  # ancient(): editing the download code never re-downloads
    path = code / "workflow" / "scripts" / "audiowgan" / f"{module}.py"
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 10**6))  # "edited" after every output
    try:
        # mtime only: the copied workflow's input paths differ from the recorded ones by design.
        counts = dry_run_counts(wd, "--configfile", "config/test.yaml", "--rerun-triggers", "mtime",
                                snakefile=code / "Snakefile")  # fmt: skip
    finally:
        os.utime(path, (st.st_atime, st.st_mtime))
    if "tracks" in counts:  # a dry run cannot list the per-track jobs behind a checkpoint that reruns
        users -= {"segment", "mel"}
    assert users <= set(counts), f"editing {module}.py does not rerun {sorted(users - set(counts))}"
    if not users:
        assert counts == {}, f"{module}.py is used by no rule, yet {counts} would rerun"
    if module == "report":
        assert set(counts) == {"report", "all"}
