"""Rule `train`: WGAN-GP on the packed dataset, resuming from the run's checkpoints/ folder.

The log starts with the devices TensorFlow uses (threads from the rule's ``threads``), and warns
loudly when the job was given a GPU that TensorFlow cannot see (fails with ``train.require_gpu``).
"""

from pathlib import Path

from audiowgan.core import experiments, rerun, runlog
from audiowgan.core.settings import TrainSpec
from audiowgan.nn import devices, train

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
devices.configure_threads(snakemake.threads)  # before any TensorFlow operation: its thread pools are fixed then
# The params hold what shapes the outputs; checkpoint_every, tensorboard, ... are not params (changing them
# reruns nothing): this run's values (the top level's, or an experiment's) come from the config.
run_config = experiments.config_of(snakemake.config, snakemake.wildcards.exp)
init = snakemake.input.get("init_model")  # train.init_from, as the folder of its model.json

train.train(
    dataset_dir=Path(snakemake.input.mels).parent,
    model_dir=Path(snakemake.output.generator).parent,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    model_params=snakemake.params.model,
    train_params=TrainSpec.from_mapping(
        snakemake.params.train,
        **rerun.run_values(run_config, "train"),
        init_from=str(Path(init).parent) if init else None,
    ),
    tensorboard_dir=snakemake.params.tensorboard_dir,
    threads=snakemake.threads,
    gpu_requested=snakemake.resources.get("gpu", 0),
    log=log,
)
