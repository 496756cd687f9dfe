rule longform:
    input:
        generator=generator_weights,
        model="results/{exp}model/model.json",
        meta="results/dataset/meta.json",
        code=module_inputs("longform.py"),
    output:
        pieces=report(
            PIECES,
            caption="../report/longform.rst",
            category="Long pieces",
        ),
        manifest="results/{exp}longform/manifest.csv",
        copies=compressed(PIECES),
    log:
        "results/logs/{exp}longform.log",
    benchmark:
        "results/benchmarks/{exp}longform.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        longform=run_params("generate.longform"),
        griffin_lim_iters=run_value("generate", "griffin_lim_iters"),
        target_dbfs=run_value("generate", "target_dbfs"),
        inversion=run_value("generate", "inversion"),
        temperature=run_value("generate", "temperature"),
        # generate.weights picks input.generator (a changed input reruns the job), not a param.
        formats=config["generate"]["formats"],  # the same in every run
    script:
        "../scripts/longform.py"
