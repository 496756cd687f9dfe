"""Reference: the write-up's Keras ``fit`` WGAN-GP train_step (keras-io wgan_gp.py style).

The write-up's networks, its generator layer for layer as the keras-io blocks write it (UpSampling2D,
then a 3x3 Conv2D: ``build_networks(writeup_layers=True)``; ours folds the pair into one cheaper layer
that computes the same), its critic ours. One train_step = d_steps critic updates (fresh noise each,
the real batch reused) and one generator update, with three separate critic calls per critic step
(fake, real, interpolates). The keras-io bugs are fixed (uniform alpha, eps inside the sqrt) so the
two implementations compute the same thing and only their speed differs.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class ReferenceWGAN(keras.Model):
    def __init__(self, generator, critic, *, noise_dim: int, d_steps: int = 3, gp_weight: float = 10.0):
        super().__init__()
        self.generator, self.critic = generator, critic
        self.noise_dim, self.d_steps, self.gp_weight = noise_dim, d_steps, gp_weight

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def gradient_penalty(self, batch_size, real_images, fake_images):
        alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.critic(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        for _ in range(self.d_steps):
            z = tf.random.normal((batch_size, self.noise_dim))
            with tf.GradientTape() as tape:
                fake_images = self.generator(z, training=True)
                fake_logits = self.critic(fake_images, training=True)
                real_logits = self.critic(real_images, training=True)
                d_cost = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
                gp = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + gp * self.gp_weight
            d_grad = tape.gradient(d_loss, self.critic.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_grad, self.critic.trainable_variables))
        z = tf.random.normal((batch_size, self.noise_dim))
        with tf.GradientTape() as tape:
            generated = self.generator(z, training=True)
            g_loss = -tf.reduce_mean(self.critic(generated, training=True))
        g_grad = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grad, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}
