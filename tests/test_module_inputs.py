"""Editing a shared module reruns the rules whose scripts import it and what runs after them, nothing else.

Each rule lists ``module_inputs("<its script>")`` (common.smk), the files that ``audiowgan.core.imports``
finds by following the script's imports through the package.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from audiowgan.core import imports
from conftest import REPO, dry_run_counts, snakemake

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
    assert {"tracks", "download", "segment", "mel", "pack", "train", "generate", "longform", "evaluate", "nearest",
            "plots", "report", "track_status"} <= set(scripts)  # fmt: skip


def test_rules_live_in_the_stage_file_their_name_says():
    for smk in RULE_FILES:
        for name in re.findall(r"^(?:rule|checkpoint) (\w+):", smk.read_text(), flags=re.M):
            assert smk.stem in {name, {"track_status": "status"}.get(name)}, f"rule {name} lives in {smk.name}"


def test_imports_are_followed_through_the_package():
    names = imports.module_names(SCRIPTS / "train.py")
    nn = {"nn.train", "nn.model", "nn.augment", "nn.batches", "nn.callbacks", "nn.devices", "nn.loop", "nn.losses",
          "nn.standing_stats", "nn.state", "nn.step", "nn.warm_start", "nn.layers", "nn.adam", "nn.objective",
          "nn.model_files"}  # fmt: skip
    core = {"core.settings", "core.atomic", "core.runlog", "core.names", "core.rerun", "core.experiments"}
    assert nn | core | {"data.pack", "data.band_stats", "data.rows"} == set(names)
    assert "dsp.mel" not in imports.module_names(SCRIPTS / "segment.py")  # no TensorFlow or mel code for segments
    files = imports.module_files(SCRIPTS / "report.py")
    root, *inits = [f for f in files if f.name == "__init__.py"]
    assert files[0] == root and root.parent.name == "audiowgan"
    assert {f.parent.name for f in inits} == {"core", "look"}  # every package on the way runs its __init__
    assert {f.stem for f in files if f.name != "__init__.py"} == {"report", "runlog", "atomic"}


def test_relative_and_absolute_forms(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import audiowgan.look.plots\nfrom audiowgan.look.report import write_report\n"
                      "def f():\n    from audiowgan.dsp import inversion\n")  # fmt: skip
    names = set(imports.module_names(script))
    assert {"look.plots", "look.report", "dsp.inversion", "dsp.mel"} <= names  # plots -> mel
    assert "nn.crepe" not in names  # the plots never import the CREPE code (nor TensorFlow)
    script.write_text("from .x import y\n")  # a relative import in a script names no package module
    assert imports.module_names(script) == []
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
    shutil.copytree(REPO / "envs", code / "envs")  # a real run records the rules' conda files
    wd = root / "wd"
    shutil.copytree(finished_workdir, wd, symlinks=True)
    return code, wd


# The rules that take each rule's outputs as inputs (DESIGN.md's DAG), written out: Snakemake's rule
# graph leaves out the per-track rules behind the `tracks` checkpoint.
FEEDS = {
    "tracks": {"download", "track_status"},
    "download": {"segment"},
    "segment": {"mel", "evaluate", "nearest"},
    "mel": {"pack", "track_status"},
    "pack": {"train", "generate", "longform", "evaluate", "nearest", "plots"},
    "track_status": set(),  # train waits for results/tracks.tsv through ancient(): it never reruns train
    "train": {"generate", "longform", "plots", "compare"},
    "generate": {"evaluate", "nearest", "plots", "report", "compare"},
    "longform": {"nearest", "report"},
    "evaluate": {"report", "compare"},
    "nearest": {"report"},
    "plots": {"report", "compare"},
    "report": {"compare"},  # only with experiments; the finished tiny run has none
    "compare": set(),
}


def after(rule: str) -> set[str]:
    """The rules that run after ``rule`` when its outputs change, directly or not."""
    found, todo = set(), [rule]
    while todo:
        new = FEEDS[todo.pop()] - found
        found |= new
        todo += new
    return found


def test_the_table_of_what_feeds_what_covers_every_rule():
    assert set(FEEDS) == set(rule_scripts())
    assert after("tracks") == set(FEEDS) - {"tracks"}


PACKAGE = SCRIPTS / "audiowgan"
MODULES = sorted(
    ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in PACKAGE.glob("*/*.py") if p.stem != "__init__"
)


@pytest.mark.workflow
@pytest.mark.parametrize("module", MODULES)
def test_editing_a_module_reruns_the_rules_that_import_it(copied_workflow, module):
    code, wd = copied_workflow
    users = {rule for rule, script in rule_scripts().items() if module in imports.module_names(SCRIPTS / script)}
    users -= {"download"}  # ancient(): editing the download code never re-downloads
    users -= {"compare"}  # only in the DAG with experiments; the finished tiny run has none
    allowed = users.union(*map(after, users), {"all"} if users else ()) - {"download"}
    path = code / "workflow" / "scripts" / "audiowgan" / f"{module.replace('.', '/')}.py"
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + 10**6))  # "edited" after every output
    try:
        # mtime only: the copied workflow's input paths differ from the recorded ones by design.
        counts = dry_run_counts(wd, "--configfile", "config/test.yaml", "--rerun-triggers", "mtime",
                                snakefile=code / "Snakefile")  # fmt: skip
    finally:
        os.utime(path, (st.st_atime, st.st_mtime))
    assert "download" not in counts, f"editing {module}.py would download every track again"
    assert set(counts) <= allowed, (
        f"editing {module}.py reruns {sorted(set(counts) - allowed)}, which neither import it nor follow a rule that does"
    )
    if "tracks" in counts:  # a dry run cannot list the per-track jobs behind a checkpoint that reruns
        users -= {"segment", "mel"}
    assert users <= set(counts), f"editing {module}.py does not rerun {sorted(users - set(counts))}"
    if module == "look.report":
        assert set(counts) == {"report", "all"}
    if module == "render.generate":
        assert {"generate", "longform"} <= set(counts)


@pytest.mark.workflow
def test_editing_the_download_code_never_downloads_again(copied_workflow, workdir_copy):
    # A real run: the dry runs above cannot show the downloads behind the `tracks` checkpoint that reruns.
    code, _ = copied_workflow
    # ingest/tracks.py: the checkpoint's code, which the download code imports too (download.py alone reruns nothing).
    path = code / "workflow" / "scripts" / "audiowgan" / "ingest" / "tracks.py"
    st = path.stat()
    os.utime(path)  # edited now: after every output of the finished run, before those of this one
    try:
        run = snakemake(workdir_copy, "--configfile", "config/test.yaml", "--rerun-triggers", "mtime",
                        "--until", "pack", snakefile=code / "Snakefile")  # fmt: skip
    finally:
        os.utime(path, (st.st_atime, st.st_mtime))
    assert "tracks" in run.rules and not {"download", "segment", "mel"} & set(run.rules), run.rules
    # Snakemake 9.27 may still rerun what follows the checkpoint ("input files updated by another job",
    # though no track changed): not asserted either way, and `--until pack` keeps it from training again.
