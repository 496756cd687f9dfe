"""Devices in rule jobs: threads reach TensorFlow, the log names the devices, a reserved GPU that TensorFlow
cannot see is a loud warning (or an error), and the multi-replica path trains, checkpoints and resumes.

TensorFlow fixes its thread pools and devices at its first operation, so whatever sets them runs in a
fresh subprocess; the rest runs in the test process.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import os
import platform
import stat
import subprocess
import sys
import textwrap

import pytest
import tensorflow  # noqa: F401 - a hard dependency: a broken install fails the suite, never skips it

from audiowgan.nn import devices  # noqa: E402
from conftest import REPO  # noqa: E402

SCRIPTS = REPO / "workflow" / "scripts"
GPU_LISTING = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a1e0c3b-0000-0000-0000-000000000000)"


def python(code: str, *, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the package and the tests importable (``env``: variables to set,
    None to remove one)."""
    paths = os.pathsep.join([str(SCRIPTS), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    full_env = {**os.environ, "PYTHONPATH": paths, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    assert proc.returncode == 0, f"subprocess failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def fake_gpu_path(tmp_path, monkeypatch):
    """PATH with an ``nvidia-smi`` that lists one GPU (the machine has one; TensorFlow here cannot use it)."""
    smi = tmp_path / "fake-bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f'#!/bin/sh\n[ "$1" = -L ] && echo "{GPU_LISTING}"\n')
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    return smi.parent


@pytest.fixture
def no_gpu_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no nvidia-smi to find
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if devices.gpu_evidence() is not None:
        pytest.skip(f"this machine shows a GPU: {devices.gpu_evidence()}")


needs_no_gpu = pytest.mark.skipif(
    "bool(devices.physical_gpus())", reason="TensorFlow sees a GPU here: the no-GPU path cannot be shown"
)


# ------------------------------------------------------------------------------------------------ threads


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's switch is for x86 CPUs")
@pytest.mark.parametrize("setting, on", [(None, True), ("0", False), ("1", True)], ids=["unset", "off", "on"])
def test_tensorflow_computes_with_onednn_on_x86_unless_told_not_to(setting, on):
    # TensorFlow turns oneDNN on by itself only on CPUs with AVX512-VNNI/BF16 or AMX; without it, AVX2 CPUs
    # ran the training step 1.6x slower. The package sets the switch before TensorFlow is imported.
    code = """
        from audiowgan.nn import devices
        from tensorflow.python.util import _pywrap_util_port
        print(devices.cpu_kernels().split()[0], _pywrap_util_port.IsMklEnabled())
        """
    proc = python(code, env={"TF_ENABLE_ONEDNN_OPTS": setting})
    assert proc.stdout.split()[-2:] == ["oneDNN" if on else "Eigen", str(on)]


def test_every_benchmark_imports_the_package_before_tensorflow():
    # Else TensorFlow computes with Eigen on CPUs without AVX512 and the benchmark times what no rule job runs
    # (benchmarks/step_profile.py did until 2026-12-06). Checked where a benchmark starts, its top and main():
    # where either imports TensorFlow or Keras, audiowgan.nn comes before, in main() itself or at the top.
    late = {}
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text())
        top = _first_imports(tree)
        for scope in [tree, *(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")]:
            first = {**_first_imports(scope), **{k: 0 for k in top if scope is not tree}}
            tf_line = min(first.get("tensorflow", math.inf), first.get("keras", math.inf))
            if first.get("audiowgan.nn", math.inf) > tf_line:
                late[f"{path.name}:{tf_line}"] = getattr(scope, "name", "<module>")
    # reference_fit.py is the write-up's module, imported by train_step.py after the package
    assert late == {"reference_fit.py:13": "<module>"}


def _first_imports(scope: ast.AST) -> dict[str, int]:
    """The line of each package's first import among ``scope``'s own statements (not nested functions'):
    'tensorflow', 'keras', 'audiowgan.nn' (and any of its modules), and others by their top name."""
    first = {}
    todo = list(scope.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            key = "audiowgan.nn" if name.startswith("audiowgan.nn") else name.split(".")[0]
            first.setdefault(key, node.lineno)
        todo[:0] = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
    return first


def test_thread_counts_follow_the_job():
    assert devices.thread_counts(4) == (4, 2)
    assert devices.thread_counts(8) == (8, devices.INTER_OP_MAX)
    assert devices.thread_counts(1) == (1, 1)
    assert devices.thread_counts(None) == (1, 1) and devices.thread_counts(0) == (1, 1)


def test_threads_reach_tensorflow_and_the_log_names_the_devices():
    proc = python("""
        import json, logging
        from audiowgan.nn import devices
        set_to = devices.configure_threads(3)
        import tensorflow as tf
        got = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
        lines = devices.log_devices(logging.getLogger("t"), threads=3, precision="float32 (train.mixed_precision: false)")
        tf.constant(1.0) + 1.0  # TensorFlow is running now: its pools are fixed
        try:
            devices.configure_threads(5)
            late = None
        except RuntimeError as exc:
            late = str(exc)
        devices.configure_threads(3)  # the same values again are fine
        print(json.dumps({"set": set_to, "got": got, "lines": lines, "late": late}))
    """)
    out = last_json(proc)
    assert out["set"] == [3, 2] and out["got"] == [3, 2]
    build, devs, precision, threads, kernels = out["lines"]
    assert build.startswith("TensorFlow 2.") and "Keras 3." in build and "build)" in build
    assert devs.startswith("devices: ") and "physical CPU device(s)" in devs
    assert precision == "precision: float32 (train.mixed_precision: false)"
    assert threads == "threads: intra-op 3, inter-op 2 (the job's threads: 3)"
    onednn = platform.machine().lower() in ("x86_64", "amd64")  # the package's setting; Eigen elsewhere
    assert kernels == "CPU kernels: oneDNN (TF_ENABLE_ONEDNN_OPTS=1)" if onednn else kernels.startswith("CPU kernels: ")
    assert "already initialised" in out["late"] and "configure_threads" in out["late"]


# ------------------------------------------------------------------------------------------------ no GPU


@needs_no_gpu
def test_a_reserved_gpu_tensorflow_cannot_see_is_a_loud_warning(fake_gpu_path, caplog):
    log = logging.getLogger("gpu-check")
    with caplog.at_level(logging.INFO, logger="gpu-check"):
        assert devices.check_gpu(1, log) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    text = "\n".join(warnings)
    assert len(warnings) >= 3 and warnings[0] == warnings[-1] == "!" * 100  # a banner, not one line among many
    assert "GPU NOT USED: this job was given gpu=1 but TensorFlow sees no GPU" in text
    assert "make setup TF=cuda" in text and 'pip install "tensorflow[and-cuda]==2.' in text
    assert "nvidia-smi" in text and "CUDA_VISIBLE_DEVICES" in text
    assert "NVIDIA H100 80GB HBM3" in text and "UUID" not in text  # the evidence: what nvidia-smi listed
    assert "train.require_gpu: true" in text
    dist = devices.tensorflow_distribution()
    if dist and dist[0] == "tensorflow-cpu":
        assert "is a CPU-only build" in text and "pip uninstall -y tensorflow-cpu" in text


@needs_no_gpu
def test_a_scheduler_given_gpu_counts_as_evidence(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # what SLURM sets for --gpus=1
    with caplog.at_level(logging.INFO, logger="gpu-check"):
        devices.check_gpu(1, logging.getLogger("gpu-check"))
    assert "GPU NOT USED" in caplog.text and "CUDA_VISIBLE_DEVICES=0 (set by the scheduler" in caplog.text
    assert "CUDA_VISIBLE_DEVICES ('0') does not hide it" in caplog.text


@needs_no_gpu
def test_on_a_machine_without_any_gpu_it_is_one_info_line(no_gpu_anywhere, caplog):
    with caplog.at_level(logging.INFO, logger="gpu-check"):
        assert devices.check_gpu(1, logging.getLogger("gpu-check")) is False
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "shows no NVIDIA GPU" in caplog.text and "make setup TF=cuda" in caplog.text


@needs_no_gpu
def test_require_gpu_turns_the_warning_into_an_error(fake_gpu_path, caplog):
    with pytest.raises(devices.GPUNotFoundError, match=r"gpu=1 but TensorFlow sees no GPU.*make setup TF=cuda"):
        devices.check_gpu(1, logging.getLogger("gpu-check"), require=True)
    with pytest.raises(devices.GPUNotFoundError, match="train.require_gpu is true"):
        devices.check_gpu(2, logging.getLogger("gpu-check"), require=True)


def test_no_gpu_asked_for_means_nothing_to_say(fake_gpu_path, caplog):
    with caplog.at_level(logging.INFO, logger="gpu-check"):
        assert devices.check_gpu(0, logging.getLogger("gpu-check"), require=True) is True
        assert devices.check_gpu(None, logging.getLogger("gpu-check")) is True
    assert caplog.text == ""


# ------------------------------------------------------------------------------------------------ rule script


@needs_no_gpu
def test_the_train_rule_script_logs_devices_first_and_warns(tmp_path, fake_gpu_path):
    """workflow/scripts/train.py with a stand-in ``snakemake`` object: threads 2, gpu=1 on a machine whose
    TensorFlow sees no GPU (the fake nvidia-smi says there is one)."""
    log = tmp_path / "train.log"
    python(f"""
        import runpy, tensorflow as tf
        from pathlib import Path
        from types import SimpleNamespace
        from test_training import MODEL, TRAIN, make_dataset

        ds = make_dataset(Path({str(tmp_path)!r}) / "dataset")
        model = Path({str(tmp_path)!r}) / "model"
        params = dict(model=MODEL, train={{**TRAIN, "epochs": 1}}, checkpoint_dir={str(tmp_path / "ck")!r},
                      tensorboard_dir={str(tmp_path / "tb")!r})
        class Input(SimpleNamespace):  # Snakemake's named lists answer .get, as train.py asks for init_model
            def get(self, key, default=None):
                return getattr(self, key, default)

        snakemake = SimpleNamespace(
            input=Input(mels=str(ds / "mels.npy")), output=SimpleNamespace(generator=str(model / "generator.weights.h5")),
            params=SimpleNamespace(**params), log=[{str(log)!r}], threads=2, resources={{"gpu": 1}},
            wildcards=SimpleNamespace(exp=""),  # the top-level run
            config={{"train": {{}}}})  # the result-neutral keys (rerun.run_values) take their defaults
        runpy.run_path({str(SCRIPTS / "train.py")!r}, init_globals={{"snakemake": snakemake}})
        assert tf.config.threading.get_intra_op_parallelism_threads() == 2
        assert tf.config.threading.get_inter_op_parallelism_threads() == 2
    """)
    lines = [ln.split(" audiowgan: ", 1)[1] for ln in log.read_text().splitlines() if " audiowgan: " in ln]
    assert lines[0].startswith("TensorFlow 2.") and lines[1].startswith("devices: no GPU")
    assert lines[2] == "precision: float32 (train.mixed_precision: false)"
    assert lines[3] == "threads: intra-op 2, inter-op 2 (the job's threads: 2)"
    assert lines[4].startswith("CPU kernels: ")
    assert lines[5] == "!" * 100 and lines[6].startswith("GPU NOT USED: this job was given gpu=1")
    assert any(ln.startswith("done: 3 steps") for ln in lines)
    assert (tmp_path / "model" / "generator.weights.h5").exists()


# ------------------------------------------------------------------------------------------------ replicas

MIRRORED = """
    import json, logging, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # two logical CPUs, before TensorFlow starts
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    import pandas as pd
    from pathlib import Path
    from test_training import MODEL, TRAIN, make_dataset
    from audiowgan.nn import model_files
    from audiowgan.nn import train as T
    from audiowgan.nn.loop import Callback

    root = Path(sys.argv[1])
    ds = make_dataset(root / "dataset", n=24)  # 6 steps of 4 per epoch
    records = []

    class Logs(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("replicas")
    log.setLevel(logging.INFO)
    log.addHandler(Logs())

    class ReplicaCheck(Callback):
        def on_train_end(self, loop):  # which variables differ between the replicas' copies
            self.replicas, self.differ = 1, []
            for net in (loop.state.generator, loop.state.critic):
                for v in net.weights:
                    copies = [np.asarray(x) for x in getattr(v.value, "values", [v.value])]
                    self.replicas = max(self.replicas, len(copies))
                    if any(not np.array_equal(copies[0], c) for c in copies[1:]):
                        self.differ.append((v.path, bool(v.trainable)))

    def run(name, epochs, strategy):
        check = ReplicaCheck()
        start = len(records)
        T.train(dataset_dir=ds, model_dir=root / name / "model", checkpoint_dir=root / name / "ck",
                model_params=MODEL, train_params={**TRAIN, "epochs": epochs}, log=log, strategy=strategy,
                callbacks=[check])
        return {"log": records[start:], "replicas": check.replicas, "differ": check.differ}

    one = run("one", 2, None)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    first = run("two", 1, mirrored)
    second = run("two", 2, mirrored)  # resumes from the first run's checkpoint
    generator, _ = model_files.load_generator(root / "two" / "model")
    out = {
        "n_replicas": mirrored.num_replicas_in_sync,
        "one": pd.read_csv(root / "one" / "model" / "losses.csv").to_dict("list"),
        "two": pd.read_csv(root / "two" / "model" / "losses.csv").to_dict("list"),
        "first": first, "second": second, "one_run": one,
        "generated_shape": list(generator(np.zeros((2, MODEL["noise_dim"]), np.float32)).shape),
    }
    print(json.dumps(out))
"""

# Measured on this code (seeds 0-3, 12 steps, 2 CPU replicas vs 1): the mean d_loss differed by 1.5-3.6 %
# and the mean gradient penalty by 2.0-4.2 %, as each replica draws its own noise and normalises its
# half batch with its own BatchNorm statistics. Across seeds the mean d_loss itself moves by ~30 %.
REL_TOLERANCE = 0.10


def test_mirrored_strategy_over_two_logical_cpus_trains_checkpoints_and_resumes(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(textwrap.dedent(MIRRORED))
    paths = os.pathsep.join([str(SCRIPTS), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": paths, "TF_CPP_MIN_LOG_LEVEL": "2"})  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-8000:]}"
    out = last_json(proc)
    assert out["n_replicas"] == 2

    first, second = "\n".join(out["first"]["log"]), "\n".join(out["second"]["log"])
    assert "MirroredStrategy over 2 replicas, global batch 4" in first
    assert "starting fresh" in first and "6 steps/epoch, 1 epochs (6 steps)" in first
    assert "resuming from" in second and "at step 6" in second and "6 steps/epoch, 2 epochs (12 steps)" in second

    one, two = out["one"], out["two"]
    assert two["step"] == list(range(1, 13)) == one["step"]  # same global batch: same steps per epoch
    assert two["epoch"] == [1] * 6 + [2] * 6
    losses = ["d_loss", "g_loss", "gradient_penalty", "wasserstein"]
    assert all(abs(v) < 1e6 for k in losses for v in two[k]), "non-finite or exploding losses"

    def mean(rows, key):
        return sum(rows[key]) / len(rows[key])

    for key in ("d_loss", "gradient_penalty"):
        a, b = mean(one, key), mean(two, key)
        assert abs(a - b) <= REL_TOLERANCE * abs(a), f"{key}: one replica {a:.4f}, two replicas {b:.4f}"

    # Mirrored weights stay equal on both replicas (gradients all-reduced); only BatchNorm's moving
    # statistics may differ (Keras keeps one per replica unless the layer is synchronized).
    assert out["second"]["replicas"] == 2
    trainable_differ = [path for path, trainable in out["second"]["differ"] if trainable]
    assert not trainable_differ, f"trainable variables differ between replicas: {trainable_differ}"
    assert all("moving_" in path for path, _ in out["second"]["differ"]), out["second"]["differ"]
    assert out["generated_shape"] == [2, 16, 12, 1]
