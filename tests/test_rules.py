"""What the rule files declare, read as text: params that are single values, threads where TensorFlow runs."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from audiowgan.core.check import check
from audiowgan.core.settings import schema
from conftest import REPO

RULES = REPO / "workflow" / "rules"
SCRIPTS = REPO / "workflow" / "scripts"
TENSORFLOW_RULES = {"train", "generate", "longform", "evaluate", "nearest"}  # the rules that run a network (DESIGN.md)


def rule_blocks() -> dict[str, str]:
    """{rule: its text} for every rule and checkpoint in workflow/rules."""
    blocks = {}
    for smk in sorted(RULES.glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) )", smk.read_text(), flags=re.M):
            if m := re.match(r"(?:rule|checkpoint) (\w+):", block):
                blocks[m.group(1)] = block
    return blocks


def directive(block: str, name: str) -> str:
    """The body of one directive of a rule (``params``, ``threads``...), or ''."""
    m = re.search(rf"^    {name}:(.*?)(?=^    \w+:|\Z)", block, flags=re.M | re.S)
    return m.group(1) if m else ""


@pytest.mark.parametrize("rule", sorted(TENSORFLOW_RULES))
def test_tensorflow_rules_declare_threads_and_give_them_to_tensorflow(rule):
    block = rule_blocks()[rule]
    assert re.fullmatch(r"\s*\d+\s*", directive(block, "threads")), f"rule {rule} declares no threads"
    script = re.search(r'"\.\./scripts/(\w+\.py)"', directive(block, "script")).group(1)
    assert "devices.configure_threads(snakemake.threads)" in (SCRIPTS / script).read_text(), script


def test_no_param_is_a_config_section_or_hidden_from_the_params_trigger():
    cfg = check(copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text())), schema())
    for rule, block in rule_blocks().items():
        params = directive(block, "params")
        # A lambda of `output` is left out of Snakemake's params trigger by undocumented internals.
        assert not re.search(r"lambda[^:]*\boutput\b", params), f"rule {rule}: a param derived from its outputs"
        for keys in re.findall(r'config((?:\["\w+"\])+)', params):
            value = cfg
            for key in re.findall(r'"(\w+)"', keys):
                value = value[key]
            # A section reruns the rule for any of its keys, result-neutral ones too: use result_params().
            assert not isinstance(value, dict), f"rule {rule}: param config{keys} is a whole section"
