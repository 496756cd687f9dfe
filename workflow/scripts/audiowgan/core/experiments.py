"""Experiments: several model/train/generate/evaluate settings trained side by side on one dataset.

``experiments:`` in the config maps a name to overrides of the top-level config. Each experiment's
config is the top level with its overrides deep-merged on top, checked with the same schema and
cross-field rules as the top level (so a bad value reads the same, prefixed with the experiment).
The rules run every config in :func:`run_configs` through one set of rules, keyed by the wildcard
``exp``: ``""`` for the top level (results/model/...), ``"experiments/<name>/"`` for an experiment
(results/experiments/<name>/model/...). All of them share the downloads, segments, mels and the
packed dataset, which is why keys that shape those (or the file lists every run shares) are refused.

Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from audiowgan.core.settings import ConfigError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SECTIONS = ("model", "train", "generate", "evaluate")  # what an experiment may override
# Keys of those sections that every run must share, and why: the message for a refused one.
SHARED_KEYS = {
    ("generate", "n_clips"): "every run renders as many clips, so their distances share the same small-sample bias",
    ("generate", "formats"): "every run writes the same file formats",
    ("generate", "longform", "n"): "every run renders as many long pieces",
    ("evaluate", "holdout_fraction"): "it splits the shared dataset (rule pack) into training and held-out segments",
    ("evaluate", "holdout_by"): "it splits the shared dataset (rule pack) into training and held-out segments",
}
BASE = ""  # the `exp` wildcard of the top-level run
BASE_LABEL = "base"  # its name on the comparison page


def prefix(name: str) -> str:
    """The ``exp`` wildcard of experiment ``name``: the folder under results/ that holds its files."""
    return f"experiments/{name}/"


def label(exp: str) -> str:
    """The name to show for an ``exp`` wildcard: the experiment's name, or ``base`` for the top level."""
    return exp.removeprefix("experiments/").rstrip("/") or BASE_LABEL


def report_title(exp: str) -> str:
    """The title of run ``exp``'s report."""
    return "audio-wgan results" + (f": experiment {label(exp)}" if exp != BASE else "")


def model_dir(exp: str) -> str:
    """Where run ``exp`` writes its model (generator and critic weights, model.json)."""
    return f"results/{exp}model"


def check_overrides(experiments: Any) -> None:
    """Refuse bad names and overrides that would need another dataset, before the schema sees them.

    The schema would refuse ``audio`` too, but only as an unknown key; this says why.
    """
    if experiments is None:
        return
    if not isinstance(experiments, Mapping):
        raise ConfigError(f"config key 'experiments' = {experiments!r}: must be a mapping from a name to overrides")
    for name, overrides in experiments.items():
        where = f"experiments.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ConfigError(
                f"experiment name {name!r}: must be 1-64 letters, digits, '_' or '-', starting with a letter "
                "or digit (it becomes a folder name and a Snakemake wildcard)"
            )
        if not isinstance(overrides, Mapping | None):
            raise ConfigError(f"config key {where!r} = {overrides!r}: must be a mapping of overrides")
        for section in overrides or {}:
            if section not in SECTIONS:
                raise ConfigError(
                    f"config key '{where}.{section}': an experiment may override {', '.join(SECTIONS)} only; "
                    f"'{section}' shapes what every experiment shares (sources, segments, mels, the dataset), "
                    "so it would need another dataset: run the workflow again with its own config and --directory"
                )
        for keys, why in SHARED_KEYS.items():
            if _has(overrides or {}, keys):
                raise ConfigError(f"config key '{where}.{'.'.join(keys)}': set it at the top level only: {why}")


def shown_overrides(config: Mapping[str, Any]) -> dict[str, dict]:
    """{name: its overrides} without the result-neutral keys (for the comparison page's params)."""
    from audiowgan.core.rerun import neutral_keys

    def strip(values: Mapping[str, Any], section: str) -> dict:
        out = {}
        for key, value in values.items():
            if isinstance(value, Mapping):
                out[key] = strip(value, f"{section}.{key}")
            elif key not in neutral_keys(section):
                out[key] = value
        return out

    exps = config.get("experiments") or {}
    return {name: {s: strip(v, s) for s, v in (o or {}).items()} for name, o in exps.items()}


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict:
    """``base`` with ``overrides`` deep-merged on top (mappings merge key by key; anything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run_configs(config: Mapping[str, Any], check) -> dict[str, dict]:
    """{``exp`` wildcard: that run's checked config}: the top level first, then each experiment.

    ``config`` is the checked top-level config; ``check`` is :func:`audiowgan.core.check.check`
    (passed in: it is the one that imports numpy). Raises ConfigError naming the experiment.
    """
    base = {**config, "experiments": {}}
    runs = {BASE: base}
    for name, overrides in (config.get("experiments") or {}).items():
        try:
            runs[prefix(name)] = check(merged(base, overrides), _schema())
        except ConfigError as exc:
            raise ConfigError(f"experiment {name!r}: {exc}") from None
    _check_init_from(runs)
    return runs


def config_of(config: Mapping[str, Any], exp: str) -> dict:
    """The config of run ``exp`` from the checked top-level ``config`` (what a rule script reads from
    ``snakemake.config`` for its result-neutral values, which are not params)."""
    if exp == BASE:
        return dict(config)
    return merged(config, config["experiments"][label(exp)])


def init_source(runs: Mapping[str, Mapping[str, Any]], exp: str) -> str | None:
    """The model folder that run ``exp`` starts from (``train.init_from``), or None for random weights.

    An experiment's name means that experiment's model folder; anything else is a folder path.
    """
    value = runs[exp]["train"].get("init_from")
    if value is None:
        return None
    return model_dir(prefix(value)) if prefix(value) in runs else str(value).rstrip("/")


def _check_init_from(runs: Mapping[str, Mapping[str, Any]]) -> None:
    """No run starts from itself, directly or through others; an experiment named as a source has the same
    networks (the mel shape is shared, so the same ``model`` section means the same architecture)."""
    by_dir = {model_dir(exp): exp for exp in runs}
    for exp in runs:
        seen, cur = [exp], exp
        while (src := init_source(runs, cur)) in by_dir:
            cur = by_dir[src]
            if cur in seen:
                cycle = [*seen[seen.index(cur) :], cur]
                raise ConfigError(
                    f"config key 'train.init_from' of {label(cur)!r}: the runs start from each other "
                    f"({' -> '.join(map(label, cycle))}); "
                    "an experiment inherits the top level's init_from unless it sets its own (null for none)"
                )
            seen.append(cur)
        src = init_source(runs, exp)
        if src in by_dir:
            _same_networks(runs[exp]["model"], runs[by_dir[src]]["model"], exp, by_dir[src])


def _same_networks(mine: Mapping[str, Any], theirs: Mapping[str, Any], exp: str, source: str) -> None:
    diff = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    if diff:
        what = "; ".join(f"model.{k}: {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in diff)
        raise ConfigError(
            f"config key 'train.init_from' of {label(exp)!r} = {label(source)!r}: its networks differ ({what}); "
            "weights can only start a training of the same architecture"
        )


def _has(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return False
        mapping = mapping[key]
    return True


def _schema() -> dict:
    from audiowgan.core.settings import schema

    return schema()
