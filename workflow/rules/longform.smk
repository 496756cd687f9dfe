rule longform:
    input:
        generator=generator_weights,
        model="results/model/model.json",
        meta="results/dataset/meta.json",
        code=module_inputs("longform.py"),
    output:
        pieces=report(
            PIECES,
            caption="../report/longform.rst",
            category="Long pieces",
        ),
        manifest="results/longform/manifest.csv",
        copies=compressed(PIECES),
    log:
        "results/logs/longform.log",
    benchmark:
        "results/benchmarks/longform.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        longform=result_params("generate.longform"),
        griffin_lim_iters=config["generate"]["griffin_lim_iters"],
        target_dbfs=config["generate"]["target_dbfs"],
        inversion=config["generate"]["inversion"],
        # generate.weights picks input.generator (a changed input reruns the job), not a param.
        formats=config["generate"]["formats"],
    script:
        "../scripts/longform.py"
