"""``train.init_from``: start a training from another model's trained weights (fine-tuning, warm starts).

:meth:`WarmStart.open` checks the source folder before anything is built: its files are there and its
networks are the ones this training builds (same model settings, same mel shape), else a ``ValueError``
that names what differs. :meth:`WarmStart.load` copies the generator and critic weights into a fresh
:class:`~audiowgan.nn.state.TrainState`; its optimizers, step counter and random stream stay fresh, so
the training counts its own epochs from step 0. The moving-average generator then starts from the loaded
generator (it is cloned from it after the load). :attr:`WarmStart.digest` goes into the checkpoint
fingerprint, so a checkpoint made from other source weights is not resumed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from audiowgan.core.names import weights_file
from audiowgan.core.settings import ModelSpec
from audiowgan.nn.model_files import load_generator_weights, read_model_json
from audiowgan.nn.state import TrainState

NETWORKS = ("generator", "critic")


@dataclass(frozen=True)
class WarmStart:
    folder: Path
    digest: str  # sha256 over the source's weight files
    spec: ModelSpec  # the source's model.json, checked equal to this training's
    shape: tuple[int, int]

    @classmethod
    def open(cls, folder: str | Path, mp: ModelSpec, shape: tuple[int, int]) -> WarmStart:
        """Check ``folder`` against the networks of ``mp`` for mels of ``shape``; raise ValueError if they differ."""
        folder = Path(folder)
        where = f"train.init_from = {str(folder)!r}"
        files = [folder / "model.json", *(folder / weights_file(n) for n in NETWORKS)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ValueError(f"{where}: not a trained model folder ({', '.join(missing)} missing)")
        spec, src_shape, _ = read_model_json(folder)
        theirs, mine = spec.to_dict(), mp.to_dict()
        diff = [f"model.{k}: {theirs[k]!r} there, {mine[k]!r} here" for k in mine if theirs.get(k) != mine[k]]
        if tuple(src_shape) != tuple(shape):
            diff.append(f"mel shape (n_mels, frames): {tuple(src_shape)} there, {tuple(shape)} here")
        if diff:
            raise ValueError(
                f"{where}: its networks differ from this training's ({'; '.join(diff)}); weights can only start "
                "a training of the same architecture on mels of the same shape"
            )
        digest = hashlib.sha256()
        for f in files[1:]:
            digest.update(f.read_bytes())
        return cls(folder, digest.hexdigest(), spec, tuple(src_shape))

    def load(self, state: TrainState) -> None:
        """The source's generator and critic weights into ``state``'s networks (call before the callbacks'
        state is made, so the moving average starts from them too)."""
        load_generator_weights(state.generator, self.folder / weights_file("generator"), self.spec, self.shape)
        state.critic.load_weights(self.folder / weights_file("critic"))
