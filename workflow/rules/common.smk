# Shared setup: config validation (first), wildcard rules, input functions.
import functools
import os
import sys
from pathlib import Path

# This file's own folder, not the main Snakefile's: the workflow also runs as a module of another one.
SCRIPTS = Path(str(workflow.current_basedir)).parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

from audiowgan.core.experiments import init_source, run_configs  # noqa: E402
from audiowgan.core.experiments import label, report_title  # noqa: E402
from audiowgan.core.experiments import shown_overrides  # noqa: E402
from audiowgan.core.check import ConfigError, check as check_config  # noqa: E402
from audiowgan.core.imports import module_files  # noqa: E402
from audiowgan.core.names import WEIGHTS, clip_file, piece_file  # noqa: E402
from audiowgan.core.rerun import result_values, without_added_off  # noqa: E402
from audiowgan.core.settings import TrainSpec, schema  # noqa: E402

CONFIG_SCHEMA = schema()
try:
    config.update(check_config(config, CONFIG_SCHEMA))
    if not Path(config["sources"]).is_file():
        raise ConfigError(
            f"config key 'sources' = {config['sources']!r}: the file does not exist "
            f"(relative paths are read from the working directory {Path.cwd()})"
        )
    # {exp wildcard: its checked config}: "" is the top level (results/model/...), "experiments/<name>/" an
    # experiment (results/experiments/<name>/model/...). One set of rules serves them all.
    RUNS = run_configs(config, check_config)
except ConfigError as exc:
    # One line, no traceback: the message names the key, the value and the rule.
    print(f"audio-wgan: invalid configuration: {exc}", file=sys.stderr)
    sys.exit(1)

AUDIO = config["audio"]
MEL = config["mel"]
# The generated clips of a run (its `exp` wildcard left open): outputs of `generate`, inputs of `evaluate`,
# `plots` and `report`. Every run renders as many (experiments may not override generate.n_clips).
CLIPS = [
    f"results/{{exp}}generated/{clip_file(i)}"
    for i in range(config["generate"]["n_clips"])
]
# Long pieces: outputs of `longform`, inputs of `report`.
PIECES = [
    f"results/{{exp}}longform/{piece_file(i)}"
    for i in range(config["generate"]["longform"]["n"])
]
# The comparison page of the experiments, and the clips of each run it shows with a player.
COMPARISON = "results/experiments/comparison.html"
COMPARED_CLIPS = range(min(3, config["generate"]["n_clips"]))


def compressed(wavs):
    """The MP3/OGG copies (generate.formats) written beside the WAVs."""
    return [
        wav[: -len(".wav")] + f".{fmt}"
        for wav in wavs
        for fmt in config["generate"]["formats"]
    ]


def run_params(section):
    """For `params:`: the values of a config section that shape a rule's outputs, in the job's run.

    Keys marked `x-result-neutral` in the schema are left out, so that changing one reruns no job
    (Snakemake's params trigger compares every param); scripts read those from `snakemake.config`.
    Each run's own values: editing one experiment reruns its jobs only.
    """
    return lambda wildcards: result_values(RUNS[wildcards.exp], section)


def run_value(section, key):
    """For `params:`: one config value of the job's run (the top level or an experiment)."""
    return lambda wildcards: RUNS[wildcards.exp][section][key]


def train_params(wildcards):
    """The train section's result values without init_from (its model folder is an input: init_inputs) and
    without the keys added since 2026-12-06 at their off values (TrainSpec.ADDED_OFF), so that a model trained
    before one existed is not retrained for its arrival."""
    values = without_added_off(
        result_values(RUNS[wildcards.exp], "train"), TrainSpec.ADDED_OFF
    )
    return {k: v for k, v in values.items() if k != "init_from"}


def init_inputs(wildcards):
    """The model that train.init_from names, as inputs: an experiment's then trains first (the DAG orders them),
    and a retrained or another source reruns the job. None for a training from random weights.
    """
    source = init_source(RUNS, wildcards.exp)
    if source is None:
        return {}
    return {
        "init_model": f"{source}/model.json",
        "init_generator": f"{source}/generator.weights.h5",
        "init_critic": f"{source}/critic.weights.h5",
    }


def generator_weights(wildcards):
    """The generator weights that `generate` and `longform` render with (generate.weights of the run)."""
    chosen = RUNS[wildcards.exp]["generate"]["weights"]
    return f"results/{wildcards.exp}model/{WEIGHTS[chosen]}"


def run_outputs(*groups):
    """The files of ``groups`` (patterns, or lists of them) for every run, run by run: the top level first."""
    patterns = [
        p for group in groups for p in ([group] if isinstance(group, str) else group)
    ]
    return [path for exp in RUNS for path in expand(patterns, exp=exp)]


wildcard_constraints:
    track=r"[A-Za-z0-9_-]+",
    # Empty for the top-level run: its files keep their paths (results/model/...), so nothing reruns.
    exp=r"(experiments/[A-Za-z0-9][A-Za-z0-9_-]*/)?",


def module_inputs(script):
    """The shared-module files that scripts/<script> imports, directly or through other modules.

    Listed as a rule's inputs, so that editing one reruns the rules that run it (Snakemake's
    code trigger looks at the script file alone).
    """
    return [str(path) for path in module_files(SCRIPTS / script)]


def usable_tracks():
    """{track: url} of the usable tracks, read once the `tracks` checkpoint has run."""
    path = checkpoints.tracks.get().output.resolved
    st = os.stat(path)
    return _read_usable_tracks(path, st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _read_usable_tracks(path, inode, mtime_ns, size):
    """Parsed once per version of resolved.tsv (not once per job: that was O(tracks^2))."""
    import csv
    from types import MappingProxyType

    with open(path, newline="") as fh:
        return MappingProxyType(
            {
                row["track"]: row["url"]
                for row in csv.DictReader(fh, delimiter="\t")
                if row["status"] == "ok"
            }
        )


def resolved_file(wildcards):
    # ancient(): re-resolving the sources rewrites resolved.tsv, which must not rerun finished downloads.
    return ancient(checkpoints.tracks.get().output.resolved)


def track_url(wildcards):
    try:
        return usable_tracks()[wildcards.track]
    except KeyError:
        raise WorkflowError(
            f"track {wildcards.track!r} is not a usable track in results/resolved.tsv"
        ) from None


def all_mel_dirs(wildcards):
    return {t: f"results/mel/{t}" for t in usable_tracks()}


def all_segment_dirs(wildcards):
    return [f"results/segments/{t}" for t in usable_tracks()]
