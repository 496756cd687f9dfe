rule generate:
    input:
        generator=generator_weights,
        model="results/{exp}model/model.json",
        meta="results/dataset/meta.json",
        code=module_inputs("generate.py"),
    output:
        clips=report(
            CLIPS,
            caption="../report/clip.rst",
            category="Generated clips",
        ),
        manifest=report(
            "results/{exp}generated/manifest.csv",
            caption="../report/manifest.rst",
            category="Generated clips",
        ),
        mels="results/{exp}generated/mels.npy",
        copies=compressed(CLIPS),
    log:
        "results/logs/{exp}generate.log",
    benchmark:
        "results/benchmarks/{exp}generate.tsv"
    conda:
        "../../envs/train.yaml"
    # TensorFlow's thread pools (intra-op), the Griffin-Lim tasks (one clip each) and the MP3/OGG
    # encoders, which run while the next batch inverts. Snakemake lowers it to --cores.
    threads: 4
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        # The script counts output.clips; a param too, so that fewer clips (none missing) still rerun it.
        n_clips=config["generate"]["n_clips"],  # the same in every run,
        # The run's own values (the top level's, or an experiment's): editing one reruns its jobs only.
        griffin_lim_iters=run_value("generate", "griffin_lim_iters"),
        seed=run_value("generate", "seed"),
        target_dbfs=run_value("generate", "target_dbfs"),
        inversion=run_value("generate", "inversion"),
        temperature=run_value("generate", "temperature"),
        # generate.weights picks input.generator (a changed input reruns the job), not a param.
        formats=config["generate"]["formats"],  # the same in every run
    script:
        "../scripts/generate.py"
