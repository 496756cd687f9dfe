"""audiowgan.core.atomic: a file appears complete or not at all."""

from __future__ import annotations

import pytest

from audiowgan.core import atomic


def test_replacing_renames_on_success(tmp_path):
    target = tmp_path / "a.json"
    atomic.write_json(target, {"x": 1})
    assert target.read_text() == '{\n  "x": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_replacing_keeps_the_old_file_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_keep_suffix_puts_the_marker_first(tmp_path):
    with atomic.replacing(tmp_path / "g.weights.h5", keep_suffix=True) as tmp:
        assert tmp.name == ".tmp.g.weights.h5"
        tmp.write_bytes(b"w")
    assert (tmp_path / "g.weights.h5").read_bytes() == b"w"


def test_replacing_dir_publishes_a_folder_only_when_complete(tmp_path):
    target = tmp_path / "mel" / "track"
    target.parent.mkdir()
    with pytest.raises(RuntimeError):
        with atomic.replacing_dir(target) as tmp:
            (tmp / "00000.npy").write_text("half")
            raise RuntimeError("killed")
    assert not target.exists() and not list(target.parent.iterdir())  # nothing that looks finished
    with atomic.replacing_dir(target) as tmp:
        (tmp / "00000.npy").write_text("one")
    with atomic.replacing_dir(target) as tmp:  # a rerun replaces the old folder whole
        (tmp / "00001.npy").write_text("two")
    assert sorted(p.name for p in target.iterdir()) == ["00001.npy"]
    stale = target.parent / ".track.tmp"
    stale.mkdir()
    (stale / "junk").write_text("from a killed job")
    with atomic.replacing_dir(target) as tmp:
        assert not list(tmp.iterdir())  # a leftover temporary folder is cleared first
