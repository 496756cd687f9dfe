rule train:
    input:
        unpack(init_inputs),
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        # Waits for the track check (which fails the run under on_error: fail) but is
        # not rerun when only the policy changes: ancient() ignores its timestamp.
        tracks=ancient("results/tracks.tsv"),
        code=module_inputs("train.py"),
    output:
        generator="results/{exp}model/generator.weights.h5",
        generator_ema="results/{exp}model/generator_ema.weights.h5",
        critic="results/{exp}model/critic.weights.h5",
        losses="results/{exp}model/losses.csv",
        model="results/{exp}model/model.json",
    log:
        "results/logs/{exp}train.log",
    benchmark:
        "results/benchmarks/{exp}train.tsv"
    conda:
        "../../envs/train.yaml"
    # Fits common GPU nodes (2 CPUs feed the GPU); raise it for CPU training: --set-threads train=8.
    threads: 2
    resources:
        # One job per run (the top level and each experiment), each with its GPU: side by side on a cluster.
        runtime=24 * 60,
        mem_mb=16000,
        gpu=1,
    params:
        model=run_params("model"),
        # Without checkpoint_every, tensorboard, ... (x-result-neutral): the script reads them from the config.
        # Without init_from: the model it names is an input (init_inputs).
        train=train_params,
        # Resumable state, per run; not an output, so Snakemake never deletes it on failure.
        checkpoint_dir=lambda wildcards: f"results/{wildcards.exp}checkpoints",
        # Live curves (train.tensorboard); like the checkpoints, not an output.
        tensorboard_dir=lambda wildcards: f"results/logs/{wildcards.exp}tensorboard",
    script:
        "../scripts/train.py"
