"""benchmarks/train_step.py's --variant: model keys changed for one more implementation in the same rounds."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import train_step  # noqa: E402  (the benchmarks are scripts, not a package)


def test_variant_keys_read_yaml_values():
    assert train_step.variant_keys("critic_clip_stats=false, noise_dim=64,critic_channels=[8, 16]") == {
        "critic_clip_stats": False,
        "noise_dim": 64,
        "critic_channels": [8, 16],
    }


def test_a_variant_without_a_value_is_refused():
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        train_step.variant_keys("critic_clip_stats")
