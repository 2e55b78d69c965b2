#!/usr/bin/env bash
# Set up the environment (idempotent), then run the given command inside it.
#
#   bash tools/setup_env.sh                        # set up only
#   bash tools/setup_env.sh python tools/demo.py   # set up, then run a command
#
# Environment: the active virtual environment ($VIRTUAL_ENV) if any, else `.venv` here (created on demand).
# torch: kept as it is when the environment already imports torch and torchvision (e.g. a CUDA build);
#   otherwise torch==$TORCH_VERSION and torchvision==$TORCHVISION_VERSION are installed.
# mmcv 2.1.0 with ops: built once per (torch version, Python) into $MMDENOISEREP_CACHE/wheels and reused by
#   every later set-up on this machine; never rebuilt once `import mmcv.ops` works.
# The package itself is installed editable (`pip install -e .`) and reinstalled only when setup.py changes.
set -euo pipefail

TORCH_VERSION=${TORCH_VERSION:-2.14.1}
TORCHVISION_VERSION=${TORCHVISION_VERSION:-0.29.1}
MMCV_VERSION=2.1.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MMDENOISEREP_CACHE:-$HOME/.cache/mmdenoiserep}

log() { echo "[setup_env] $*" >&2; }

if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
else
    if [ ! -x "$ROOT/.venv/bin/python" ]; then
        log "creating virtual environment $ROOT/.venv"
        python3 -m venv "$ROOT/.venv"
    fi
    PY="$ROOT/.venv/bin/python"
fi
PIP=("$PY" -m pip --disable-pip-version-check -q)

if ! "$PY" -c 'import torch' 2>/dev/null; then
    log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
    "${PIP[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
elif ! "$PY" -c 'import torchvision' 2>/dev/null; then
    # Keep the user's torch (e.g. a CUDA build): only they know which torchvision build matches it.
    log "error: this environment has torch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) but no" \
        "working torchvision; install the torchvision that matches it, then rerun"
    exit 1
fi

if ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
    # mmcv's build needs pkg_resources (setuptools < 82) and is much faster with ninja.
    "${PIP[@]}" install 'setuptools>=77,<82' wheel ninja
    key=$("$PY" -c 'import sys, torch; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}")')
    wheel_dir="$CACHE/wheels/$key"
    wheel=$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        log "building mmcv $MMCV_VERSION with ops against $key (once per machine; about 13 min on 2 cores)"
        mkdir -p "$wheel_dir"
        tmp=$(mktemp -d "$wheel_dir/.build.XXXXXX")
        "${PIP[@]}" download --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$tmp"
        tar -xzf "$tmp/mmcv-$MMCV_VERSION.tar.gz" -C "$tmp"
        # mmcv 2.1.0 pins -std=c++14/17; the headers of torch >= 2.10 need C++20. Nothing else changes.
        sed -i 's/-std=c++1[47]/-std=c++20/g; s#/std:c++1[47]#/std:c++20#g' "$tmp/mmcv-$MMCV_VERSION/setup.py"
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "${PIP[@]}" wheel --no-build-isolation --no-deps --no-cache-dir "$tmp/mmcv-$MMCV_VERSION" -w "$tmp"
        mv "$tmp"/mmcv-*.whl "$wheel_dir"/ && rm -rf "$tmp"
        wheel=$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
    fi
    log "installing $wheel"
    "${PIP[@]}" install --no-deps "$wheel"  # its requirements come with mmdenoiserep's below
fi

stamp="$("$PY" -c 'import sys; print(sys.prefix)')/.mmdenoiserep-setup"
want=$(sha256sum < "$ROOT/setup.py" | cut -d' ' -f1)$ROOT
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing mmdenoiserep (editable) and its requirements"
    "${PIP[@]}" install -e "$ROOT[tests]"
    echo "$want" > "$stamp"
fi

if [ $# -gt 0 ]; then
    export PATH="$(dirname "$PY"):$PATH"
    cd "$ROOT"
    exec "$@"
fi
