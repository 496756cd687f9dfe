"""benchmarks/quality.py keeps the rows of earlier calls with the same seed and setup in its JSON, and
quality_seeds.py compares the configurations asked for against the first of them."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import quality  # noqa: E402  (the benchmarks are scripts, not a package)
import quality_seeds  # noqa: E402

NAMES = list(quality.CONFIGS)
ARGS = {"corpus": "wesnoth", "minutes": 24.0, "budget": 8.0, "holdout": 0.2, "clips": 32,
        "holdout_by": "end-blocks", "embedders": "crepe", "seed": 1, "configs": "2", "threads": 1}  # fmt: skip


def call(configs, **args):
    table = {quality.REAL: {"mel_fd": 1.0}, **{NAMES[i]: {"mel_fd": float(i)} for i in configs}}
    return {"args": {**ARGS, **args}, "runs": {NAMES[i]: {"steps": i} for i in configs}, "table": table}


def test_a_later_call_adds_its_rows_to_those_of_an_earlier_one(tmp_path):
    path = tmp_path / "quality-end-blocks-seed1.json"
    earlier = call([2, 17])
    earlier["runs"]["a configuration renamed since"] = {"steps": 0}
    earlier["table"]["a configuration renamed since"] = {"mel_fd": 9.0}
    path.write_text(json.dumps(earlier))
    merged = quality.merge_earlier(path, call([17, 18], threads=2))  # threads only spread the CPU time
    assert list(merged["runs"]) == [NAMES[2], NAMES[17], NAMES[18]]
    assert list(merged["table"]) == [quality.REAL, NAMES[17], NAMES[18], NAMES[2]]
    assert merged["args"]["threads"] == 2


@pytest.mark.parametrize("change", [{"clips": 48}, {"embedders": "crepe,musicnn"}, {"budget": 10.0}])
def test_rows_of_another_setup_are_replaced_not_mixed(tmp_path, change):
    path = tmp_path / "quality-end-blocks-seed1.json"
    path.write_text(json.dumps(call([2])))
    assert quality.merge_earlier(path, call([17], **change)) == call([17], **change)


def test_without_an_earlier_file_the_record_is_written_as_it_is(tmp_path):
    assert quality.merge_earlier(tmp_path / "none.json", call([17])) == call([17])


def test_quality_seeds_compares_the_configurations_asked_for_the_first_the_baseline(tmp_path):
    for seed in (0, 1):
        (tmp_path / f"quality-end-blocks-seed{seed}.json").write_text(json.dumps(call([2, 17, 18], seed=seed)))
    names = quality_seeds.trained_names(quality_seeds.load_runs(tmp_path, "end-blocks"))
    assert quality_seeds.chosen(names, "") == [NAMES[2], NAMES[17], NAMES[18]]
    assert quality_seeds.chosen(names, "17,18") == [NAMES[17], NAMES[18]]
    with pytest.raises(SystemExit, match="not trained with every seed"):
        quality_seeds.chosen(names, "17,19")
