"""Typed settings: fields mirror the schema, strings are converted, bad values get one clear error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from audiowgan.core import settings
from audiowgan.core.settings import ConfigError, MelSpec, ModelSpec, TrainSpec

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("cls", settings.SECTIONS, ids=lambda c: c.__name__)
def test_fields_are_exactly_the_schema_keys_and_defaults_agree(cls):
    sub = settings.schema()["properties"][cls.SECTION]
    assert [f.name for f in dataclasses.fields(cls)] == list(sub["properties"])
    spec = cls.from_mapping()  # every default from the schema

    def defaults(section):
        return {k: defaults(v) if "properties" in v else v["default"] for k, v in section["properties"].items()}

    assert spec.to_dict() == defaults(sub)
    assert cls.from_mapping(CONFIG[cls.SECTION]).to_dict() == CONFIG[cls.SECTION]  # config.yaml round-trips


def test_strings_are_converted_and_lists_become_tuples():
    tp = TrainSpec.from_mapping({"batch_size": "8", "gp_weight": "5", "xla": "false"})
    assert tp.batch_size == 8 and tp.gp_weight == 5.0 and tp.xla is False
    mp = ModelSpec.from_mapping(generator_channels="[16, 8]")
    assert mp.generator_channels == (16, 8) and hash(mp) == hash(ModelSpec.from_mapping(generator_channels=[16, 8]))
    assert mp.to_dict()["generator_channels"] == [16, 8]
    assert TrainSpec.from_mapping(epochs=3.0).epochs == 3 and isinstance(TrainSpec.from_mapping(epochs=3.0).epochs, int)


@pytest.mark.parametrize(
    "cls, values, message",
    [(TrainSpec, {"batch_size": 0}, "'train.batch_size' = 0: must be >= 1"),
     (TrainSpec, {"bogus": 1}, "unknown config key 'train.bogus'"),
     (MelSpec, {"hop_length": "abc"}, "'mel.hop_length' = 'abc': must be an integer")],
)  # fmt: skip
def test_bad_values_name_the_key(cls, values, message):
    with pytest.raises(ConfigError, match=message):
        cls.from_mapping(values)


def test_nested_sections_are_settings_too():
    g = settings.GenerateSpec.from_mapping(longform={"seconds": "30"})
    assert isinstance(g.longform, settings.LongformSpec) and g.longform.seconds == 30.0 and g.longform.n == 2
    assert g.to_dict()["longform"]["seconds"] == 30.0
    with pytest.raises(ConfigError, match="'generate.longform.overlap_seconds' = -1"):
        settings.GenerateSpec.from_mapping(longform={"overlap_seconds": -1})


def test_from_meta_picks_the_section_out_of_a_record_and_replace_revalidates():
    meta = {"sample_rate": 16000, "n_fft": 512, "hop_length": 128, "n_mels": 32, "top_db": 80, "fmin": 0.0,
            "fmax": None, "frames": 126, "n_segments": 7}  # fmt: skip
    mel = MelSpec.from_meta(meta)
    assert mel.hop_length == 128 and mel.stft_args()["n_mels"] == 32
    assert settings.AudioSpec.from_meta({"sample_rate": 16000, "segment_seconds": 2.0}).segment_samples == 32000
    assert MelSpec.from_mapping(mel.to_dict(), hop_length=256).hop_length == 256
    with pytest.raises(ConfigError):
        MelSpec.from_mapping(mel.to_dict(), hop_length=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mel.n_fft = 1  # type: ignore[misc]


def test_segment_overlap_defaults_to_half_and_counts_the_overlapping_neighbours():
    halves = settings.AudioSpec.from_mapping(sample_rate=16000, segment_seconds=2.0)
    assert halves.segment_overlap == 0.5
    assert (halves.hop_seconds, halves.hop_samples, halves.span_hops) == (1.0, 16000, 2)
    back_to_back = settings.AudioSpec.from_mapping(halves.to_dict(), segment_overlap=0)
    assert (back_to_back.hop_seconds, back_to_back.hop_samples, back_to_back.span_hops) == (2.0, 32000, 1)
    quarters = settings.AudioSpec.from_mapping(halves.to_dict(), segment_overlap="0.625")  # as --config hands it over
    assert quarters.hop_samples == 12000 and quarters.span_hops == 3  # segments k and k + 2 still share audio
    assert settings.AudioSpec.from_mapping(halves.to_dict(), segment_overlap=0.75).span_hops == 4
    # A share, not seconds: it still holds when the segment length changes.
    assert settings.AudioSpec.from_mapping(segment_seconds=5.0).hop_seconds == 2.5
    with pytest.raises(ConfigError, match="'audio.segment_overlap' = 0.99999: leaves less than one sample"):
        settings.AudioSpec.from_mapping(sample_rate=1000, segment_seconds=1.0, segment_overlap=0.99999)


def test_a_record_from_before_the_overlap_share_reads_its_hop_in_seconds():
    old = {"sample_rate": 16000, "segment_seconds": 2.0, "segment_hop_seconds": 0.5, "silence_threshold_db": -60}
    assert settings.AudioSpec.from_meta(old).segment_overlap == 0.75
    assert settings.AudioSpec.from_meta({**old, "segment_hop_seconds": None}).segment_overlap == 0.0
