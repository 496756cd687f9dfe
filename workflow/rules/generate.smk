rule generate:
    input:
        generator="results/model/generator.weights.h5",
        model="results/model/model.json",
        meta="results/dataset/meta.json",
        code=module_files("generation", "model", "inversion", "features", "audio"),
    output:
        clips=expand(
            "results/generated/clip_{i:03d}.wav", i=range(config["generate"]["n_clips"])
        ),
        manifest="results/generated/manifest.csv",
    params:
        n_clips=config["generate"]["n_clips"],
        griffin_lim_iters=config["generate"]["griffin_lim_iters"],
        seed=config["generate"]["seed"],
        target_dbfs=config["generate"]["target_dbfs"],
        inversion=config["generate"]["inversion"],
    log:
        "results/logs/generate.log",
    benchmark:
        "results/benchmarks/generate.tsv"
    resources:
        runtime=60,
        mem_mb=4000,
    script:
        "../scripts/generate.py"
