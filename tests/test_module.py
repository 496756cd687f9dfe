"""The workflow deployed as a Snakemake module of another workflow, from a separate folder."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import REPO, TINY_CONFIG, make_workdir, snakemake

pytestmark = pytest.mark.workflow

HOST = f"""\
# Another workflow that uses audio-wgan as a module (what snakedeploy writes, with a local path).
configfile: "config/config.yaml"
configfile: "config/test.yaml"


module audiowgan:
    snakefile:
        "{REPO / "Snakefile"}"
    config:
        config


use rule * from audiowgan as audiowgan_*


rule all:
    default_target: True
    input:
        rules.audiowgan_all.input,
"""


def test_runs_as_a_module_from_another_folder(tmp_path, music_server):
    wd = make_workdir(tmp_path / "host", music_server)
    (wd / "Snakefile").write_text(HOST)
    run = snakemake(wd, "--configfile", "config/test.yaml", snakefile=wd / "Snakefile")
    assert {"audiowgan_tracks", "audiowgan_train", "audiowgan_generate", "audiowgan_report"} <= set(run.rules)
    manifest = pd.read_csv(wd / "results" / "generated" / "manifest.csv")
    assert len(manifest) == TINY_CONFIG["generate"]["n_clips"]
    assert (wd / "results" / "report.html").stat().st_size > 0
    # Nothing of the module's own folder was needed in the host's: no workflow/ copied there.
    assert not (wd / "workflow").exists()
    again = snakemake(wd, "--configfile", "config/test.yaml", "-n", "--quiet", "rules", snakefile=wd / "Snakefile")
    assert "Nothing to be done" in again.output or "total" not in again.output
