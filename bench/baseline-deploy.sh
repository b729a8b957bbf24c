#!/bin/bash
# The old way, as the seed's hand-run deploy script did it, for the benchmark's baseline:
# git pull, pip install -r, npm install, npm run build, clear __pycache__, systemctl restart,
# then check is-active after 3 s. Runs on the server, in a plain checkout with its own unit.
#
# Usage: baseline-deploy.sh CHECKOUT UNIT BRANCH [REVISION]
#   REVISION: check out this commit instead of pulling (the old way's rollback).
# Prints "commands: N" last: the commands it ran on the server.
set -euo pipefail

COMMANDS=0

# run CMD...: one command of the deploy, counted.
run() {
  COMMANDS=$((COMMANDS + 1))
  "$@"
}

main() {
  local checkout="$1" unit="$2" branch="$3" revision="${4:-}"
  cd "${checkout}"
  if [[ -n "${revision}" ]]; then
    run git checkout --quiet --detach "${revision}"
  else
    run git checkout --quiet "${branch}"
    run git pull --quiet --ff-only
  fi
  run venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  cd public/ai4artsed-frontend
  run npm install --no-audit --no-fund --loglevel=error
  run npm run build --silent
  cd "${checkout}"
  run find . -path ./venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
  run systemctl restart "${unit}"
  run sleep 3
  if run systemctl is-active --quiet "${unit}"; then
    echo "${unit} is active"
  else
    echo "${unit} is NOT active" >&2
    echo "commands: ${COMMANDS}"
    exit 1
  fi
  echo "commands: ${COMMANDS}"
}

main "$@"
