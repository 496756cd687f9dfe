"""One WGAN-GP training step: d_steps critic updates on one real batch, then one generator update."""

from __future__ import annotations

import keras
import tensorflow as tf

from audiowgan.nn import objective
from audiowgan.nn.augment import augment


class WGANGP:
    """Both networks, their optimizers and the random stream; ``step(real)`` is one generator step.

    The step is one ``tf.function`` (traced once per input shape): d_steps critic updates on the same
    real batch, each with a fresh fake batch and fresh interpolation weights, then one generator update
    on fresh noise. ``step`` returns Python floats, the critic's from its last update. ``gp_every`` = k
    penalises the last of every k critic updates, at k times ``gp_weight`` (lazy regularisation, as StyleGAN2's
    R1), so the penalty weighs as much per step; k divides d_steps (``TrainSpec`` checks it), so the last
    update, the one returned, is always penalised. ``mode_seeking`` > 0 adds that weight of MSGAN's diversity term
    (:func:`objective.mode_seeking`) to the generator's loss; ``g_loss`` stays the Wasserstein part.
    """

    def __init__(
        self,
        generator,
        critic,
        g_opt,
        d_opt,
        rng: tf.random.Generator,
        *,
        noise_dim: int,
        d_steps: int,
        gp_weight: float,
        jit_compile: bool = False,
        strategy=None,
        augment: float = 0.0,
        gp_every: int = 1,
        mode_seeking: float = 0.0,
    ):
        self.generator, self.critic, self.g_opt, self.d_opt, self.rng = generator, critic, g_opt, d_opt, rng
        self.noise_dim, self.d_steps, self.gp_weight = int(noise_dim), int(d_steps), float(gp_weight)
        self.augment = float(augment)
        self.gp_every = int(gp_every)
        self.mode_seeking = float(mode_seeking)
        if self.d_steps % self.gp_every:
            raise ValueError(f"gp_every={gp_every} must divide d_steps={d_steps}")
        self.strategy = strategy
        self._replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        self._step = tf.function(self._replica_step, jit_compile=bool(jit_compile), reduce_retracing=True)
        if strategy is not None:
            self._step = tf.function(self._distributed_step)

    def _grad_loss(self, opt, loss):
        """The loss to differentiate (call inside the tape): mirrored gradients are summed across replicas,
        hence 1/replicas for the global-batch mean; a LossScaleOptimizer scales it against float16 underflow."""
        loss = loss / self._replicas
        return opt.scale_loss(loss) if isinstance(opt, keras.optimizers.LossScaleOptimizer) else loss

    def _replica_step(self, real):
        b = tf.shape(real)[0]
        cv, gv = self.critic.trainable_variables, self.generator.trainable_variables
        # One read of the seeded, checkpointed generator per step, then stateless draws: chained
        # stateful RNG ops would order the graph and keep TensorFlow from overlapping independent work.
        # Augmentation draws its own seeds after these, and only when on: off, the stream is what it always was.
        n_seeds = 2 * self.d_steps + 2  # seeds[:, 0] is unused (kept so that the stream stays what it was)
        seeds = self.rng.make_seeds(n_seeds + (2 * self.d_steps + 1 if self.augment > 0 else 0))  # (2, k) int64

        def normal(i, rows):
            return tf.random.stateless_normal((rows, self.noise_dim), seed=seeds[:, i])

        def aug(x, i):  # DiffAugment: the critic only ever sees augmented batches, real and fake alike
            return augment(x, self.augment, seeds[:, n_seeds + i]) if self.augment > 0 else x

        for i in range(self.d_steps):  # unrolled: d_steps is small and fixed
            fake = self.generator(normal(1 + i, b), training=True)
            alpha = tf.random.stateless_uniform((b, 1, 1, 1), seed=seeds[:, 1 + self.d_steps + i])  # per sample
            penalised = (i + 1) % self.gp_every == 0
            with tf.GradientTape() as tape:
                d = objective.critic_losses(self.critic, aug(real, 2 * i), aug(fake, 2 * i + 1), alpha,
                                            self.gp_weight * self.gp_every, penalised=penalised)  # fmt: skip
                loss = self._grad_loss(self.d_opt, d["d_loss"])
            self.d_opt.apply(tape.gradient(loss, cv), cv)
        with tf.GradientTape() as tape:
            z = normal(1 + 2 * self.d_steps, b)
            fake = self.generator(z, training=True)
            g_loss = objective.generator_loss(self.critic, aug(fake, 2 * self.d_steps))
            if self.mode_seeking > 0:  # off, the loss is the write-up's, op for op
                g_total = g_loss + self.mode_seeking * objective.mode_seeking(fake, z)
            else:
                g_total = g_loss
            loss = self._grad_loss(self.g_opt, g_total)
        self.g_opt.apply(tape.gradient(loss, gv), gv)
        return {
            "d_loss": d["d_loss"],
            "g_loss": g_loss,
            "gradient_penalty": d["gradient_penalty"],
            "wasserstein": d["wasserstein"],
        }

    def _distributed_step(self, real):
        out = self.strategy.run(self._replica_step, args=(real,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in out.items()}

    def step(self, real) -> dict[str, float]:
        return {k: float(v) for k, v in self._step(real).items()}
