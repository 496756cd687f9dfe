rule pack:
    input:
        mels=lambda wildcards: list(all_mel_dirs(wildcards).values()),
        code=module_inputs("pack.py"),
    output:
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
    log:
        "results/logs/pack.log",
    benchmark:
        "results/benchmarks/pack.tsv"
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=60,
        mem_mb=2000,
    params:
        holdout_fraction=config["evaluate"]["holdout_fraction"],
        holdout_by=config["evaluate"]["holdout_by"],
    script:
        "../scripts/pack.py"
