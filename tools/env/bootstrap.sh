#!/usr/bin/env bash
# Print the path of seg_d2's Python environment, building it first if needed.
#
# The environment lives outside the clone, keyed by the pinned requirements and
# the detectron2 installer, so fresh clones (and CI on a warm machine) reuse it
# and a change of pins builds a new one. Set SEG_D2_VENV to choose the folder.
# seg_d2 itself is installed editable from the clone that ran this script last,
# so `$(tools/env/bootstrap.sh)/bin/python tools/...` imports this clone's code.
# All install output goes to stderr; stdout is the path alone, printed only on success.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
key=$(cat "$repo/requirements.txt" "$repo/tools/env/install_detectron2.py" | sha256sum | cut -c1-16)
venv=${SEG_D2_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/seg_d2/venv-$key}
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.seg_d2-ready" ]; then
    echo "seg_d2: building the Python environment in $venv (about 5 minutes on a cold machine)" >&2
    rm -rf "$venv"
    python3.11 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$repo/requirements.txt" >&2
    "$venv/bin/python" "$repo/tools/env/install_detectron2.py" >&2
    touch "$venv/.seg_d2-ready"
fi
if [ "$(cat "$venv/.seg_d2-source" 2>/dev/null)" != "$repo" ]; then
    "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$repo" >&2
    echo "$repo" > "$venv/.seg_d2-source"
fi
echo "$venv"
