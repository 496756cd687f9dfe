"""Rule `train`: WGAN-GP on the packed dataset, resuming from results/checkpoints/.

The log starts with the devices TensorFlow uses (threads from the rule's ``threads``), and warns
loudly when the job was given a GPU that TensorFlow cannot see (fails with ``train.require_gpu``).
"""

from pathlib import Path

from audiowgan import devices, rerun, runlog, training
from audiowgan.settings import ModelSpec, TrainSpec

snakemake = globals()["snakemake"]
log = runlog.setup(snakemake.log[0])
devices.configure_threads(snakemake.threads)  # before any TensorFlow operation: its thread pools are fixed then
# The params hold what shapes the outputs; checkpoint_every, tensorboard, ... are not params (changing them reruns nothing).
train_params = TrainSpec.from_mapping(snakemake.params.train, **rerun.run_values(snakemake.config, "train"))
gpu_seen = bool(devices.physical_gpus())
precision = training.precision_policy(train_params.mixed_precision, gpu=gpu_seen)
devices.log_devices(
    log,
    threads=snakemake.threads,
    precision=f"{precision} (train.mixed_precision: {str(train_params.mixed_precision).lower()})",
)
devices.check_gpu(snakemake.resources.get("gpu", 0), log, require=train_params.require_gpu)

training.train(
    dataset_dir=Path(snakemake.input.mels).parent,
    model_dir=Path(snakemake.output.generator).parent,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    model_params=ModelSpec.from_mapping(snakemake.params.model),
    train_params=train_params,
    tensorboard_dir=snakemake.params.tensorboard_dir,
    log=log,
)
