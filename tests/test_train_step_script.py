"""benchmarks/train_step.py's --variant (model keys changed for one more implementation in the same rounds) and its
reference, the write-up's networks, which step_profile.py profiles too."""

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


def test_the_write_ups_networks_keep_every_added_key_off_in_both_benchmarks():
    import step_profile

    from audiowgan.core.settings import ModelSpec

    writeup = ModelSpec.from_mapping(**train_step.writeup_keys())
    assert not (writeup.critic_band_norm or writeup.generator_peak_norm or writeup.critic_clip_stats)
    assert not (writeup.critic_minibatch_std or writeup.generator_self_modulation or writeup.band_position)
    assert (writeup.generator_kernel_size, writeup.critic_kernel_size, writeup.upsample) == (3, 5, "resize")
    row = dict(step_profile.VARIANTS[step_profile.WRITE_UP_VARIANTS[0]])
    assert row.pop("writeup_layers") is True and row.pop("adam") == "keras"  # its layers and its optimizer
    assert ModelSpec.from_mapping(**row) == writeup
