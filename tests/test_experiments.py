"""Experiments through the real workflow: two tiny experiments beside the top-level run, on one dataset."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import yaml
from test_report import _Page, chromium, headless, with_check_script  # noqa: F401 - chromium is a fixture

from conftest import TINY_CONFIG, dry_run_counts, snakemake

pytestmark = pytest.mark.workflow

# Without CREPE (evaluate.perceptual): the comparison needs no embeddings, and it costs a TensorFlow job each.
NO_CREPE = {"evaluate": {"perceptual": False}}
EXPERIMENTS = {"seed1": {"train": {"seed": 1}, **NO_CREPE}, "wide": {"model": {"critic_channels": [8, 32]}, **NO_CREPE}}
CONFIG = ("--configfile", "config/test.yaml")
PER_RUN = {"train", "generate", "longform", "evaluate", "nearest", "plots", "report"}


@pytest.fixture(scope="module")
def exp_run(finished_workdir, tmp_path_factory):
    """The finished tiny run (shared with test_workflow.py) with two experiments added, run once for this module."""
    wd = tmp_path_factory.mktemp("experiments") / "wd"
    shutil.copytree(finished_workdir, wd, symlinks=True)
    edit_experiments(wd, lambda e: e.update(EXPERIMENTS))
    return wd, snakemake(wd, *CONFIG)


@pytest.fixture(scope="module")
def exp_workdir(exp_run):
    return exp_run[0]


@pytest.fixture
def exp_copy(exp_workdir, tmp_path):
    dest = tmp_path / "wd"
    shutil.copytree(exp_workdir, dest, symlinks=True)
    return dest


def edit_experiments(wd, change) -> None:
    path = wd / "config" / "test.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg.setdefault("experiments", {}))
    path.write_text(yaml.safe_dump(cfg))


def planned(wd, *args) -> list[tuple[str, str | None]]:
    """(rule, exp wildcard or None) of every job a dry run lists."""
    run = snakemake(wd, "-n", *CONFIG, *args)
    return [(rule, wc.get("exp")) for rule, wc in run.jobs]


@pytest.mark.timeout(1800)  # the module's workflow run: two trainings and their renders (minutes on 2 busy cores)
def test_adding_experiments_to_a_finished_run_runs_only_theirs(exp_run):
    jobs = {(rule, wc.get("exp")) for rule, wc in exp_run[1].jobs}
    ran = {exp for rule, exp in jobs}
    assert ran == {"experiments/seed1/", "experiments/wide/", "", None}, jobs
    # The top level's results stay; its report is redrawn only to link to the comparison page.
    assert {rule for rule, exp in jobs if exp == ""} == {"report"}
    assert {rule for rule, exp in jobs if exp is None} == {"compare", "all"}


def test_both_experiments_make_clips_and_are_on_the_comparison_page(exp_workdir):
    res = exp_workdir / "results"
    n = TINY_CONFIG["generate"]["n_clips"]
    for folder in (res, res / "experiments" / "seed1", res / "experiments" / "wide"):
        assert len(list((folder / "generated").glob("clip_*.wav"))) == n, folder
        assert (folder / "eval" / "metrics.json").is_file() and (folder / "report.html").is_file()
    assert json.loads((res / "experiments" / "seed1" / "model" / "model.json").read_text())["train_params"]["seed"] == 1
    wide = json.loads((res / "experiments" / "wide" / "model" / "model.json").read_text())
    assert wide["critic_channels"] == [8, 32]
    assert (res / "experiments" / "seed1" / "checkpoints" / "fingerprint.txt").is_file()  # its own checkpoints
    table = pd.read_csv(res / "experiments" / "comparison.csv")
    assert table["set"].tolist()[:4] == ["real vs real (held-out half B)", "uniform noise mels", "white noise",
                                         "pink noise"]  # fmt: skip
    assert table["set"].tolist()[4:] == ["base", "seed1", "wide"]
    assert table["mel_fd"].notna().all() and (table["steps"].iloc[4:] > 0).all()
    rows = table.set_index("set")
    for run, folder in (
        ("base", res),
        ("seed1", res / "experiments" / "seed1"),
        ("wide", res / "experiments" / "wide"),
    ):
        spread = json.loads((folder / "eval" / "metrics.json").read_text())["clip_spread"]  # null: < 2 compared clips
        ratios = spread["generated_over_real"] if spread else {"between": float("nan"), "within": float("nan")}
        got = [rows.loc[run, "clips_differ"], rows.loc[run, "clip_moves"]]
        assert got == pytest.approx([ratios["between"], ratios["within"]], nan_ok=True)
    page = (res / "experiments" / "comparison.html").read_text()
    for name in ("seed1", "wide"):
        assert f'id="run-{name}"' in page and f'src="{name}/generated/clip_000.wav"' in page
        assert f'href="{name}/report.html"' in page and f'src="{name}/plots/clips/clip_000.png"' in page
    assert "critic_channels" in page and 'src="losses.png"' in page
    assert (res / "experiments" / "losses.png").stat().st_size > 10_000
    assert 'href="experiments/comparison.html"' in (res / "report.html").read_text()


def test_nothing_left_to_do_and_a_result_neutral_key_of_an_experiment_reruns_nothing(exp_copy):
    assert dry_run_counts(exp_copy, *CONFIG) == {}
    edit_experiments(exp_copy, lambda e: e["seed1"]["train"].update(checkpoint_every=1, tensorboard=False))
    assert dry_run_counts(exp_copy, *CONFIG) == {}


def test_changing_one_experiments_seed_reruns_its_jobs_only(exp_copy):
    edit_experiments(exp_copy, lambda e: e["seed1"]["train"].update(seed=2))
    jobs = planned(exp_copy)
    assert [exp for rule, exp in jobs if rule == "train"] == ["experiments/seed1/"], jobs
    assert {rule for rule, exp in jobs if exp == "experiments/seed1/"} == PER_RUN
    assert {(rule, exp) for rule, exp in jobs if exp != "experiments/seed1/"} == {("compare", None), ("all", None)}


def test_an_added_experiment_runs_alone_and_init_from_starts_it_from_its_source(exp_copy):
    edit_experiments(exp_copy, lambda e: e.update(tuned={"train": {"init_from": "seed1", "epochs": 1}}))
    jobs = planned(exp_copy)
    assert {exp for rule, exp in jobs if rule != "all"} == {"experiments/tuned/", None}, jobs
    assert ("compare", None) in jobs
    run = snakemake(exp_copy, "results/experiments/tuned/model/losses.csv", *CONFIG)  # --configfile takes several
    assert [(r, wc.get("exp")) for r, wc in run.jobs] == [("train", "experiments/tuned/")]
    log = (exp_copy / "results" / "logs" / "experiments" / "tuned" / "train.log").read_text()
    assert re.search(r"initial weights from results/experiments/seed1/model \(generator, critic\)", log), log


def test_comparison_page_renders_in_a_browser(exp_workdir, chromium, tmp_path):  # noqa: F811
    page = exp_workdir / "results" / "experiments" / "comparison.html"
    checked = page.with_name("comparison-checked.html")  # beside it: its relative links must resolve
    checked.write_text(with_check_script(page.read_text()))
    try:
        dom = _Page(headless(chromium, tmp_path, "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()))
        shot = tmp_path / "comparison.png"
        headless(chromium, tmp_path, "--virtual-time-budget=3000", f"--screenshot={shot}", "--window-size=1200,2000",
                 checked.as_uri())  # fmt: skip
    finally:
        checked.unlink()
    n = 3 * min(3, TINY_CONFIG["generate"]["n_clips"])  # three runs, their first clips
    assert dom.body.get("data-images-ok") == "true", dom.body
    assert int(dom.body["data-images"]) == 1 + n  # the overlaid losses and one spectrogram per shown clip
    assert len(dom.audio) == n and dom.body.get("data-audio-ready") == str(n), dom.body
    assert shot.stat().st_size > 50_000
