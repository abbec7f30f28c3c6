#!/usr/bin/env bash
# Installs the Debian packages csd builds against, when any is missing (run as root).
set -euo pipefail
packages=(pkg-config libopenblas-dev libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev libpng-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
