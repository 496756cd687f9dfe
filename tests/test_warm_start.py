"""train.init_from: a training that starts from another model's weights, and a clear error for other networks."""

from __future__ import annotations

import pandas as pd
import pytest
from test_training import LOSSES, MODEL, TRAIN, make_dataset

from audiowgan.nn import train as T
from audiowgan.nn.loop import Callback


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "dataset")


@pytest.fixture(scope="module")
def source(dataset, tmp_path_factory):
    """A trained model folder to start from (seed 1: other weights than a fresh seed-3 start)."""
    root = tmp_path_factory.mktemp("source")
    train(dataset, root, seed=1)
    return root / "model"


def train(dataset, root, *, callbacks=(), model=MODEL, **overrides) -> pd.Series:
    """Train one epoch; the first step's losses."""
    T.train(dataset_dir=dataset, model_dir=root / "model", checkpoint_dir=root / "checkpoints", model_params=model,
            train_params={**TRAIN, "epochs": 1, **overrides}, callbacks=callbacks)  # fmt: skip
    return pd.read_csv(root / "model" / "losses.csv").iloc[0][LOSSES]


class LoadAtStart(Callback):
    """Loads a model folder's weights into a fresh training by hand, as a resume of only those weights would."""

    def __init__(self, folder):
        self.folder = folder

    def on_train_begin(self, loop):
        loop.state.generator.load_weights(self.folder / "generator.weights.h5")
        loop.state.critic.load_weights(self.folder / "critic.weights.h5")


def test_first_losses_are_those_of_the_source_weights_not_of_a_fresh_start(dataset, source, tmp_path):
    warm = train(dataset, tmp_path / "warm", init_from=str(source))
    fresh = train(dataset, tmp_path / "fresh")
    by_hand = train(dataset, tmp_path / "by-hand", callbacks=[LoadAtStart(source)])
    assert (warm != fresh).all(), (warm, fresh)
    pd.testing.assert_series_equal(warm, by_hand, check_names=False)
    assert len(pd.read_csv(tmp_path / "warm" / "model" / "losses.csv")) == 3  # its own epoch, counted from step 1


def test_other_networks_are_refused_before_training_starts(dataset, source, tmp_path):
    wider = {**MODEL, "critic_channels": [4, 16]}
    with pytest.raises(ValueError, match=r"model.critic_channels: \[4, 8\] there, \[4, 16\] here"):
        train(dataset, tmp_path, model=wider, init_from=str(source))
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "model").exists()


def test_a_folder_without_a_model_is_refused(dataset, tmp_path):
    with pytest.raises(ValueError, match="not a trained model folder .model.json, generator.weights.h5"):
        train(dataset, tmp_path, init_from=str(tmp_path / "nothing"))
