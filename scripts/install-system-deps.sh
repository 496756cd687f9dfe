#!/usr/bin/env bash
# Install Debian packages the workflow needs when they are missing.
# Usage: scripts/install-system-deps.sh ffmpeg [slurm-wlm munge chromium ...]
set -euo pipefail
missing=()
for pkg in "$@"; do
    case "$pkg" in
        ffmpeg) command -v ffmpeg >/dev/null && continue ;;
        slurm-wlm) command -v slurmctld >/dev/null && continue ;;
        munge) command -v munged >/dev/null && continue ;;
        chromium) command -v chromium >/dev/null && continue ;;
    esac
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "Missing system packages: ${missing[*]}." >&2
    echo "Install them with your package manager (Debian/Ubuntu: sudo apt-get install ${missing[*]};" \
        "macOS: brew install ${missing[*]}), then rerun." >&2
    exit 1
fi
echo "Installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
