"""The WGAN-GP objective (Gulrajani et al. 2017): the critic's loss with its gradient penalty, and the generator's.

Each takes the critic (a Keras model) and computes in float32, whatever precision the networks compute in.
"""

from __future__ import annotations

import tensorflow as tf

from audiowgan.nn.model import band_std

GP_EPS = 1e-12  # inside the gradient-norm sqrt, so d sqrt/dx stays finite at a zero gradient


def gradient_penalty(critic, real, fake, alpha) -> tf.Tensor:
    """mean_i (||grad_x D(x_i)||_2 - 1)^2 at x_i = real_i + alpha_i (fake_i - real_i).

    ``alpha`` is (B, 1, 1, 1), uniform on [0, 1] per sample; ``GP_EPS`` sits inside the sqrt. A critic
    with band norm is held to a unit gradient with respect to its standardised input (the gradient
    times each band's std, by the chain rule), so the penalty means what it means without it.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    interp = real + tf.cast(alpha, tf.float32) * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interp)
        score = tf.cast(critic(interp, training=True), tf.float32)
    grads = tape.gradient(score, interp)
    std = band_std(critic)
    if std is not None:
        grads = grads * std
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + GP_EPS)
    return tf.reduce_mean(tf.square(norm - 1.0))


def mean_scores(critic, real, fake) -> tuple[tf.Tensor, tf.Tensor]:
    """mean D(real) and mean D(fake) in float32, from one critic call on both batches."""
    b = tf.shape(real)[0]
    scores = tf.cast(critic(tf.concat([tf.cast(real, fake.dtype), fake], 0), training=True), tf.float32)
    return tf.reduce_mean(scores[:b]), tf.reduce_mean(scores[b:])


def critic_losses(critic, real, fake, alpha, gp_weight: float, *, penalised: bool = True) -> dict[str, tf.Tensor]:
    """The critic's WGAN-GP loss: d_loss = mean D(fake) - mean D(real) + gp_weight * gp.

    Also returns the penalty gp and wasserstein = mean D(real) - mean D(fake), all float32.
    The real and the fake batch are scored in one critic call (exact: the critic has no batch statistics;
    on a CPU its weight gradients run faster on twice the rows). The penalty keeps its own call: with the
    other two, its double backward would run over all 3B rows, and the step was 2x slower so.
    ``penalised=False`` (``train.gp_every``'s unpenalised updates): no penalty is computed, gp is 0.
    """
    d_real, d_fake = mean_scores(critic, real, fake)
    gp = gradient_penalty(critic, real, fake, alpha) if penalised else tf.constant(0.0)
    wasserstein = d_real - d_fake
    return {"d_loss": -wasserstein + gp_weight * gp, "gradient_penalty": gp, "wasserstein": wasserstein}


def generator_loss(critic, fake) -> tf.Tensor:
    """-mean D(fake), in float32."""
    return -tf.reduce_mean(tf.cast(critic(fake, training=True), tf.float32))


MS_EPS = 1e-5  # MSGAN's: keeps the term finite for a generator that maps every noise vector to one output


def mode_seeking(fake, z) -> tf.Tensor:
    """MSGAN's diversity term (Mao et al. 2019, "Mode Seeking Generative Adversarial Networks"), in float32:
    1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps), the batch's first half against its second. It falls as
    different noise makes more different mels, so a generator that minimises it spreads its outputs apart."""
    fake, z = tf.cast(fake, tf.float32), tf.cast(z, tf.float32)
    h = tf.shape(fake)[0] // 2
    ratio = tf.reduce_mean(tf.abs(fake[:h] - fake[h : 2 * h])) / tf.reduce_mean(tf.abs(z[:h] - z[h : 2 * h]))
    return 1.0 / (ratio + MS_EPS)
