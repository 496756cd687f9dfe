"""Where a training step's time goes: each part of one WGAN-GP generator step, timed on its own.

One step (``nn.step.WGANGP``) is ``d_steps`` critic updates, each with a generator call for its
fake batch, and one generator update. This times, as separate compiled functions on the same
networks and batch:

- ``G forward``: one generator call (training mode), as each critic update makes;
- ``critic W loss``: mean D(real) - mean D(fake) and its gradient (critic forward and backward);
- ``penalty``: the gradient penalty and its gradient, the double backward through the critic;
- ``critic update``: the whole critic update (the two above and Adam);
- ``generator update``: generator and critic forward, backward through both, Adam;
- ``Adam, critic`` and ``Adam, generator``: one optimizer update of each network's weights alone;
- ``whole step``: what training runs, for the check that the parts add up.

Every variant in ``--variants`` is timed in the same process, in alternating rounds, so load from
other processes hits all alike. The ``share of step`` column is the part's time times how often a
step runs it (d_steps for the critic's parts), over the whole step.

    nice .venv/bin/python benchmarks/step_profile.py [--input 64x64] [--batch 16] [--rounds 3] [--mixed]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]

from train_step import writeup_keys  # noqa: E402  (the reference train_step.py times against)

DEMO = {"generator_channels": [128, 64, 32, 16], "critic_channels": [16, 32, 64]}
CONV1D = {"generator_channels": [512, 256, 128], "critic_channels": [128, 256, 256]}
# "adam" is not a model setting either: "keras" trains with Keras's own Adam, as the write-up's fit does, where every
# other variant takes the fused one (audiowgan.nn.adam).
# "writeup_layers" is not a model setting: True builds the write-up's Keras layers (each generator block's pair as
# UpSampling and Conv, Keras's BatchNormalization and LeakyReLU), False (every other variant) ours, which compute the
# same: the folded ResizeConv2D/1D, the fused BatchNormalization and model.LeakyReLU.
VARIANTS = {
    # the write-up's networks (until 2026-12-05 this row took the schema's defaults, so the keys added since crept in)
    "write-up's layers: nearest x2 + 3x3 conv G and 5x5 D": {**writeup_keys(), "writeup_layers": True, "adam": "keras"},
    "defaults: 3x3 G folded (ResizeConv2D) and 5x5 D": {},
    "defaults with Keras's Adam": {"adam": "keras"},
    "before: resize 5x5 G and D": {"generator_kernel_size": 5, "critic_kernel_size": 5},
    "transpose 5x5 G and D": {"upsample": "transpose", "generator_kernel_size": 5},
    # benchmarks/quality.py's networks (the demo's widths) and its conv1d row, for its step counts
    "quality: conv2d demo widths": {"noise_dim": 64, **DEMO},
    "quality: conv2d demo widths unfolded": {"noise_dim": 64, **DEMO, "writeup_layers": True},
    "quality: conv1d G [512 256 128] D [128 256 256]": {"noise_dim": 64, "kind": "conv1d", **CONV1D},
    "quality: conv1d G [512 256 128] D [128 256 256] unfolded": {
        "noise_dim": 64,
        "kind": "conv1d",
        **CONV1D,
        "writeup_layers": True,
    },
    "quality: conv1d G [256 128 64] D [64 128 128]": {
        "noise_dim": 64,
        "kind": "conv1d",
        "generator_channels": [256, 128, 64],
        "critic_channels": [64, 128, 128],
    },
}
assert not any("," in name for name in VARIANTS), "--variants splits on commas"
WRITE_UP_VARIANTS = list(VARIANTS)[:3]  # the default: the write-up's step, ours, and ours with the write-up's Adam


def conv_macs(model) -> int:
    """Multiply-accumulates of one example through the model's convolutions and dense layers."""
    import numpy as np

    from audiowgan.nn.layers import resize_fold

    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "Conv1D"):
            out = layer.output.shape
            total += int(layer.kernel.numpy().size) * int(
                out[1] * (out[2] if kind == "Conv2D" else 1)
            )  # kernel taps x cin x cout per output position
        elif kind == "Conv2DTranspose":
            inp = layer.input.shape
            total += int(layer.kernel.numpy().size) * int(inp[1] * inp[2])
        elif kind in ("ResizeConv2D", "ResizeConv1D"):  # (k + 1)^rank folded taps x cin x cout per input position
            rank, inp = len(layer.kernel_size), layer.input.shape
            taps = resize_fold(layer.kernel_size[0]).shape[0] ** rank
            total += taps * int(layer.kernel.shape[-2] * layer.kernel.shape[-1]) * int(np.prod(inp[1 : 1 + rank]))
        elif kind == "Dense":
            total += int(layer.kernel.numpy().size)
    return total


def parts(gan, real):
    """{name: (compiled function, times per step)} for one WGANGP's networks."""
    import tensorflow as tf

    from audiowgan.nn import objective

    g, c, b = gan.generator, gan.critic, real.shape[0]
    z = tf.random.normal((b, gan.noise_dim), seed=1)
    alpha = tf.random.uniform((b, 1, 1, 1), seed=2)
    fake = g(z, training=False)
    cv, gv = c.trainable_variables, g.trainable_variables
    c_grads = [tf.fill(v.shape, 1e-3) for v in cv]
    g_grads = [tf.fill(v.shape, 1e-3) for v in gv]

    @tf.function
    def g_forward():
        return g(z, training=True)

    @tf.function
    def w_loss():
        with tf.GradientTape() as tape:
            d_real, d_fake = objective.mean_scores(c, real, fake)  # as the step computes it: one call on both batches
            w = d_real - d_fake
        return tape.gradient(w, cv)

    @tf.function
    def penalty():
        with tf.GradientTape() as tape:
            gp = objective.gradient_penalty(c, real, fake, alpha)
        return tape.gradient(gp, cv)

    @tf.function
    def critic_update():
        with tf.GradientTape() as tape:
            loss = objective.critic_losses(c, real, g(z, training=True), alpha, 10.0)["d_loss"]
        gan.d_opt.apply(tape.gradient(loss, cv), cv)

    @tf.function
    def generator_update():
        with tf.GradientTape() as tape:
            loss = objective.generator_loss(c, g(z, training=True))
        gan.g_opt.apply(tape.gradient(loss, gv), gv)

    @tf.function
    def critic_adam():
        gan.d_opt.apply(c_grads, cv)

    @tf.function
    def generator_adam():
        gan.g_opt.apply(g_grads, gv)

    d = gan.d_steps
    return {
        "G forward": (g_forward, d),
        "critic W loss": (w_loss, d),
        "penalty (double backward)": (penalty, d),
        "critic update (G call, W loss, penalty, Adam)": (critic_update, d),
        "generator update": (generator_update, 1),
        "Adam, critic": (critic_adam, d),
        "Adam, generator": (generator_adam, 1),
        "whole step": (lambda: gan.step(real), 1),
    }


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = fn()
        if r is not None and not isinstance(r, dict):  # block until the result exists
            _ = [x.numpy() for x in (r if isinstance(r, (list, tuple)) else [r]) if x is not None]
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default="64x64", help="n_mels x frames")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--d-steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per part and round")
    ap.add_argument("--mixed", action="store_true", help="train.mixed_precision (bfloat16 on CPUs that have it)")
    ap.add_argument("--variants", default=",".join(WRITE_UP_VARIANTS), help="comma-separated names from VARIANTS")
    args = ap.parse_args()
    n_mels, frames = (int(v) for v in args.input.lower().split("x"))

    from audiowgan.nn import devices  # first: it sets TensorFlow's oneDNN switch, read at TensorFlow's import

    # isort: split
    import keras
    import numpy as np
    import tensorflow as tf

    from audiowgan.core.settings import ModelSpec, TrainSpec
    from audiowgan.nn import model as M
    from audiowgan.nn.adam import FusedAdam
    from audiowgan.nn.state import make_optimizers
    from audiowgan.nn.step import WGANGP

    real = tf.constant(np.random.default_rng(0).uniform(-1, 1, (args.batch, n_mels, frames, 1)).astype(np.float32))
    tp = TrainSpec.from_mapping(d_steps=args.d_steps, batch_size=args.batch, augment=0.0)
    policy = devices.precision_policy(args.mixed, gpu=bool(tf.config.list_physical_devices("GPU")))
    print(f"input {n_mels}x{frames}, batch {args.batch}, d_steps {args.d_steps}, compute {policy}", flush=True)
    print(f"CPU kernels: {devices.cpu_kernels()}", flush=True)
    profiles = {}
    for name in args.variants.split(","):
        keras.utils.set_random_seed(0)
        keras.mixed_precision.set_global_policy(policy)
        settings = dict(VARIANTS[name])
        writeup = settings.pop("writeup_layers", False)
        adam = keras.optimizers.Adam if settings.pop("adam", "fused") == "keras" else FusedAdam
        mp = ModelSpec.from_mapping(**settings)
        g, c = M.build_networks(mp, (n_mels, frames), writeup_layers=writeup)
        opts = make_optimizers(tp, loss_scale=policy == "mixed_float16", adam=adam)
        gan = WGANGP(g, c, *opts, tf.random.Generator.from_seed(0), noise_dim=mp.noise_dim, d_steps=args.d_steps,
                       gp_weight=10.0)  # fmt: skip
        keras.mixed_precision.set_global_policy("float32")
        fns = parts(gan, real)
        for fn, _ in fns.values():
            timed(fn, 1)  # trace and warm up
        macs = (conv_macs(g), conv_macs(c))
        profiles[name] = {"fns": fns, "times": {k: [] for k in fns}, "macs": macs}
        print(f"{name}: generator {g.count_params():,} params, {macs[0] / 1e6:.0f} M MACs/example; critic "
              f"{c.count_params():,} params, {macs[1] / 1e6:.0f} M MACs/example", flush=True)  # fmt: skip
    for r in range(args.rounds):
        for prof in profiles.values():
            for part, (fn, _) in prof["fns"].items():
                prof["times"][part] += timed(fn, args.repeats)
        print(f"round {r + 1} done", flush=True)
    for name, prof in profiles.items():
        med = {k: statistics.median(v) for k, v in prof["times"].items()}
        print(f"\n{name}\n\n| part | ms per call | calls per step | share of step |\n|---|---|---|---|")
        for part, (_, calls) in prof["fns"].items():
            share = med[part] * calls / med["whole step"]
            print(f"| {part} | {1000 * med[part]:.1f} | {calls} | {100 * share:.0f}% |")
    base = statistics.median(next(iter(profiles.values()))["times"]["whole step"])
    print("\n| variant | s/step | vs first |\n|---|---|---|")
    for name, prof in profiles.items():
        med = statistics.median(prof["times"]["whole step"])
        print(f"| {name} | {med:.3f} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
