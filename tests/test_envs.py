"""envs/*.yaml (conda environments for `--sdm conda`) agree with the pinned requirements.

Conda channels are not reachable in CI, so the environments are checked, not built:
every package pinned in an environment is pinned in requirements.txt (or, for TensorFlow, in one
of the route files requirements-tf-*.txt that `make setup` chooses from) at the same version,
under the PyPI name that NAME_MAP gives for a conda-forge name. Pip entries keep their extras
(``yt-dlp[default]``, ``tensorflow[and-cuda]``) and must match a requirement with the same extras.
The packages of requirements-no-deps.txt (pip --no-deps: their metadata cannot be met) cannot be pip
entries of an environment; an environment's post-deploy script installs them, with --no-deps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
# TensorFlow's install routes (scripts/tf-route.sh): one of them joins requirements.txt in an environment.
TF_ROUTES = sorted(REPO.glob("requirements-tf-*.txt"))
NO_DEPS = REPO / "requirements-no-deps.txt"  # installed with --no-deps (scripts/setup-venv.sh)
# conda-forge name -> the PyPI name pinned in requirements.txt.
NAME_MAP = {
    "pysoundfile": "soundfile",
    "matplotlib-base": "matplotlib",
}
# Not Python packages of ours: the interpreter, the installer, a system tool.
NOT_IN_REQUIREMENTS = {"python", "pip", "ffmpeg"}
# Requirements that run the workflow rather than a rule: not needed inside an environment.
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}


def requirements(*paths: Path) -> dict[str, str]:
    """{canonical name with extras: version} of requirements.txt (or ``paths``); every line pinned."""
    pins = {}
    for path in paths or (REPO / "requirements.txt",):
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
            assert m, f"{path.name}: {line!r} is not pinned as name==version"
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def all_pins() -> dict[str, str]:
    """requirements.txt and every TensorFlow route file."""
    return requirements(REPO / "requirements.txt", *TF_ROUTES)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def env_packages(path: Path) -> list[tuple[str, str | None, str]]:
    """(name, version or None, 'conda' or 'pip') for every dependency of an environment file."""
    spec = yaml.safe_load(path.read_text())
    found = []
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{path.name}: unexpected section {set(dep)}"
            for item in dep["pip"]:
                m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*(?:==\s*(\S+))?", item.strip())
                assert m, f"{path.name}: pip entry {item!r} is not name==version"
                found.append((m.group(1).lower(), m.group(2), "pip"))
        else:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(?:==?\s*(\S+))?", str(dep).strip())
            assert m, f"{path.name}: conda entry {dep!r} is not name=version"
            found.append((m.group(1).lower(), m.group(2), "conda"))
    return found


def test_there_are_environments():
    assert {p.name for p in ENVS} >= {"audio.yaml", "train.yaml"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_pins_equal_requirements(path):
    pins = all_pins()
    spec = yaml.safe_load(path.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"], f"{path.name}: use conda-forge only"
    for name, version, _kind in env_packages(path):
        if name in NOT_IN_REQUIREMENTS:
            continue
        pypi = canonical(NAME_MAP.get(name, name))
        assert pypi in pins, (
            f"{path.name}: {name} is not pinned in requirements.txt or requirements-tf-*.txt (map its name in NAME_MAP?)"
        )
        assert version is not None, f"{path.name}: {name} has no version; requirements.txt pins {pins[pypi]}"
        assert version == pins[pypi], f"{path.name}: {name}={version} but requirements.txt pins {pypi}=={pins[pypi]}"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_environment_python_matches_the_project(path):
    pyproject = (REPO / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)"', pyproject).group(1)
    versions = [v for name, v, _ in env_packages(path) if name == "python"]
    assert versions == [minimum], f"{path.name}: python={versions}, the project requires >={minimum}"


def test_every_runtime_requirement_is_in_some_environment():
    covered = {canonical(NAME_MAP.get(name, name)) for path in ENVS for name, _, _ in env_packages(path)}
    missing = set(requirements()) - covered - DRIVER_ONLY
    assert not missing, f"in requirements.txt but in no envs/*.yaml: {sorted(missing)}"


def test_the_training_environment_has_exactly_one_tensorflow_route():
    """envs/train.yaml runs on GPU nodes: the CUDA route, and no second TensorFlow build beside it."""
    routes = set(requirements(*TF_ROUTES))
    names = [canonical(name) for name, _, _ in env_packages(REPO / "envs" / "train.yaml")]
    assert [n for n in names if n in routes] == ["tensorflow[and-cuda]"]
    assert not [n for n in names if re.match(r"tensorflow(-cpu)?$", n)]
    for path in ENVS:
        if path.name != "train.yaml":
            assert not routes & {canonical(n) for n, _, _ in env_packages(path)}, f"{path.name} installs TensorFlow"


def test_every_conda_directive_names_an_existing_environment():
    rules_dir = REPO / "workflow" / "rules"
    named = set()
    for smk in sorted(rules_dir.glob("*.smk")):
        for m in re.finditer(r"conda:\s*\n\s*\"([^\"]+)\"", smk.read_text()):
            target = (rules_dir / m.group(1)).resolve()
            assert target.is_file(), f"{smk.name}: conda env {m.group(1)} does not exist"
            named.add(target)
    assert named == {p.resolve() for p in ENVS}, "an environment file is unused, or a rule has none"


def post_deploy_installs(path: Path) -> dict[str, str]:
    """{canonical name: version} that an environment's post-deploy script installs with pip --no-deps."""
    script = path.with_suffix(".post-deploy.sh")
    if not script.is_file():
        return {}
    found = {}
    for line in script.read_text().splitlines():
        if re.match(r"\s*python -m pip install --no-deps ", line):
            for name, version in re.findall(r"([A-Za-z0-9_.\-\[\]]+)==(\S+)", line):
                found[canonical(name)] = version
    return found


def test_no_deps_requirements_are_installed_by_a_post_deploy_script_at_their_pins():
    pins = requirements(NO_DEPS)
    assert pins, "requirements-no-deps.txt pins nothing"
    installed = {}
    for path in ENVS:
        installed |= post_deploy_installs(path)
        in_yaml = {canonical(name) for name, _, _ in env_packages(path)}
        assert not in_yaml & set(pins), f"{path.name} lists a --no-deps package as an ordinary dependency"
    assert installed == pins, f"post-deploy scripts install {installed}, requirements-no-deps.txt pins {pins}"
    assert set(pins).isdisjoint(all_pins()), "a package pinned both with and without its dependencies"
