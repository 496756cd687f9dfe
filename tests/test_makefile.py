"""`make setup` picks the TensorFlow build by itself, and never leaves two in one environment.

Nothing is installed: the machine is faked (a fake ``nvidia-smi`` on PATH, ``UNAME_S``/``UNAME_M``)
for ``scripts/tf-route.sh``, and the Makefile runs in a copy of the repository's install files with a
fake ``python3`` whose venv holds a fake ``pip`` that only records what it was asked to install.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

ROUTE_SCRIPT = REPO / "scripts" / "tf-route.sh"
GPU_LISTING = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a1e0c3b-0000-0000-0000-000000000000)\n"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_nvidia_smi(folder: Path, listing: str | None, *, rc: int = 0) -> Path:
    """A folder holding an ``nvidia-smi`` that prints ``listing`` for ``-L`` (None: no such command)."""
    folder.mkdir(parents=True, exist_ok=True)
    if listing is not None:
        (folder / "listing.txt").write_text(listing)
        executable(
            folder / "nvidia-smi", f'#!/bin/sh\n[ "$1" = -L ] || exit 9\ncat "{folder}/listing.txt"\nexit {rc}\n'
        )
    return folder


def system_path(gpu_bin: Path) -> str:
    """PATH with ``gpu_bin`` first and no folder that holds a real nvidia-smi."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "nvidia-smi").exists()]
    return os.pathsep.join([str(gpu_bin), *keep])


def route(tmp_path: Path, *, listing: str | None = None, os_name: str = "Linux", machine: str = "x86_64",
          tf: str = "", stamp: Path | None = None, rc: int = 0) -> subprocess.CompletedProcess:  # fmt: skip
    gpu_bin = fake_nvidia_smi(tmp_path / f"bin-{abs(hash((listing, rc)))}", listing, rc=rc)
    env = {**os.environ, "PATH": system_path(gpu_bin), "UNAME_S": os_name, "UNAME_M": machine, "TF": tf,
           "TF_STAMP": str(stamp or tmp_path / "no-stamp")}  # fmt: skip
    env.pop("NVIDIA_SMI", None)
    return subprocess.run(["bash", str(ROUTE_SCRIPT), "--why"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("listing", "os_name", "machine", "expected"),
    [
        (GPU_LISTING, "Linux", "x86_64", "cuda"),
        (GPU_LISTING + GPU_LISTING.replace("GPU 0", "GPU 1"), "Linux", "x86_64", "cuda"),
        (GPU_LISTING, "Linux", "aarch64", "cuda"),  # Grace Hopper: CUDA wheels exist for aarch64 too
        (None, "Linux", "x86_64", "cpu"),  # no nvidia-smi at all
        ("No devices were found\n", "Linux", "x86_64", "cpu"),  # driver tools without a GPU
        ("", "Linux", "x86_64", "cpu"),
        (None, "Linux", "aarch64", "plain"),
        (None, "Linux", "arm64", "plain"),
        (None, "Darwin", "arm64", "plain"),
        (GPU_LISTING, "Darwin", "arm64", "plain"),  # no CUDA on macOS, whatever claims to be nvidia-smi
        (None, "MINGW64_NT-10.0", "x86_64", "cpu"),
    ],
)
def test_route_is_detected_from_the_machine(tmp_path, listing, os_name, machine, expected):
    proc = route(tmp_path, listing=listing, os_name=os_name, machine=machine)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [expected, "auto"]
    assert f"TensorFlow route '{expected}' (auto)" in proc.stderr


def test_a_failing_nvidia_smi_means_no_gpu(tmp_path):
    proc = route(tmp_path, listing=GPU_LISTING, rc=0)
    assert "NVIDIA H100 80GB HBM3" in proc.stderr and "UUID" not in proc.stderr
    proc = route(tmp_path, listing="NVIDIA-SMI has failed because it couldn't communicate with the driver\n", rc=9)
    assert proc.returncode == 0 and proc.stdout.split() == ["cpu", "auto"]


@pytest.mark.parametrize("tf", ["cpu", "cuda", "plain"])
def test_tf_overrides_detection(tmp_path, tf):
    for listing, machine in ((GPU_LISTING, "x86_64"), (None, "x86_64"), (None, "aarch64")):
        proc = route(tmp_path, listing=listing, machine=machine, tf=tf)
        assert proc.stdout.split() == [tf, "explicit"], proc.stderr


def test_a_wrong_tf_value_and_an_intel_mac_are_clear_errors(tmp_path):
    proc = route(tmp_path, tf="gpu")
    assert proc.returncode != 0 and proc.stdout == ""
    assert "TF=gpu: expected cpu" in proc.stderr
    proc = route(tmp_path, os_name="Darwin", machine="x86_64")
    assert proc.returncode != 0 and "no wheel for macOS on x86_64" in proc.stderr
    assert route(tmp_path, os_name="Darwin", machine="x86_64", tf="cpu").stdout.split() == ["cpu", "explicit"]


def test_an_explicit_route_is_kept_until_another_is_given(tmp_path):
    stamp = tmp_path / ".installed"
    stamp.write_text("tf-route=cuda\ntf-route-chosen=explicit\n")
    assert route(tmp_path, stamp=stamp).stdout.split() == ["cuda", "explicit"]  # login node without GPUs
    assert route(tmp_path, stamp=stamp, tf="auto").stdout.split() == ["cpu", "auto"]
    assert route(tmp_path, stamp=stamp, tf="plain").stdout.split() == ["plain", "explicit"]
    stamp.write_text("tf-route=cuda\ntf-route-chosen=auto\n")  # detected earlier: detected again
    assert route(tmp_path, stamp=stamp).stdout.split() == ["cpu", "auto"]


# ------------------------------------------------------------------------------------------- the Makefile

FAKE_PYTHON = r"""#!/usr/bin/env bash
# Fake interpreter: only `-m venv DIR`, which makes DIR/bin/pip and DIR/bin/python (recorders) and logs
# the creation.
set -euo pipefail
if [ "$(basename "$0")" = python ]; then echo "python $*" >>"$FAKE_LOG"; exit 0; fi  # the venv's: recorded
[ "$1" = -m ] && [ "$2" = venv ] || { echo "fake python: $*" >&2; exit 9; }
mkdir -p "$3/bin"
[ -e "$3/bin/pip" ] && echo "venv $3 (existing)" >>"$FAKE_LOG" || echo "venv $3 (new)" >>"$FAKE_LOG"
cp "$FAKE_PIP" "$3/bin/pip"
cp "$0" "$3/bin/python"
"""

FAKE_PIP = r"""#!/usr/bin/env bash
# Fake pip: records each call; `install -r FILE` adds FILE's name==version lines (extras dropped, no
# recursion) to the venv's installed.txt, `uninstall` removes names, `list --format=freeze` prints them.
set -euo pipefail
db="$(dirname "$0")/installed.txt"; touch "$db"
echo "pip $*" >>"$FAKE_LOG"
case "$1" in
  install)
    # `pip install uv==...`: a uv appears only where the test provides one (FAKE_UV), as on a platform with a wheel.
    if [[ " $* " == *" uv=="* ]]; then [ -n "${FAKE_UV:-}" ] && cp "$FAKE_UV" "$(dirname "$0")/uv"; exit 0; fi
    shift; while [ $# -gt 0 ]; do
      if [ "$1" = -r ]; then grep -E '^[A-Za-z]' "$2" | sed -E 's/\[[^]]*\]//' >>"$db"; shift; fi; shift
    done
    sort -u -o "$db" "$db" ;;
  uninstall) for name in "$@"; do name="$(echo "$name" | tr _ -)"; sed -i -E "/^${name}==/Id" "$db"; done ;;
  list) sed -E 's/^tensorflow-cpu==/tensorflow_cpu==/' "$db" ;;
esac
"""


FAKE_UV = r"""#!/usr/bin/env bash
# Fake uv: records the call; `pip install --python PY ARGS` installs ARGS as the fake pip does.
set -euo pipefail
echo "uv $*" >>"$FAKE_LOG"
[ "$1" = pip ] && [ "$2" = install ] || exit 9
shift 2; args=()
while [ $# -gt 0 ]; do if [ "$1" = --python ]; then shift 2; continue; fi; args+=("$1"); shift; done
FAKE_LOG=/dev/null "$(dirname "$0")/pip" install "${args[@]}"
"""


@pytest.fixture
def checkout(tmp_path):
    """The install files of the repository in a scratch folder, a fake python3 and a faked machine."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "Makefile", root / "Makefile")
    for f in REPO.glob("requirements*.txt"):
        shutil.copy(f, root / f.name)
    for f in (REPO / "scripts").glob("*.sh"):
        shutil.copy(f, root / "scripts" / f.name)
    fakes = tmp_path / "fakes"
    executable(fakes / "python3", FAKE_PYTHON)
    executable(fakes / "pip", FAKE_PIP)
    executable(fakes / "uv", FAKE_UV)
    return root


def make(root: Path, *args: str, gpu: bool = False, machine: str = "x86_64", uv: bool = False) -> str:
    """``make ARGS`` in the scratch checkout; returns what the fake pip and python were asked to do."""
    log = root.parent / "calls.log"
    log.write_text("")
    gpu_bin = fake_nvidia_smi(root.parent / ("gpu-bin" if gpu else "no-gpu-bin"), GPU_LISTING if gpu else None)
    env = {**os.environ, "PATH": system_path(gpu_bin), "FAKE_LOG": str(log), "FAKE_PIP": str(root.parent / "fakes" / "pip"),
           "UNAME_S": "Linux", "UNAME_M": machine}  # fmt: skip
    for var in ("TF", "NVIDIA_SMI", "MAKEFLAGS", "MFLAGS", "FAKE_UV"):
        env.pop(var, None)
    if uv:
        env["FAKE_UV"] = str(root.parent / "fakes" / "uv")
    proc = subprocess.run(["make", "-s", f"PYTHON={root.parent / 'fakes' / 'python3'}", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"make {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return log.read_text()


def installed(root: Path) -> list[str]:
    return sorted((root / ".venv" / "bin" / "installed.txt").read_text().split())


def stamp(root: Path) -> dict[str, str]:
    text = (root / ".venv" / "bin" / ".installed").read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


def tf_packages(root: Path) -> list[str]:
    return [p for p in installed(root) if re.match(r"tensorflow(-cpu)?==", p)]


def test_make_setup_installs_the_detected_route_and_rebuilds_when_it_changes(checkout):
    calls = make(checkout, "venv", gpu=True)
    assert "venv .venv (new)" in calls
    assert "pip install --quiet -r requirements-dev.txt -r requirements-tf-cuda.txt" in calls
    assert tf_packages(checkout) == ["tensorflow==2.21.0"]
    assert stamp(checkout) == {
        "tf-route": "cuda",
        "tf-route-chosen": "auto",
        "tf-package": "tensorflow[and-cuda]==2.21.0",
    }

    assert make(checkout, "venv", gpu=True) == ""  # up to date: nothing runs

    calls = make(checkout, "venv", gpu=False)  # the GPU is gone (or the venv was copied): cpu, from scratch
    assert "venv .venv (new)" in calls and "requirements-tf-cpu.txt" in calls
    assert tf_packages(checkout) == ["tensorflow-cpu==2.21.0"]
    assert stamp(checkout)["tf-route"] == "cpu"

    later = (checkout / ".venv" / "bin" / ".installed").stat().st_mtime + 10
    os.utime(checkout / "requirements.txt", (later, later))  # a changed pin: updated in place, same route
    calls = make(checkout, "venv", gpu=False)
    assert "venv .venv (existing)" in calls and "requirements-tf-cpu.txt" in calls
    assert tf_packages(checkout) == ["tensorflow-cpu==2.21.0"]


def test_an_explicit_route_sticks_across_later_plain_makes(checkout):
    calls = make(checkout, "venv", "TF=cuda", gpu=False)  # a cluster's login node has no GPU
    assert "requirements-tf-cuda.txt" in calls
    assert stamp(checkout)["tf-route-chosen"] == "explicit"
    assert make(checkout, "venv", gpu=False) == ""  # `make run` afterwards keeps the CUDA build
    calls = make(checkout, "venv", "TF=auto", gpu=False)
    assert "venv .venv (new)" in calls and tf_packages(checkout) == ["tensorflow-cpu==2.21.0"]
    calls = make(checkout, "venv", "TF=plain", gpu=False)
    assert "venv .venv (new)" in calls and "requirements-tf-plain.txt" in calls
    assert tf_packages(checkout) == ["tensorflow==2.21.0"]


def test_aarch64_gets_the_plain_wheel(checkout):
    assert "requirements-tf-plain.txt" in make(checkout, "venv", machine="aarch64")


def test_a_venv_from_before_the_routes_loses_the_other_build(checkout):
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy(checkout.parent / "fakes" / "pip", bin_dir / "pip")
    (bin_dir / "installed.txt").write_text("numpy==2.4.6\ntensorflow-cpu==2.21.0\n")
    (bin_dir / ".installed").write_text("")  # the old Makefile's empty stamp: no route recorded
    calls = make(checkout, "venv", gpu=True)
    assert "venv .venv (existing)" in calls  # updated in place, not rebuilt
    assert "pip uninstall --quiet --yes tensorflow_cpu" in calls
    assert calls.index("uninstall") < calls.index("requirements-tf-cuda.txt")
    assert tf_packages(checkout) == ["tensorflow==2.21.0"]


def test_make_tf_route_explains_and_refuses_unknown_values(checkout):
    env = {**os.environ, "PATH": system_path(fake_nvidia_smi(checkout.parent / "none", None))}
    env.pop("TF", None)
    out = subprocess.run(["make", "-s", "tf-route", "UNAME_S=Darwin", "UNAME_M=arm64"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and out.stdout.startswith("TensorFlow route 'plain' (auto): macOS on Apple silicon")
    bad = subprocess.run(["make", "-s", "venv", "TF=gpu"], cwd=checkout, env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert bad.returncode != 0 and "TF=gpu: expected cpu" in bad.stdout + bad.stderr
    assert not (checkout / ".venv").exists()


def test_requirements_name_no_tensorflow_outside_the_route_files():
    """requirements.txt and -dev hold no TensorFlow build; each route file holds exactly one, same version."""
    pins = {}
    for f in ("requirements.txt", "requirements-dev.txt"):
        text = (REPO / f).read_text()
        assert not re.search(r"^tensorflow(\[|-cpu|=|\s|$)", text, re.M), f"{f} names a TensorFlow build"
    for name in ("cpu", "cuda", "plain"):
        lines = [ln for ln in (REPO / f"requirements-tf-{name}.txt").read_text().splitlines() if ln and ln[0] != "#"]
        assert len(lines) == 1, f"requirements-tf-{name}.txt: {lines}"
        m = re.fullmatch(r"(tensorflow(?:-cpu|\[and-cuda\])?)==(\S+)", lines[0])
        assert m, lines[0]
        pins[name] = m.groups()
    assert pins == {"cpu": ("tensorflow-cpu", pins["cpu"][1]), "cuda": ("tensorflow[and-cuda]", pins["cpu"][1]),
                    "plain": ("tensorflow", pins["cpu"][1])}  # fmt: skip


def test_uv_installs_the_requirements_where_it_installs_and_pip_where_it_does_not(checkout):
    calls = make(checkout, "venv", uv=True)
    assert "pip install --quiet uv==0.13.9" in calls
    assert (
        "uv pip install --quiet --python .venv/bin/python -r requirements-dev.txt -r requirements-tf-cpu.txt" in calls
    )
    assert "pip install --quiet -r requirements-dev.txt" not in calls
    assert tf_packages(checkout) == ["tensorflow-cpu==2.21.0"]
    assert "pytest==9.2.0" in installed(checkout)


@pytest.mark.parametrize("uv", [True, False], ids=["uv", "pip"])
def test_the_no_deps_requirements_are_installed_without_their_dependencies(checkout, uv):
    calls = make(checkout, "venv", uv=uv).splitlines()
    tool = "uv pip install --quiet --python .venv/bin/python" if uv else "pip install --quiet"
    main = calls.index(f"{tool} -r requirements-dev.txt -r requirements-tf-cpu.txt")
    assert calls.index(f"{tool} --no-deps -r requirements-no-deps.txt") > main  # after what it relies on
    assert "musicnn==0.1.0" in installed(checkout)
    later = (checkout / ".venv" / "bin" / ".installed").stat().st_mtime + 10
    os.utime(checkout / "requirements-no-deps.txt", (later, later))  # a changed pin updates the venv
    assert "requirements-no-deps.txt" in make(checkout, "venv", uv=uv)


@pytest.mark.parametrize("uv", [True, False], ids=["uv", "pip"])
def test_everything_installed_is_compiled_after_the_last_install(checkout, uv):
    calls = make(checkout, "venv", uv=uv).splitlines()
    installs = [i for i, call in enumerate(calls) if " install " in call]
    assert calls.index("python -m compileall -qq -j 0 .venv/lib") > installs[-1]


def test_a_changed_install_script_updates_the_venv(checkout):
    make(checkout, "venv")
    later = (checkout / ".venv" / "bin" / ".installed").stat().st_mtime + 10
    os.utime(checkout / "scripts" / "setup-venv.sh", (later, later))
    assert "requirements-dev.txt" in make(checkout, "venv")


@pytest.mark.parametrize("package", ["tensorflow", "keras", "snakemake", "librosa"])
def test_the_environment_this_suite_runs_in_is_compiled(package):
    # Without bytecode on disk every rule job compiles its imports again (PYTHONDONTWRITEBYTECODE on CI).
    source = importlib.util.find_spec(package).origin
    assert Path(importlib.util.cache_from_source(source)).is_file(), f"{package} has no bytecode: rerun make setup"
