"""What TensorFlow runs on in a rule job: its threads, the devices it sees, a GPU it was given but cannot use,
and (for training) the precision and the distribution strategy: decided here and nowhere else.

The rule scripts that run TensorFlow (``train``, ``generate``) call, in this order:

1. :func:`configure_threads` with ``snakemake.threads``, before TensorFlow runs any operation (the
   thread pools are fixed at its first one): intra-op threads = the job's threads, so ``threads: 4``
   on a rule (or ``--set-threads train=8``) is what TensorFlow uses; inter-op threads (independent
   operations run side by side) = at most :data:`INTER_OP_MAX`.
2. :func:`log_devices`: the TensorFlow build, GPUs and CPUs seen, the precision and the thread
   counts, as the first lines of the job's log.
3. :func:`check_gpu` (``train``, through :func:`setup_runtime`) with ``snakemake.resources.get("gpu", 0)``: a job that was given a
   GPU but whose TensorFlow sees none trains on the CPU while the GPU stays reserved. Where the
   machine shows an NVIDIA GPU (``nvidia-smi -L``, ``/dev/nvidia*`` or ``CUDA_VISIBLE_DEVICES`` set
   by a scheduler) that is a loud WARNING naming the fix; on a machine without any (a laptop running
   the workflow as it is, whose ``train`` rule always declares ``gpu=1``) one INFO line. With
   ``require=True`` (``train.require_gpu``) it raises :class:`GPUNotFoundError` instead.

TensorFlow is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

INTER_OP_MAX = 2  # the train step has a few independent branches (critic steps, generator calls), not dozens
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu")  # the builds `make setup` installs (one of them)


class GPUNotFoundError(RuntimeError):
    """The job was given a GPU (``resources: gpu``), TensorFlow sees none, and a GPU is required."""


def thread_counts(threads: int | None) -> tuple[int, int]:
    """(intra-op, inter-op) threads for a job with ``threads`` cores: all of them within one operation,
    at most :data:`INTER_OP_MAX` operations side by side."""
    intra = max(1, int(threads or 1))
    return intra, min(INTER_OP_MAX, intra)


def configure_threads(threads: int | None) -> tuple[int, int]:
    """Give TensorFlow the job's threads; returns (intra-op, inter-op). Call before any TensorFlow operation."""
    import tensorflow as tf

    intra, inter = thread_counts(threads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError as exc:  # TensorFlow already ran an operation with other pools
        raise RuntimeError(
            f"cannot give TensorFlow {intra} intra-op and {inter} inter-op threads: it is already initialised "
            f"(call devices.configure_threads before anything runs a TensorFlow operation): {exc}"
        ) from exc
    return intra, inter


def physical_gpus() -> list:
    """The GPUs TensorFlow sees (physical devices; listing them does not fix the thread pools)."""
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def tensorflow_distribution() -> tuple[str, str] | None:
    """(distribution, version) of the installed TensorFlow build: ``tensorflow`` or ``tensorflow-cpu``."""
    for name in TF_DISTRIBUTIONS:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def build_description() -> str:
    """E.g. 'TensorFlow 2.21.0 (tensorflow-cpu: CPU-only build), Keras 3.15.1'."""
    import keras
    import tensorflow as tf

    info = dict(tf.sysconfig.get_build_info())
    dist = tensorflow_distribution()
    name = dist[0] if dist else "unknown distribution"
    if info.get("is_cuda_build"):
        build = f"CUDA {info.get('cuda_version', '?')}, cuDNN {info.get('cudnn_version', '?')}"
    elif info.get("is_rocm_build"):
        build = "ROCm build"
    else:
        build = "CPU-only build"
    return f"TensorFlow {tf.__version__} ({name}: {build}), Keras {keras.__version__}"


def _gpu_name(tf, gpu) -> str:
    try:
        details = tf.config.experimental.get_device_details(gpu)
    except Exception:  # details are a nicety; a device that cannot describe itself is still listed
        details = {}
    cc = details.get("compute_capability")
    text = details.get("device_name") or gpu.name.replace("/physical_device:", "")
    return f"{text} (compute capability {cc[0]}.{cc[1]})" if cc else text


def device_lines(*, precision: str | None = None, threads: int | None = None) -> list[str]:
    """The lines :func:`log_devices` writes. Initialises TensorFlow's devices (call after configure_threads)."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_physical_devices("CPU")
    logical_cpus = tf.config.list_logical_devices("CPU")
    gpu_text = f"{len(gpus)} GPU(s): " + "; ".join(_gpu_name(tf, g) for g in gpus) if gpus else "no GPU"
    cpu_text = f"{len(cpus)} physical CPU device(s)"
    if len(logical_cpus) != len(cpus):
        cpu_text += f" split into {len(logical_cpus)} logical ones"
    lines = [build_description(), f"devices: {gpu_text}; {cpu_text} ({os.cpu_count()} cores on this machine)"]
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        lines[-1] += f"; CUDA_VISIBLE_DEVICES={cvd!r}"
    lines.append(f"precision: {precision or 'Keras policy ' + keras.mixed_precision.global_policy().name}")
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    job = f" (the job's threads: {threads})" if threads is not None else ""
    lines.append(
        "threads: intra-op "
        + (str(intra) if intra else "all cores")
        + ", inter-op "
        + (str(inter) if inter else "TensorFlow's default")
        + job
    )
    lines.append(f"CPU kernels: {cpu_kernels()}")
    return lines


def cpu_kernels() -> str:
    """Which library TensorFlow's CPU operations run on: oneDNN or Eigen. TensorFlow picks once, at its import,
    from ``TF_ENABLE_ONEDNN_OPTS`` (set by :mod:`audiowgan.nn` when unset), so a process that imported
    TensorFlow before this package runs Eigen on CPUs without AVX512; the log line shows it."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own test for it; not public API
    except ImportError:
        return "unknown (this TensorFlow does not say)"
    switch = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    setting = f"TF_ENABLE_ONEDNN_OPTS={switch}" if switch is not None else "TF_ENABLE_ONEDNN_OPTS unset"
    return ("oneDNN" if _pywrap_util_port.IsMklEnabled() else "Eigen") + f" ({setting})"


def log_devices(log: logging.Logger, *, precision: str | None = None, threads: int | None = None) -> list[str]:
    """Log :func:`device_lines` (one INFO line each) and return them."""
    lines = device_lines(precision=precision, threads=threads)
    for line in lines:
        log.info("%s", line)
    return lines


def gpu_evidence(nvidia_smi: str = "nvidia-smi") -> str | None:
    """Why this machine seems to have an NVIDIA GPU (whatever TensorFlow sees), or None when nothing says so."""
    smi = shutil.which(nvidia_smi)
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        listed = [line.split(" (UUID")[0] for line in out.splitlines() if line.startswith("GPU ")]
        if listed:
            return f"nvidia-smi lists {len(listed)} GPU(s): {'; '.join(listed)}"
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if cvd and cvd not in {"-1", "NoDevFiles"}:
        return f"CUDA_VISIBLE_DEVICES={cvd} (set by the scheduler or by you)"
    nodes = sorted(p.name for p in Path("/dev").glob("nvidia[0-9]*"))
    if nodes:
        return f"/dev has {', '.join(nodes)}"
    return None


def no_gpu_message(requested: float) -> str:
    """Why TensorFlow sees no GPU, and the fix, for a job that was given ``requested`` GPUs."""
    import tensorflow as tf

    info = dict(tf.sysconfig.get_build_info())
    dist = tensorflow_distribution()
    name, version = dist if dist else ("tensorflow", tf.__version__)
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if info.get("is_cuda_build"):
        cause = (
            f"TensorFlow is built with CUDA {info.get('cuda_version', '?')} but found no usable GPU (no driver "
            "or one too old for it, the GPU hidden, or CUDA libraries missing: TensorFlow's own stderr lines "
            "above say which)"
        )
    else:
        cause = f"the installed TensorFlow ({name} {version}) is a CPU-only build"
    swap = f'pip uninstall -y {name} && pip install "tensorflow[and-cuda]=={version}"'
    return (
        f"this job was given gpu={requested:g} but TensorFlow sees no GPU, so it runs on the CPU while the GPU "
        f"stays reserved: {cause}. Fix: install the CUDA build, `make setup TF=cuda` (or, in the environment "
        f"that runs this job, `{swap}`); check that `nvidia-smi` on this machine lists the GPU and that "
        f"CUDA_VISIBLE_DEVICES ({'unset' if cvd is None else repr(cvd)}) does not hide it"
    )


def check_gpu(requested: float | int | None, log: logging.Logger, *, require: bool = False) -> bool:
    """True when the job was given no GPU or TensorFlow sees one; else warn (or raise, with ``require``).

    ``requested``: the job's ``gpu`` resource (``snakemake.resources.get("gpu", 0)``).
    """
    requested = float(requested or 0)
    if requested <= 0 or physical_gpus():
        return True
    message = no_gpu_message(requested)
    if require:
        raise GPUNotFoundError(message + ". train.require_gpu is true: stopping rather than training on the CPU.")
    evidence = gpu_evidence()
    if evidence is None:
        log.info(
            "this machine shows no NVIDIA GPU (no nvidia-smi listing, no /dev/nvidia*, no CUDA_VISIBLE_DEVICES):"
            " training on the CPU; the rule's gpu=%g reservation is unused. If it has one: make setup TF=cuda",
            requested,
        )
        return False
    bar = "!" * 100
    log.warning(bar)
    log.warning("GPU NOT USED: %s.", message)
    log.warning(
        "Evidence of a GPU here: %s. Set train.require_gpu: true to fail instead of training on the CPU.", evidence
    )
    log.warning(bar)
    return False


# ------------------------------------------------------------------------------------- training: precision, strategy


def cpu_has_bfloat16() -> bool:
    """True on x86 CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX), where oneDNN runs bf16 fast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision_policy(mixed_precision: bool, *, gpu: bool) -> str:
    """Keras dtype policy for ``train.mixed_precision``: float16 compute on GPUs, bfloat16 on CPUs that
    have it, else float32. Variables, the critic's score, the losses and the penalty stay float32."""
    if not mixed_precision:
        return "float32"
    if gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


@dataclass
class Runtime:
    """Where and in what precision training runs: GPUs seen, the Keras dtype policy, the strategy."""

    gpus: list
    policy: str
    strategy: object | None  # a tf.distribute.Strategy, or None for the default device

    @property
    def loss_scale(self) -> bool:
        return self.policy == "mixed_float16"  # float16 needs loss scaling; bfloat16 has float32's range

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    @contextmanager
    def policy_scope(self) -> Iterator[None]:
        """The dtype policy set for the block, the previous one restored after it."""
        import keras

        old = keras.mixed_precision.global_policy()
        if self.policy != "float32":
            keras.mixed_precision.set_global_policy(self.policy)
        try:
            yield
        finally:
            keras.mixed_precision.set_global_policy(old)


def setup_runtime(
    tp, log: logging.Logger, *, strategy=None, threads: int | None = None, gpu_requested: float = 0
) -> Runtime:
    """Devices, precision, determinism and the global seed for training ``tp`` (a TrainSpec), logged once.

    ``threads``: the job's threads, given by the rule (which called :func:`configure_threads`); with it
    the device lines (:func:`log_devices`) come first in the log and :func:`check_gpu` runs on
    ``gpu_requested`` (the job's ``gpu`` resource; ``train.require_gpu`` makes a missing GPU fatal).
    ``strategy`` overrides the automatic choice (MirroredStrategy over every GPU when there are
    several, else none): e.g. a MirroredStrategy over two logical CPU devices, to test the
    multi-replica path without GPUs.
    """
    import keras
    import tensorflow as tf

    gpus = physical_gpus()
    policy = precision_policy(tp.mixed_precision, gpu=bool(gpus))
    if threads is not None:
        flag = str(tp.mixed_precision).lower()
        log_devices(log, threads=threads, precision=f"{policy} (train.mixed_precision: {flag})")
        check_gpu(gpu_requested, log, require=tp.require_gpu)
    if tp.mixed_precision:
        log.info("train.mixed_precision: %s", policy if policy != "float32" else "ignored (no GPU, no bfloat16 CPU)")
    if tp.xla and not gpus:
        log.info("train.xla on CPU: expect it to be slower than without")
    if gpus:  # deterministic GPU kernels are slower and some ops lack them: reproducibility is a CPU promise
        log.info("GPU: op determinism not enforced; runs may differ in the last bits")
    else:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(tp.seed)
    if strategy is None and len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
    if strategy is not None:
        name = type(strategy).__name__
        log.info("%s over %d replicas, global batch %d", name, strategy.num_replicas_in_sync, tp.batch_size)
        if tp.xla:
            # strategy.run of the XLA-compiled step fails on the random generator's replicated state
            # (tested on logical CPUs); the distributed step runs without XLA.
            log.warning("train.xla is not applied under %s", name)
    return Runtime(gpus, policy, strategy)
