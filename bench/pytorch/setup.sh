#!/bin/sh
# Installs the PyTorch reference's dependencies from Debian if missing: python3-torch, and OpenBLAS
# (without libopenblas0-pthread Debian's torch falls back to the reference BLAS, ~15x slower).
set -e
PY=/usr/bin/python3
need=""
$PY -c 'import torch' 2>/dev/null || need="python3-torch"
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need="$need libopenblas0-pthread"
if [ -n "$need" ]; then
  echo "installing:$need" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $need >&2
fi
$PY -c 'import torch; print(torch.__version__)'
