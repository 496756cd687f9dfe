"""experiments: in the config: merged and checked like the top level, shared keys refused with the reason."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from audiowgan.core import experiments
from audiowgan.core.check import ConfigError, check
from audiowgan.core.settings import schema

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def runs(exps: dict, **top) -> dict:
    cfg = copy.deepcopy(DEFAULT)
    for section, values in top.items():
        cfg[section].update(values)
    cfg["experiments"] = exps
    return experiments.run_configs(check(cfg, schema()), check)


def test_overrides_are_deep_merged_and_converted_like_the_top_level():
    got = runs({"slow": {"train": {"learning_rate": "0.0001"}, "generate": {"longform": {"seconds": 5}}}})
    assert list(got) == ["", "experiments/slow/"]
    slow = got["experiments/slow/"]
    assert slow["train"]["learning_rate"] == 0.0001 and slow["train"]["batch_size"] == DEFAULT["train"]["batch_size"]
    assert slow["generate"]["longform"]["seconds"] == 5.0 and slow["generate"]["longform"]["n"] == 2
    assert got[""]["train"]["learning_rate"] == DEFAULT["train"]["learning_rate"]


@pytest.mark.parametrize(
    "exps, message",
    [
        ({"a": {"mel": {"n_mels": 64}}}, "'experiments.a.mel': an experiment may override model, train, generate, "
                                         "evaluate only; 'mel' shapes what every experiment shares"),
        ({"a": {"audio": {}}}, "would need another dataset"),
        ({"a": {"evaluate": {"holdout_fraction": 0.2}}}, "'experiments.a.evaluate.holdout_fraction': set it at the "
                                                         "top level only: it splits the shared dataset"),
        ({"a": {"evaluate": {"holdout_by": "end-blocks"}}}, "'experiments.a.evaluate.holdout_by': set it at the top "
                                                          "level only: it splits the shared dataset"),
        ({"a": {"generate": {"longform": {"n": 3}}}}, "'experiments.a.generate.longform.n': set it at the top level"),
        ({"a/b": {}}, "experiment name 'a/b': must be"),
        ({"a": {"train": {"epochs": 0}}}, "experiment 'a': config key 'train.epochs' = 0: must be >= 1"),
        ({"a": {"model": {"kind": "lstm"}}}, "experiment 'a': config key 'model.kind' = 'lstm': must be one of"),
        ({"a": {"train": {"init_from": "b"}}, "b": {"model": {"noise_dim": 8}}},
         "'train.init_from' of 'a' = 'b': its networks differ .model.noise_dim: 8 there, 128 here."),
        ({"a": {"train": {"init_from": "b"}}, "b": {"train": {"init_from": "a"}}}, r"\(a -> b -> a\)"),
    ],
)  # fmt: skip
def test_bad_experiments_are_refused_with_the_key_and_the_reason(exps, message):
    with pytest.raises(ConfigError, match=message):
        runs(exps)


def test_an_experiment_inherits_init_from_and_naming_itself_is_refused():
    with pytest.raises(ConfigError, match=r"of 'a': the runs start from each other \(a -> a\)"):
        runs({"a": {}}, train={"init_from": "a"})
    got = runs({"a": {"train": {"init_from": None}}, "b": {}}, train={"init_from": "a"})
    assert experiments.init_source(got, "") == "results/experiments/a/model"
    assert experiments.init_source(got, "experiments/b/") == "results/experiments/a/model"
    assert experiments.init_source(got, "experiments/a/") is None
    folder = runs({"ft": {"train": {"init_from": "elsewhere/results/model/"}}})
    assert experiments.init_source(folder, "experiments/ft/") == "elsewhere/results/model"


def test_the_shipped_quality_experiments_are_valid():
    cfg = yaml.safe_load((REPO / "config" / "experiments-quality.yaml").read_text())
    merged = experiments.merged(DEFAULT, cfg)
    got = experiments.run_configs(check(merged, schema()), check)
    assert len(got) >= 4
    sys.path.insert(0, str(REPO / "benchmarks"))
    import quality  # the benchmark's settings: the table's rows must be the same networks, whatever the defaults

    assert cfg["model"] == quality.MODEL
