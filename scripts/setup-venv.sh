#!/usr/bin/env bash
# Create or update the virtual environment with the pinned requirements and one TensorFlow build.
# Usage: scripts/setup-venv.sh ROUTE HOW    (what scripts/tf-route.sh printed; the Makefile passes it)
#
# Installs requirements-dev.txt (which includes requirements.txt) and requirements-tf-ROUTE.txt in one
# call of uv (pinned below; pip where uv does not install), then requirements-no-deps.txt with --no-deps
# (packages whose metadata pins what cannot be met, e.g. musicnn's numpy<1.17). The stamp $VENV/bin/.installed records
# the route (tf-route=, tf-route-chosen=); when the
# route differs from the recorded one, the environment is deleted and built afresh, so no two
# TensorFlow builds (nor the CUDA wheels of a former one) ever share it. An environment from before
# the routes (a stamp without tf-route=) is updated in place, the TensorFlow build of another route
# uninstalled first. After the install, exactly one TensorFlow distribution must be present.
#
# Environment: PYTHON (the interpreter that creates the venv, default python3), VENV (default .venv).
set -euo pipefail

route="${1:?usage: setup-venv.sh ROUTE HOW}"
how="${2:-auto}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
bin="$venv/bin"
stamp="$bin/.installed"
req="requirements-tf-$route.txt"
UV_PIN="uv==0.13.9"
[ -f "$req" ] || { echo "setup-venv.sh: no $req for TensorFlow route '$route'" >&2; exit 2; }

case "$route" in
    cpu) own=tensorflow-cpu ;;
    *) own=tensorflow ;; # cuda and plain: the same distribution, with or without the CUDA wheels
esac

recorded=""
[ -f "$stamp" ] && recorded="$(sed -n 's/^tf-route=//p' "$stamp" | head -n 1)"
if [ -n "$recorded" ] && [ "$recorded" != "$route" ]; then
    echo "TensorFlow route changes from '$recorded' to '$route': rebuilding $venv from scratch" >&2
    rm -rf "$venv"
fi
rm -f "$stamp" # no stamp until the install succeeded: a failed or interrupted one is retried

echo "Installing $venv with TensorFlow route '$route' ($req)" >&2
"$python" -m venv "$venv"
"$bin/pip" install --quiet --upgrade pip
installed() { "$bin/pip" list --format=freeze 2>/dev/null | grep -i -E '^tensorflow([-_]cpu)?==' | cut -d= -f1 || true; }
for dist in $(installed); do # an environment from before the routes may hold the other build
    if [ "$(echo "$dist" | tr '_A-Z' '-a-z')" != "$own" ]; then
        echo "Removing $dist: route '$route' installs $own" >&2
        "$bin/pip" uninstall --quiet --yes "$dist"
    fi
done
# uv installs the same pinned requirements as pip in a fraction of the time (measured here: 28 s against
# 4 min 33 s for the whole environment, most of make run's time on a fresh clone). Where no uv wheel
# installs (an unusual platform), pip does it.
"$bin/pip" install --quiet "$UV_PIN" >/dev/null 2>&1 || echo "no $UV_PIN for this platform: installing with pip" >&2
if [ -x "$bin/uv" ]; then
    "$bin/uv" pip install --quiet --python "$bin/python" -r requirements-dev.txt -r "$req"
    "$bin/uv" pip install --quiet --python "$bin/python" --no-deps -r requirements-no-deps.txt
else
    "$bin/pip" install --quiet -r requirements-dev.txt -r "$req"
    "$bin/pip" install --quiet --no-deps -r requirements-no-deps.txt
fi

# Bytecode for every installed module. uv does not compile what it installs, and where
# PYTHONDONTWRITEBYTECODE is set (as on CI machines) every process would then compile its imports afresh:
# TensorFlow's import took 12.5 s instead of 5.5 s on a 2-core machine, in every rule job and test.
# compileall skips what is already compiled (pip's installs; a second run took 6 s), and costs 21 s once.
"$bin/python" -m compileall -qq -j 0 "$venv/lib" || echo "setup-venv.sh: some installed files did not compile" >&2

found="$(installed | tr '\n' ' ')"
if [ "$(echo "$found" | wc -w)" -ne 1 ]; then
    echo "setup-venv.sh: expected one TensorFlow distribution in $venv, found: ${found:-none}" >&2
    exit 1
fi
printf 'tf-route=%s\ntf-route-chosen=%s\ntf-package=%s\n' "$route" "$how" "$(grep -v '^#' "$req" | head -n 1)" >"$stamp"
