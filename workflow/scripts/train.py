"""Rule `train`: WGAN-GP on the packed dataset, resuming from results/checkpoints/."""

from pathlib import Path

from audiowgan import runlog, training
from audiowgan.settings import ModelSpec, TrainSpec

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

training.train(
    dataset_dir=Path(snakemake.input.mels).parent,
    model_dir=Path(snakemake.output.generator).parent,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    model_params=ModelSpec.from_mapping(snakemake.params.model),
    train_params=TrainSpec.from_mapping(snakemake.params.train),
    log=log,
)
