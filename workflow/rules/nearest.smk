rule nearest:
    input:
        clips=CLIPS,
        pieces=PIECES,
        longform=rules.longform.output.manifest,
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        segments=all_segment_dirs,
        code=module_inputs("nearest.py"),
    output:
        nearest=report(
            "results/{exp}eval/nearest.csv",
            caption="../report/nearest.rst",
            category="Evaluation",
        ),
        # Each clip's and piece's nearest training segment, for the report's players.
        segments=[
            f"results/{{exp}}eval/nearest/{Path(wav).name}" for wav in CLIPS + PIECES
        ],
    log:
        "results/logs/{exp}nearest.log",
    benchmark:
        "results/benchmarks/{exp}nearest.tsv"
    conda:
        "../../envs/train.yaml"
    # TensorFlow's thread pools, for the embeddings (evaluate.perceptual).
    threads: 2
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        quantile=run_value("evaluate", "copy_quantile"),
        perceptual=run_value("evaluate", "perceptual"),
    script:
        "../scripts/nearest.py"
