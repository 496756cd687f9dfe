rule evaluate:
    input:
        clips=CLIPS,
        generator_mels="results/generated/mels.npy",
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        segments=all_segment_dirs,
        code=module_inputs("evaluate.py"),
    output:
        metrics=report(
            "results/eval/metrics.json",
            caption="../report/metrics.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/evaluate.log",
    benchmark:
        "results/benchmarks/evaluate.tsv"
    conda:
        "../../envs/train.yaml"
    # TensorFlow's thread pools, for the CREPE embeddings (evaluate.perceptual).
    threads: 2
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        seed=config["evaluate"]["seed"],
        round_trip_segments=config["evaluate"]["round_trip_segments"],
        griffin_lim_iters=config["generate"]["griffin_lim_iters"],
        inversion=config["generate"]["inversion"],
        target_dbfs=config["generate"]["target_dbfs"],
        perceptual=config["evaluate"]["perceptual"],
    script:
        "../scripts/evaluate.py"
