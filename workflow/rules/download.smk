rule download:
    input:
        resolved=resolved_file,
        # ancient(): editing the download code does not fetch every track again (delete
        # results/audio/<track>.* to force it); the downloaded bytes come from the URL.
        code=ancient(module_inputs("download.py")),
    output:
        audio="results/audio/{track}.mp3",
        status="results/audio/{track}.json",
    log:
        "results/logs/download/{track}.log",
    benchmark:
        "results/benchmarks/download/{track}.tsv"
    retries: 1
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=60,
        mem_mb=1000,
    params:
        url=track_url,
    script:
        "../scripts/download.py"
