rule train:
    input:
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        # Waits for the track check (which fails the run under on_error: fail) but is
        # not rerun when only the policy changes: ancient() ignores its timestamp.
        tracks=ancient("results/tracks.tsv"),
        code=module_inputs("train.py"),
    output:
        generator="results/model/generator.weights.h5",
        generator_ema="results/model/generator_ema.weights.h5",
        critic="results/model/critic.weights.h5",
        losses="results/model/losses.csv",
        model="results/model/model.json",
    log:
        "results/logs/train.log",
    benchmark:
        "results/benchmarks/train.tsv"
    conda:
        "../../envs/train.yaml"
    # Fits common GPU nodes (2 CPUs feed the GPU); raise it for CPU training: --set-threads train=8.
    threads: 2
    resources:
        runtime=24 * 60,
        mem_mb=16000,
        gpu=1,
    params:
        model=result_params("model"),
        # Without checkpoint_every, tensorboard, ... (x-result-neutral): the script reads them from the config.
        train=result_params("train"),
        # Resumable state; not an output, so Snakemake never deletes it on failure.
        checkpoint_dir="results/checkpoints",
        # Live curves (train.tensorboard); like the checkpoints, not an output.
        tensorboard_dir="results/logs/tensorboard",
    script:
        "../scripts/train.py"
