"""Time one steady-state generator step (with its d_steps critic steps): this project vs the reference.

Both use the same networks (default widths), batch 16, d_steps 3, on a 64x64 input by default, in
the same process. Rounds alternate between the two implementations, so load from other processes on
a shared machine hits both alike; the median step time of each is reported, and their ratio.

    nice .venv/bin/python benchmarks/train_step.py [--steps 6] [--rounds 3] [--input 64x64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="timed generator steps per round and implementation")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing)")
    ap.add_argument("--input", default="64x64", help="n_mels x frames")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--d-steps", type=int, default=3)
    ap.add_argument("--batched", action="store_true", help="ours with one generator call for all critic steps")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: TensorFlow's default)")
    ap.add_argument("--mixed", action="store_true",
                    help="ours with train.mixed_precision (bfloat16 on CPUs that have it, float16 on GPUs); "
                         "the reference stays float32")  # fmt: skip
    args = ap.parse_args()
    n_mels, frames = (int(v) for v in args.input.lower().split("x"))

    import keras
    import numpy as np
    import tensorflow as tf
    from reference_fit import ReferenceWGAN

    from audiowgan import model as M
    from audiowgan import training as T

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    from audiowgan.settings import ModelSpec, TrainSpec

    mp = ModelSpec.from_mapping()  # the write-up's networks (the schema's defaults)
    tp = TrainSpec.from_mapping(d_steps=args.d_steps, batch_size=args.batch)
    real = np.random.default_rng(0).uniform(-1, 1, (args.batch, n_mels, frames, 1)).astype(np.float32)

    def nets():
        return M.build_networks(mp, (n_mels, frames))

    policy = T.precision_policy(args.mixed, gpu=bool(tf.config.list_physical_devices("GPU")))
    keras.mixed_precision.set_global_policy(policy)
    g, c = nets()
    scale = policy == "mixed_float16"
    g_opt, d_opt = T.make_optimizer(tp, loss_scale=scale), T.make_optimizer(tp, loss_scale=scale)
    ours = T.WGANGP(g, c, g_opt, d_opt, tf.random.Generator.from_seed(0), noise_dim=mp.noise_dim,
                    d_steps=args.d_steps, gp_weight=10.0, batched_fakes=args.batched)  # fmt: skip
    real_t = tf.constant(real)

    keras.mixed_precision.set_global_policy("float32")
    g2, c2 = nets()
    ref = ReferenceWGAN(g2, c2, noise_dim=mp.noise_dim, d_steps=args.d_steps, gp_weight=10.0)
    ref.compile(d_optimizer=T.make_optimizer(tp), g_optimizer=T.make_optimizer(tp))

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.t)

    ds = tf.data.Dataset.from_tensors(real).repeat()

    def run_ref(n):
        nonlocal times
        times = []
        ref.fit(ds, epochs=1, steps_per_epoch=n, verbose=0, callbacks=[Clock()])
        return times

    def run_ours(n):
        out = []
        for _ in range(n):
            t = time.perf_counter()
            ours.step(real_t)
            out.append(time.perf_counter() - t)
        return out

    times: list[float] = []
    print(f"input {n_mels}x{frames}, batch {args.batch}, d_steps {args.d_steps}, generator {g.count_params():,} "
          f"and critic {c.count_params():,} parameters; {tf.config.threading.get_intra_op_parallelism_threads()} "
          f"intra-op threads (0 = all cores); ours computes in {policy}, the reference in float32", flush=True)  # fmt: skip
    run_ours(args.warmup)
    run_ref(args.warmup)
    t_ours, t_ref = [], []
    for r in range(args.rounds):
        a, b = run_ours(args.steps), run_ref(args.steps)
        t_ours += a
        t_ref += b
        print(f"round {r + 1}: ours {statistics.median(a):.3f} s/step, reference {statistics.median(b):.3f} s/step",
              flush=True)  # fmt: skip
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)
    print(
        f"median over {len(t_ours)} steps ({'batched' if args.batched else 'per-critic-step'} fakes): ours {mo:.3f} s/step, reference (Keras fit) {mr:.3f} s/step, "
        f"speed-up {mr / mo:.2f}x"
    )


if __name__ == "__main__":
    main()
