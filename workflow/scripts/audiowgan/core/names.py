"""File names that several stages (and the rules) must spell the same way: the one place they are written."""

from __future__ import annotations

WEIGHTS = {"ema": "generator_ema.weights.h5", "raw": "generator.weights.h5"}  # generate.weights: which generator


def weights_file(network: str) -> str:
    """``<network>.weights.h5``: what ``train`` writes for each network (generator, critic, generator_ema)."""
    return f"{network}.weights.h5"


def clip_file(i: int) -> str:
    """The i-th generated clip: ``clip_NNN.wav``."""
    return f"clip_{i:03d}.wav"


def piece_file(i: int) -> str:
    """The i-th long piece: ``piece_NNN.wav``."""
    return f"piece_{i:03d}.wav"
