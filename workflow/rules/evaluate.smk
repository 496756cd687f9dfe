rule evaluate:
    input:
        clips=CLIPS,
        generator_mels="results/generated/mels.npy",
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        segments=all_segment_dirs,
        code=module_files(
            "evaluation", "metrics", "inversion", "features", "audio", "dataset"
        ),
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
        "../../envs/audio.yaml"
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        seed=config["evaluate"]["seed"],
        round_trip_segments=config["evaluate"]["round_trip_segments"],
        griffin_lim_iters=config["generate"]["griffin_lim_iters"],
        inversion=config["generate"]["inversion"],
    script:
        "../scripts/evaluate.py"


rule plots:
    input:
        losses="results/model/losses.csv",
        clips=CLIPS,
        generator_mels="results/generated/mels.npy",
        mels="results/dataset/mels.npy",
        index="results/dataset/index.csv",
        meta="results/dataset/meta.json",
        code=module_files("report", "evaluation", "features", "audio", "dataset"),
    output:
        losses=report(
            "results/plots/losses.png",
            caption="../report/losses.rst",
            category="Training",
        ),
        spectrograms=report(
            "results/plots/spectrograms.png",
            caption="../report/spectrograms.rst",
            category="Generated clips",
        ),
        clips=expand(
            "results/plots/clips/clip_{i:03d}.png",
            i=range(config["generate"]["n_clips"]),
        ),
    log:
        "results/logs/plots.log",
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=15,
        mem_mb=2000,
    script:
        "../scripts/plots.py"
