#!/usr/bin/env bash
# Installs what dumbtorch needs on a fresh Debian 12 machine, idempotently: Debian packages
# (LLVM 19, GoogleTest, the Fashion-MNIST data) and the pinned PyPI packages.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(llvm-19-dev libgtest-dev dataset-fashion-mnist zlib1g-dev libzstd-dev)
# `setup.sh fuzz` (make fuzz / fuzz-long) adds clang with libFuzzer and the sanitizer
# runtimes; plain `make test` does not need them.
if [ "${1:-}" = "fuzz" ]; then
  debs+=(clang-19 libclang-rt-19-dev)
fi
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
# pip is quick when everything is already satisfied, but skip it entirely when the stamp of
# this requirements file is current.
stamp=".setup-stamp-$(sha1sum requirements.txt | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages from requirements.txt"
  $PYTHON -m pip install -q --disable-pip-version-check -r requirements.txt
  rm -f .setup-stamp-*
  touch "$stamp"
fi
