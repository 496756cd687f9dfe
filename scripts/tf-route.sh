#!/usr/bin/env bash
# Which TensorFlow build this machine gets (`make setup` installs requirements-tf-<route>.txt).
#
# Prints two words on stdout: the route and how it was chosen ("explicit" or "auto"); with --why,
# also one sentence on stderr saying why. Routes:
#   cuda   tensorflow[and-cuda]: Linux where `nvidia-smi -L` lists a GPU (CUDA and cuDNN come as wheels)
#   plain  tensorflow: macOS on Apple silicon and Linux aarch64 (tensorflow-cpu has no wheel there)
#   cpu    tensorflow-cpu: everywhere else (the CPU-only build, about half the download of cuda)
#
# Environment (all optional; the tests fake the machine through them, nothing is installed):
#   TF          cpu | cuda | plain: use that route; auto or empty: detect (but see TF_STAMP)
#   TF_STAMP    the venv's stamp file (.venv/bin/.installed): when TF is empty and the stamp records a
#               route chosen explicitly earlier (`make setup TF=cuda` on a cluster's login node without
#               GPUs, say), that route is kept instead of detecting again; TF=auto detects again
#   UNAME_S     operating system as `uname -s` prints it (default: uname -s)
#   UNAME_M     machine as `uname -m` prints it (default: uname -m)
#   NVIDIA_SMI  the command that lists GPUs (default: nvidia-smi, looked up on PATH)
set -euo pipefail

why=0
[ "${1:-}" = "--why" ] && why=1
want="${TF:-}"
os="${UNAME_S:-$(uname -s)}"
arch="${UNAME_M:-$(uname -m)}"
smi="${NVIDIA_SMI:-nvidia-smi}"
stamp="${TF_STAMP:-}"

choose() { # route, how, reason
    echo "$1 $2"
    if [ "$why" = 1 ]; then echo "TensorFlow route '$1' ($2): $3" >&2; fi
    exit 0
}

case "$want" in
    cpu | cuda | plain) choose "$want" explicit "TF=$want" ;;
    "" | auto) ;;
    *)
        echo "TF=$want: expected cpu (tensorflow-cpu), cuda (tensorflow[and-cuda]), plain (tensorflow) or auto" >&2
        exit 2
        ;;
esac

if [ -z "$want" ] && [ -n "$stamp" ] && [ -f "$stamp" ]; then
    recorded="$(sed -n 's/^tf-route=//p' "$stamp" | head -n 1)"
    how="$(sed -n 's/^tf-route-chosen=//p' "$stamp" | head -n 1)"
    case "$recorded/$how" in
        cpu/explicit | cuda/explicit | plain/explicit)
            choose "$recorded" explicit "chosen earlier with TF=$recorded and kept (make setup TF=auto detects again)"
            ;;
    esac
fi

if [ "$os" = Linux ] && command -v "$smi" >/dev/null 2>&1; then
    # A broken driver can make nvidia-smi hang or fail: give it a while, then treat it as no GPU.
    if command -v timeout >/dev/null 2>&1; then
        listing="$(timeout 30 "$smi" -L 2>/dev/null || true)"
    else
        listing="$("$smi" -L 2>/dev/null || true)"
    fi
    first="$(printf '%s\n' "$listing" | grep -m 1 '^GPU [0-9]' || true)"
    if [ -n "$first" ]; then
        count="$(printf '%s\n' "$listing" | grep -c '^GPU [0-9]')"
        choose cuda auto "nvidia-smi lists $count GPU(s), the first: ${first%% (UUID*}"
    fi
fi

case "$os/$arch" in
    Darwin/arm64 | Darwin/aarch64)
        choose plain auto "macOS on Apple silicon: tensorflow-cpu has no wheel there, tensorflow runs on the CPU"
        ;;
    Linux/aarch64 | Linux/arm64)
        choose plain auto "Linux $arch: tensorflow-cpu has no wheel there (and nvidia-smi lists no GPU)"
        ;;
    Darwin/*)
        echo "TensorFlow 2.21 has no wheel for macOS on $arch (only on Apple silicon, arm64)." >&2
        echo "Use a Mac with Apple silicon, Linux (or a Linux container), or force a route: make setup TF=cpu" >&2
        exit 3
        ;;
esac
choose cpu auto "$os $arch and nvidia-smi lists no GPU"
