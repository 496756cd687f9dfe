rule evaluate:
    input:
        clips=CLIPS,
        generator_mels="results/{exp}generated/mels.npy",
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        segments=all_segment_dirs,
        code=module_inputs("evaluate.py"),
    output:
        metrics=report(
            "results/{exp}eval/metrics.json",
            caption="../report/metrics.rst",
            category="Evaluation",
        ),
    log:
        "results/logs/{exp}evaluate.log",
    benchmark:
        "results/benchmarks/{exp}evaluate.tsv"
    conda:
        "../../envs/train.yaml"
    # TensorFlow's thread pools, for the CREPE embeddings (evaluate.perceptual).
    threads: 2
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        seed=run_value("evaluate", "seed"),
        round_trip_segments=run_value("evaluate", "round_trip_segments"),
        griffin_lim_iters=run_value("generate", "griffin_lim_iters"),
        inversion=run_value("generate", "inversion"),
        target_dbfs=run_value("generate", "target_dbfs"),
        perceptual=run_value("evaluate", "perceptual"),
    script:
        "../scripts/evaluate.py"
