"""Time one steady-state generator step (with its d_steps critic steps): this project vs the reference.

Ours runs the schema's default networks, the reference the write-up's (which the defaults equal
today), batch 16, d_steps 3, on a 64x64 input by default, in the same process. Rounds alternate between the implementations, so load from other processes on a
shared machine hits all alike; the median step time of each is reported, and its speed-up over the
reference (Keras ``fit``, float32, Keras's own Adam and BatchNorm, ``benchmarks/reference_fit.py``).

Ours runs in float32 unless ``--mixed`` (``train.mixed_precision``: float16 on GPUs, bfloat16 on CPUs
with AVX512-BF16/AMX, else float32) and without XLA unless ``--xla`` (``train.xla``). ``--all`` times
every combination (float32, mixed, xla, mixed+xla) and the reference with and without XLA, and prints
one table; on a GPU that is the table for the README. The first column of the table is the warm-up
(tracing, XLA compilation), not counted in the medians. Runs unchanged on CPUs and GPUs.

    nice .venv/bin/python benchmarks/train_step.py [--steps 6] [--rounds 3] [--input 64x64] [--mixed] [--xla]
    .venv/bin/python benchmarks/train_step.py --all --input 256x256 --batch 16      # the write-up's size, on a GPU
    .venv/bin/python benchmarks/train_step.py --input 32x32 --steps 2 --rounds 1   # smoke run on a CPU (~1 min)
    nice .venv/bin/python benchmarks/train_step.py --variant critic_clip_stats=false   # what a default costs

``--keras-adam`` times ours again with Keras's own Adam, as the reference trains, to show what the fused Adam
(``audiowgan.nn.adam``) gives. ``--variant`` times ours again with some model keys changed, in the same alternating
rounds, so a default change says what it does to the step beside what it does to the clips.

On CPUs ``--all`` is slow: XLA compiles each implementation for minutes and then runs about 30x slower
(measured at 32x32 on 2 cores: 100 s/step against 3-4 s), which is why ``train.xla`` is for GPUs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]


def writeup_keys() -> dict:
    """The write-up's networks as model keys, written out so that a change of defaults cannot move them: its keras-io
    WGAN-GP blocks (nearest x2 then 3x3 in the generator, 5x5 stride 2 in the critic) at the default widths, and every
    key added since (band norm, peak norm, clip statistics, minibatch std, self-modulation) off."""
    from audiowgan.core.settings import ModelSpec

    return {"kind": "conv2d", "upsample": "resize", "generator_kernel_size": 3, "critic_kernel_size": 5,
            "critic_band_norm": False, **ModelSpec.ADDED_OFF}  # fmt: skip


OURS = {"float32": (False, False), "mixed": (True, False), "xla": (False, True), "mixed+xla": (True, True)}


@dataclass
class Impl:
    """One implementation under test: a name, what it computes in, and a function running n timed steps."""

    name: str
    compute: str
    run: object  # callable(n) -> list of per-step seconds
    warmup_s: float | None = None
    times: list[float] = field(default_factory=list)
    error: str | None = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="timed generator steps per round and implementation")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing, XLA compilation)")
    ap.add_argument("--input", default="64x64", help="n_mels x frames")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--d-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="TensorFlow threads as a rule job with this many threads gets them (0: TensorFlow's default)")  # fmt: skip
    ap.add_argument("--mixed", action="store_true",
                    help="ours with train.mixed_precision (bfloat16 on CPUs that have it, float16 on GPUs); "
                         "the reference stays float32")  # fmt: skip
    ap.add_argument("--xla", action="store_true", help="ours compiled with XLA (train.xla)")
    ap.add_argument("--gp-every", type=int, default=1, metavar="K",
                    help="also time ours with train.gp_every K: the penalty on every K-th critic update")  # fmt: skip
    ap.add_argument("--keras-adam", action="store_true",
                    help="also time ours with Keras's own Adam (the reference's) instead of the fused one")  # fmt: skip
    ap.add_argument("--ref-xla", choices=["auto", "on", "off"], default="auto",
                    help="the reference fit's jit_compile (auto: Keras's choice, XLA on GPUs and not on CPUs)")  # fmt: skip
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="also time ours with these model keys changed (e.g. critic_clip_stats=false), in the same "
                         "rounds; repeatable")  # fmt: skip
    ap.add_argument("--all", action="store_true",
                    help="every variant of ours (float32, mixed, xla, mixed+xla) and the reference with and without "
                         "XLA, in one table")  # fmt: skip
    args = ap.parse_args()
    n_mels, frames = (int(v) for v in args.input.lower().split("x"))

    from audiowgan.nn import devices

    if args.threads:
        devices.configure_threads(args.threads)  # before TensorFlow runs anything

    import keras
    import numpy as np
    import tensorflow as tf
    from reference_fit import ReferenceWGAN

    from audiowgan.core.settings import ModelSpec, TrainSpec
    from audiowgan.nn import model as M
    from audiowgan.nn.adam import FusedAdam
    from audiowgan.nn.state import make_optimizers
    from audiowgan.nn.step import WGANGP

    keras.utils.set_random_seed(0)
    mp = ModelSpec.from_mapping()  # ours: the schema's defaults
    # The reference: the write-up's networks (writeup_keys). Its generator has the keras-io layers themselves
    # (UpSampling2D, Conv2D), not our folded ResizeConv2D.
    writeup = ModelSpec.from_mapping(**writeup_keys())
    tp = TrainSpec.from_mapping(d_steps=args.d_steps, batch_size=args.batch)
    real = np.random.default_rng(0).uniform(-1, 1, (args.batch, n_mels, frames, 1)).astype(np.float32)
    real_t = tf.constant(real)
    gpu = bool(tf.config.list_physical_devices("GPU"))

    def ours(name: str, mixed: bool, xla: bool, spec: ModelSpec = mp, gp_every: int = 1, adam=FusedAdam) -> Impl:
        policy = devices.precision_policy(mixed, gpu=gpu)
        keras.mixed_precision.set_global_policy(policy)  # layers take the policy when they are built
        try:
            g, c = M.build_networks(spec, (n_mels, frames))
            scale = policy == "mixed_float16"
            gan = WGANGP(g, c, *make_optimizers(tp, loss_scale=scale, adam=adam),
                           tf.random.Generator.from_seed(0), noise_dim=mp.noise_dim, d_steps=args.d_steps,
                           gp_weight=10.0, jit_compile=xla, gp_every=gp_every)  # fmt: skip
        finally:
            keras.mixed_precision.set_global_policy("float32")

        def run(n):
            out = []
            for _ in range(n):
                t = time.perf_counter()
                gan.step(real_t)
                out.append(time.perf_counter() - t)
            return out

        compute = policy + (", XLA" if xla else "") + (" (mixed precision ignored here)" if mixed and policy == "float32" else "")  # fmt: skip
        return Impl(name, compute, run)

    ds = tf.data.Dataset.from_tensors(real).repeat()

    def reference(name: str, jit: str) -> Impl:
        g, c = M.build_networks(writeup, (n_mels, frames), writeup_layers=True)
        ref = ReferenceWGAN(g, c, noise_dim=mp.noise_dim, d_steps=args.d_steps, gp_weight=10.0)
        g_opt, d_opt = make_optimizers(tp, adam=keras.optimizers.Adam)  # the write-up's: Keras's own Adam
        ref.compile(d_optimizer=d_opt, g_optimizer=g_opt)
        if jit != "auto":
            ref.jit_compile = jit == "on"
        times: list[float] = []

        class Clock(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                self.t = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                times.append(time.perf_counter() - self.t)

        def run(n):
            times.clear()
            ref.fit(ds, epochs=1, steps_per_epoch=n, verbose=0, callbacks=[Clock()])
            return list(times)

        return Impl(name, "float32 (Keras fit" + (", XLA)" if ref.jit_compile else ")"), run)

    mine = {v: k for k, v in OURS.items()}[(args.mixed, args.xla)]  # with --all, the variants run as float32
    if args.all:
        impls = [reference("reference", "off"), reference("reference+xla", "on")]
        impls += [ours(name, mixed, xla) for name, (mixed, xla) in OURS.items()]
    else:
        impls = [reference("reference", args.ref_xla), ours(mine, args.mixed, args.xla)]
    for text in args.variant:
        spec = ModelSpec.from_mapping(**(mp.to_dict() | variant_keys(text)))
        impls.append(ours(f"{mine} {text}", args.mixed, args.xla, spec))
    if args.keras_adam:
        impls.append(ours(f"{mine}, Keras's Adam", args.mixed, args.xla, adam=keras.optimizers.Adam))
    if args.gp_every > 1:
        impls.append(ours(f"{mine}, train.gp_every {args.gp_every}", args.mixed, args.xla, gp_every=args.gp_every))
    baseline = impls[0]

    g, c = M.build_networks(mp, (n_mels, frames))
    print(f"input {n_mels}x{frames}, batch {args.batch}, d_steps {args.d_steps}, generator {g.count_params():,} and "
          f"critic {c.count_params():,} parameters", flush=True)  # fmt: skip
    for line in devices.device_lines(precision="per implementation, below", threads=args.threads or None):
        print(line, flush=True)

    for impl in impls:
        t = time.perf_counter()
        try:
            impl.run(args.warmup)
        except Exception as exc:  # one failing variant (say XLA with float16 on some GPU) must not hide the rest
            impl.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
            traceback.print_exc(limit=2)
        impl.warmup_s = time.perf_counter() - t
        print(f"warm-up {impl.name}: {impl.warmup_s:.1f} s" + (f" FAILED {impl.error}" if impl.error else ""),
              flush=True)  # fmt: skip

    for r in range(args.rounds):
        parts = []
        for impl in impls:
            if impl.error is None:
                step_times = impl.run(args.steps)
                impl.times += step_times
                parts.append(f"{impl.name} {statistics.median(step_times):.3f}")
        print(f"round {r + 1} (s/step): " + ", ".join(parts), flush=True)

    base = statistics.median(baseline.times) if baseline.times else None
    print()
    print(f"| implementation | computes in | warm-up s | s/step (median of {args.rounds * args.steps}) | speed-up vs {baseline.name} |")  # fmt: skip
    print("|---|---|---|---|---|")
    for impl in impls:
        if impl.error:
            print(f"| {impl.name} | {impl.compute} | {impl.warmup_s:.1f} | failed: {impl.error} | |")
            continue
        med = statistics.median(impl.times)
        speed = f"{base / med:.2f}x" if base else "?"
        print(f"| {impl.name} | {impl.compute} | {impl.warmup_s:.1f} | {med:.4f} | {speed} |")
    if not args.all and not args.variant and all(i.error is None for i in impls):
        mo, mr = statistics.median(impls[1].times), base
        print(f"\nmedian over {len(impls[1].times)} steps: ours ({impls[1].compute}) {mo:.3f} s/step, reference "
              f"({baseline.compute}) {mr:.3f} s/step, speed-up {mr / mo:.2f}x")  # fmt: skip


def variant_keys(text: str) -> dict:
    """``"critic_clip_stats=false, critic_channels=[8, 16]"`` -> {"critic_clip_stats": False, "critic_channels":
    [8, 16]}: read as a YAML flow mapping, so values are YAML's."""
    import yaml

    try:
        keys = yaml.safe_load("{" + text.replace("=", ": ") + "}")
    except yaml.YAMLError as exc:
        raise SystemExit(f"--variant {text!r}: expected KEY=VALUE[,KEY=VALUE] ({exc.problem})") from None
    if any(v is None for v in keys.values()):
        raise SystemExit(f"--variant {text!r}: expected KEY=VALUE[,KEY=VALUE]")
    return keys


if __name__ == "__main__":
    main()
