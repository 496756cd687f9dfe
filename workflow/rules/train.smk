rule train:
    input:
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        code=module_files("model", "training"),
    output:
        generator="results/model/generator.weights.h5",
        critic="results/model/critic.weights.h5",
        losses="results/model/losses.csv",
        model="results/model/model.json",
    params:
        model=config["model"],
        train=config["train"],
        # Resumable state; not an output, so Snakemake never deletes it on failure.
        checkpoint_dir="results/checkpoints",
    threads: 4
    log:
        "results/logs/train.log",
    benchmark:
        "results/benchmarks/train.tsv"
    resources:
        runtime=24 * 60,
        mem_mb=16000,
        gpu=1,
    script:
        "../scripts/train.py"
