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
    # Failures inside yt-dlp are retried in the job (download.retries, with backoff) and then
    # recorded as the track's status, so they never fail the job. This is for a job that dies:
    # killed by the scheduler, out of time, its node lost. The rerun resumes the partial download.
    retries: 1
    # One SLURM job handles many tracks' download, segment and mel (profiles/slurm: group-components).
    group:
        "track"
    conda:
        "../../envs/audio.yaml"
    resources:
        runtime=60,
        mem_mb=1000,
    params:
        # The only one: download.retries and backoff_seconds (x-result-neutral) come from the config,
        # so changing them never fetches a finished track again; they apply to downloads still to run.
        url=track_url,
    script:
        "../scripts/download.py"
