#!/usr/bin/env bash
#
# Builds SeaweedFS's `weed` (the S3-compatible server the shared-state tests run on a test
# server) from its Go module, pinned by the wrapper module in build/, and caches it outside the
# repo. Prints the binary's path as the last line of stdout.
#
# Environment: AI4ARTSED_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/ai4artsed-deploy), GO.

set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly LOG_TAG="ensure-weed"
# shellcheck source=scripts/lib/go-build.sh
source "${SCRIPT_DIR}/../../scripts/lib/go-build.sh"
readonly BUILD_DIR="${SCRIPT_DIR}"
readonly BUILD_TAGS=""
WEED_VERSION="$(sed -n 's/^require github.com\/seaweedfs\/seaweedfs \(\S*\)$/\1/p' "${BUILD_DIR}/build/go.mod")"
readonly WEED_VERSION
readonly BIN_DIR="${GO_BUILD_CACHE}/seaweedfs/${WEED_VERSION}/bin"

main() {
  [[ -n "${WEED_VERSION}" ]] || { err "no SeaweedFS version in ${BUILD_DIR}/build/go.mod"; exit 1; }
  hold_bin_dir
  ensure_go_binary weed build github.com/seaweedfs/seaweedfs/weed "-s -w" "about 10 min on 2 cores the first time"
  printf '%s\n' "${BIN_DIR}/weed"
}

main "$@"
