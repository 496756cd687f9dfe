"""``python -m audiowgan.render``: its options as settings, and its error paths (no model needed).

Rendering through the command line is tested in test_generation.py, with a trained tiny model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from audiowgan.core.names import WEIGHTS
from audiowgan.render import __main__ as cli
from conftest import REPO


def settings(*argv: str):
    return cli.settings(cli.parser().parse_args(["--model", "m", "--out", "o", *argv]))


def test_zero_is_a_value_not_unset():
    # `--seconds 0` once rendered the default 60 s (`args.seconds or 60`): now the schema refuses it.
    assert settings("--seconds", "2.5").longform.seconds == 2.5
    assert settings("--seconds", "3", "--n", "0").longform.n == 0
    assert settings("--seconds", "3", "--seed", "0").longform.seed == 0  # not the default 1000
    assert settings("--n", "7", "--seed", "5").n_clips == 7
    assert settings().temperature == 1.0 and settings("--temperature", "1.25").temperature == 1.25


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seconds", "0"], "'generate.longform.seconds' = 0.0: must be > 0"),
        (["--seconds", "-1"], "'generate.longform.seconds' = -1.0: must be > 0"),
        (["--seconds", "7200"], "'generate.longform.seconds' = 7200.0: must be <= 3600"),
        (["--n", "0"], "'generate.n_clips' = 0: must be >= 1"),
        (["--seconds", "2", "--overlap", "0"], "'generate.longform.overlap_seconds' = 0.0: must be > 0"),
        (["--griffin-lim-iters", "0"], "'generate.griffin_lim_iters' = 0: must be >= 1"),
        (["--target-dbfs", "0"], "'generate.target_dbfs' = 0.0: must be <= -1"),
        (["--formats", "mp3,wav"], "'generate.formats.1' = 'wav': must be one of mp3, ogg"),
        (["--temperature", "0"], "'generate.temperature' = 0.0: must be > 0"),
        (["--n", "two"], "argument --n: invalid int value: 'two'"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_key_and_nothing_is_written(tmp_path, capsys, argv, message):
    model = _model_folder(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--model", str(model), "--out", str(tmp_path / "out"), *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "files, missing",
    [(None, "model.json"), ([], "model.json"), (["model.json"], "generator_ema.weights.h5")],
)
def test_a_folder_that_is_not_a_trained_model_is_refused(tmp_path, capsys, files, missing):
    model = tmp_path / "model"
    if files is not None:
        model.mkdir()
        for name in files:
            (model / name).write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--model", str(model), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert f"--model {model}: no {missing} there" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_raw_weights_are_looked_for_when_asked(tmp_path, capsys):
    model = _model_folder(tmp_path)
    (model / "generator.weights.h5").unlink()
    with pytest.raises(SystemExit):
        cli.main(["--model", str(model), "--out", str(tmp_path / "out"), "--weights", "raw"])
    assert "no generator.weights.h5 there" in capsys.readouterr().err


def test_the_command_fails_at_once_without_a_traceback(tmp_path):
    env = {"PYTHONPATH": str(REPO / "workflow" / "scripts"), "PATH": os.environ["PATH"]}
    cmd = [sys.executable, "-m", "audiowgan.render", "--model", str(tmp_path), "--out", str(tmp_path / "o")]
    proc = subprocess.run([*cmd, "--seconds", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("'generate.longform.seconds' = 0.0: must be > 0")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, renderer", [([], "generate"), (["--seconds", "2"], "longform")])
def test_the_temperature_reaches_the_renderer_of_clips_and_of_pieces(tmp_path, monkeypatch, argv, renderer):
    from audiowgan.render import generate, longform

    calls = {}

    def recorder(name):
        return lambda **kw: calls.update({name: kw})

    monkeypatch.setattr(generate, "generate", recorder("generate"))
    monkeypatch.setattr(longform, "longform", recorder("longform"))
    model = _model_folder(tmp_path)
    assert cli.main(["--model", str(model), "--out", str(tmp_path / "out"), "--temperature", "1.25", *argv]) == 0
    assert list(calls) == [renderer] and calls[renderer]["temperature"] == 1.25


def _model_folder(tmp_path):
    """A folder that passes the command's model check (the bad values are refused before it is read)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text(json.dumps({}))
    for name in WEIGHTS.values():
        (model / name).write_bytes(b"")
    return model
