"""Which config values a job's outputs depend on, and which only steer how it runs.

The schema marks the second kind ``x-result-neutral: true`` (how often training checkpoints, whether it
writes TensorBoard logs, how often a download is retried). Snakemake's params trigger reruns a job, and
everything after it, when any value in its ``params:`` differs from the last run, and it compares them
all. So a rule declares as params the values of :func:`result_values`, and its script reads those of
:func:`run_values` from ``snakemake.config`` (which Snakemake's script interface documents beside
``snakemake.params``): changing one of them reruns nothing, and applies to the jobs that run anyway.

Both read the schema, so a key added to it is a result value (it reruns) unless it is marked.
Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audiowgan.core.settings import schema

NEUTRAL = "x-result-neutral"


def neutral_keys(section: str) -> frozenset[str]:
    """The keys of ``section`` (dotted for a nested one: ``generate.longform``) marked result-neutral."""
    sub = schema()
    for key in section.split("."):
        sub = sub["properties"][key]
    return frozenset(key for key, spec in sub["properties"].items() if spec.get(NEUTRAL))


def result_values(config: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The values of ``section`` that shape a job's outputs: what a rule declares in ``params:``."""
    neutral = neutral_keys(section)
    return {key: value for key, value in _section(config, section).items() if key not in neutral}


def run_values(config: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The result-neutral values of ``section``: what a script reads from ``snakemake.config``."""
    values = _section(config, section)
    return {key: values[key] for key in neutral_keys(section) if key in values}


def without_added_off(values: Mapping[str, Any], added_off: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` less the keys of ``added_off`` (a Spec's ``ADDED_OFF``) at their off value: what a run made before
    those keys existed had. Checkpoint fingerprints leave them out so, and so do the train rule's params, so that a
    key's arrival reruns nothing that is up to date."""
    return {key: value for key, value in values.items() if key not in added_off or value != added_off[key]}


def _section(config: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    for key in section.split("."):
        config = config[key]
    return config
