"""The workflow deployed as a Snakemake module of another workflow, from a separate folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TINY_CONFIG, make_workdir, snakemake

pytestmark = pytest.mark.workflow

HOST = f"""\
# Another workflow that uses audio-wgan as a module (what snakedeploy writes, with a local path).
# Its config is partial: no on_error, no download section, most keys left out.
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


def test_runs_as_a_module_from_another_folder(tmp_path, music_server, finished_workdir):
    wd = make_workdir(tmp_path / "host", music_server)
    (wd / "config" / "config.yaml").unlink()  # the host has no full config: the schema's defaults fill it
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
    _same_results_as_a_standalone_run(wd, finished_workdir)


def _same_results_as_a_standalone_run(wd, standalone):
    """The standalone run read config/config.yaml under the same test.yaml: the module got the same config."""
    for name in ("dataset/meta.json", "model/model.json"):
        ours, theirs = (json.loads((root / "results" / name).read_text()) for root in (wd, standalone))
        assert ours == theirs, name
    assert np.array_equal(np.load(wd / "results/dataset/mels.npy"), np.load(standalone / "results/dataset/mels.npy"))
    losses = ["d_loss", "g_loss", "gradient_penalty", "wasserstein"]
    pd.testing.assert_frame_equal(pd.read_csv(wd / "results/model/losses.csv")[losses],
                                  pd.read_csv(standalone / "results/model/losses.csv")[losses])  # fmt: skip
