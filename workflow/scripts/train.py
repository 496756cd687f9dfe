"""Rule `train`: WGAN-GP on the packed dataset, resuming from results/checkpoints/."""

from pathlib import Path

from audiowgan import runlog, training

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])

training.train(
    dataset_dir=Path(snakemake.input.mels).parent,
    model_dir=Path(snakemake.output.generator).parent,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    model_params=dict(snakemake.params.model),
    train_params=dict(snakemake.params.train),
    log=log,
)
