"""Config checks: string numbers from --config, bounds, cross-field rules, unknown keys."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from audiowgan.core import rerun
from audiowgan.core.check import ConfigError, check
from audiowgan.core.settings import TrainSpec

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def with_(section, key, value):
    cfg = copy.deepcopy(DEFAULT)
    cfg[section][key] = value
    return cfg


def test_default_and_demo_configs_are_valid():
    check(DEFAULT, SCHEMA)
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    merged = copy.deepcopy(DEFAULT)
    for k, v in demo.items():
        merged[k] = {**merged[k], **v} if isinstance(v, dict) else v
    check(merged, SCHEMA)


def test_every_schema_key_is_in_the_default_config_and_documented():
    for section, sub in SCHEMA["properties"].items():
        assert section in DEFAULT
        assert sub.get("description") or sub.get("properties")
        for key, spec in sub.get("properties", {}).items():
            assert key in DEFAULT[section], f"{section}.{key} missing from config/config.yaml"
            assert spec.get("description"), f"{section}.{key} has no description"


@pytest.mark.parametrize(
    "section, key, text, value",
    [("mel", "hop_length", "256", 256), ("audio", "segment_seconds", "2.5", 2.5), ("train", "gp_weight", "10", 10.0),
     ("train", "xla", "true", True), ("mel", "fmax", "null", None), ("model", "critic_channels", "[8, 16]", [8, 16]),
     ("audio", "segment_overlap", "0.25", 0.25), ("audio", "segment_overlap", "0", 0.0)],
)  # fmt: skip
def test_strings_from_the_command_line_are_converted(section, key, text, value):
    assert check(with_(section, key, text), SCHEMA)[section][key] == value


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("mel", "hop_length", "abc", "'mel.hop_length' = 'abc': must be an integer"),
        ("mel", "hop_length", 0, "'mel.hop_length' = 0: must be >= 1"),
        ("mel", "hop_length", 4096, "hop_length=4096 must not exceed n_fft=2048"),
        ("mel", "n_mels", 2000, "n_mels=2000 exceeds"),
        ("train", "batch_size", -1, "'train.batch_size' = -1"),
        ("audio", "segment_seconds", 0, "'audio.segment_seconds' = 0"),
        ("audio", "segment_seconds", 0.01, "shorter than mel.n_fft"),
        ("audio", "segment_overlap", "abc", "'audio.segment_overlap' = 'abc': must be a number"),
        ("audio", "segment_overlap", 1, "'audio.segment_overlap' = 1.0: must be < 1"),
        ("audio", "segment_overlap", "-0.5", "'audio.segment_overlap' = -0.5: must be >= 0"),
        ("audio", "segment_overlap", 0.9999999, "'audio.segment_overlap' = 0.9999999: leaves less than one sample"),
        ("audio", "segment_hop_seconds", 2.5, "'audio.segment_hop_seconds' is now 'audio.segment_overlap', a share"),
        ("generate", "inversion", "magic", "'generate.inversion' = 'magic'"),
    ],
)
def test_bad_values_name_key_and_value(section, key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        check(with_(section, key, value), SCHEMA)


def test_a_penalty_interval_that_does_not_divide_the_critic_updates_is_refused_before_any_job():
    cfg = with_("train", "gp_every", 2)
    with pytest.raises(ConfigError, match=r"'train.gp_every' = 2 must divide train.d_steps = 3.*try 1, 3"):
        check(cfg, SCHEMA)
    cfg["train"]["gp_every"] = 3
    assert check(cfg, SCHEMA)["train"]["gp_every"] == 3


def test_band_position_with_conv1d_is_refused_before_any_job():
    # Caught here, the error comes before download and packing run, not when training builds the networks.
    cfg = with_("model", "kind", "conv1d")
    cfg["model"]["band_position"] = True
    with pytest.raises(ConfigError, match="'model.band_position' = True is for model.kind conv2d"):
        check(cfg, SCHEMA)
    cfg["model"]["band_position"] = False
    assert check(cfg, SCHEMA)["model"]["kind"] == "conv1d"


def test_unknown_keys_are_refused():
    cfg = with_("mel", "hop_lenght", 256)
    with pytest.raises(ConfigError, match="unknown config key 'mel.hop_lenght'"):
        check(cfg, SCHEMA)


def test_a_partial_config_gets_exactly_the_defaults_of_a_standalone_run():
    # As a module of another workflow only the host's config is read, not config/config.yaml.
    assert check({}, SCHEMA) == check(copy.deepcopy(DEFAULT), SCHEMA)
    partial = check({"train": {"epochs": "3"}, "generate": {"n_clips": 2}}, SCHEMA)
    assert partial["on_error"] == "skip" and partial["train"]["epochs"] == 3
    assert partial["train"]["batch_size"] == DEFAULT["train"]["batch_size"]
    assert partial["generate"]["longform"] == DEFAULT["generate"]["longform"]


def test_result_neutral_keys_are_marked_in_the_schema_and_left_out_of_params():
    assert rerun.neutral_keys("train") == {"checkpoint_every", "tensorboard", "tensorboard_image_every", "require_gpu"}
    assert rerun.neutral_keys("download") == {"retries", "backoff_seconds"}
    assert rerun.neutral_keys("model") == rerun.neutral_keys("generate.longform") == frozenset()
    cfg = check(copy.deepcopy(DEFAULT), SCHEMA)
    for section in ("train", "download"):
        params, run = rerun.result_values(cfg, section), rerun.run_values(cfg, section)
        assert set(params) | set(run) == set(cfg[section]) and not set(params) & set(run)
        assert {**params, **run} == cfg[section]
    # Training resumes a checkpoint across a change of a neutral key: it never reruns for one either.
    assert rerun.neutral_keys("train") <= set(TrainSpec.NOT_FINGERPRINTED)


def test_a_train_key_added_since_leaves_the_params_of_older_runs_alone_when_off():
    # The train rule's params are these: a model trained before train.gp_every (critic_learning_rate, mode_seeking) existed
    # had none, and must not be retrained for its arrival; set to anything else, it is a result value like any other.
    cfg = check(copy.deepcopy(DEFAULT), SCHEMA)
    added = {"gp_every": 3, "critic_learning_rate": 4e-4, "mode_seeking": 1.0}
    before = {k: v for k, v in rerun.result_values(cfg, "train").items() if k not in added}
    assert rerun.without_added_off(rerun.result_values(cfg, "train"), TrainSpec.ADDED_OFF) == before
    for key, value in added.items():
        changed = copy.deepcopy(cfg)
        changed["train"][key] = value
        assert rerun.without_added_off(rerun.result_values(changed, "train"), TrainSpec.ADDED_OFF) == {
            **before,
            key: value,
        }
