#!/usr/bin/env bash
#
# Makes a Pulumi engine available on a machine that reaches only package
# registries: builds the `pulumi` CLI and the Node.js language host from Go
# modules (pinned by the wrapper modules in scripts/pulumi-build/), caches the
# binaries outside the repo and rebuilds only what is missing or outdated.
#
# Usage: scripts/ensure-pulumi.sh
#   export PATH="$(scripts/ensure-pulumi.sh | tail -n 1):${PATH}"
#
# Progress goes to stderr; the last stdout line is the directory to prepend
# to PATH. The first run takes several minutes (needs Go and the Go module
# proxy); later runs take well under a second.
#
# Environment:
#   AI4ARTSED_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/ai4artsed-deploy)
#   GO                   go binary to use (default: `go` on PATH, else /usr/local/go/bin/go)

set -euo pipefail

readonly PULUMI_VERSION="v3.274.1"
# The standalone language-host module is refused by the module proxy; sdk/v3
# carried the same host in-tree up to this release (see pulumi-build/README.md).
readonly LANGUAGE_NODEJS_VERSION="v3.68.0"
readonly DEFAULT_COMMAND_VERSION="1.2.1"
readonly DEFAULT_RANDOM_VERSION="4.21.2"

readonly VERSION_PKG="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
readonly CLI_PKG="github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
readonly LANGUAGE_NODEJS_PKG="github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
readonly SDK_MODULE="github.com/pulumi/pulumi/sdk/v3"
readonly BUILD_TAGS="osusergo,grpcnotrace"

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly LOG_TAG="ensure-pulumi"
# shellcheck source=scripts/lib/go-build.sh
source "${SCRIPT_DIR}/lib/go-build.sh"
readonly REPO_ROOT="${SCRIPT_DIR%/*}"
readonly BUILD_DIR="${SCRIPT_DIR}/pulumi-build"
readonly BIN_DIR="${GO_BUILD_CACHE}/pulumi/${PULUMI_VERSION}/bin"

# Copies the dynamic-provider launcher shipped in the sdk/v3 module.
ensure_dynamic_provider_script() {
  local name="pulumi-resource-pulumi-nodejs"
  local out="${BIN_DIR}/${name}"
  if [[ -x "${out}" ]]; then
    return 0
  fi
  find_go
  local dir
  dir="$(cd -- "${BUILD_DIR}/cli" && GOWORK=off GOFLAGS=-mod=readonly \
    "${GO_BIN}" mod download -json "${SDK_MODULE}@${PULUMI_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [[ -z "${dir}" || ! -f "${dir}/nodejs/dist/${name}" ]]; then
    err "${name}: not found in ${SDK_MODULE}@${PULUMI_VERSION}"
    exit 1
  fi
  TMP_FILE="${out}.tmp.$$"
  cp -- "${dir}/nodejs/dist/${name}" "${TMP_FILE}"
  chmod 0755 "${TMP_FILE}"
  mv -f -- "${TMP_FILE}" "${out}"
  TMP_FILE=""
  err "${name}: copied from ${SDK_MODULE}@${PULUMI_VERSION}"
}

# Prints the version of npm package PKG in the repo's package-lock.json, or
# DEFAULT when there is no lock file or no such entry.
lock_version() {
  local pkg="$1" default="$2" lock="${REPO_ROOT}/package-lock.json" version=""
  if [[ -f "${lock}" ]] && command -v node >/dev/null 2>&1; then
    version="$(node -e '
      const lock = require(process.argv[1]);
      const entry = (lock.packages || {})["node_modules/" + process.argv[2]];
      process.stdout.write((entry && entry.version) || "");
    ' "${lock}" "${pkg}" 2>/dev/null || true)"
  fi
  printf '%s\n' "${version:-${default}}"
}

# Says whether provider plugin NAME at VERSION can be found by the engine.
# These plugins cannot be built here: the module proxy refuses their Go
# modules (see pulumi-build/README.md).
check_provider() {
  local name="$1" version="$2" module="$3"
  local bin="pulumi-resource-${name}"
  local plugin_dir="${PULUMI_HOME:-${HOME}/.pulumi}/plugins/resource-${name}-v${version}"
  if [[ -x "${BIN_DIR}/${bin}" ]] || command -v "${bin}" >/dev/null 2>&1 ||
    [[ -x "${plugin_dir}/${bin}" ]]; then
    err "${bin}: found (wanted v${version})"
    return 0
  fi
  err "WARNING: ${bin} v${version} is not installed and cannot be built here:"
  err "  the Go module proxy refuses ${module}. Programs that register"
  err "  ${name} resources will fail; install the plugin with"
  err "  'pulumi plugin install resource ${name} ${version} --file <binary>'."
}

check_providers() {
  check_provider command \
    "$(lock_version @pulumi/command "${DEFAULT_COMMAND_VERSION}")" \
    "github.com/pulumi/pulumi-command/provider"
  check_provider random \
    "$(lock_version @pulumi/random "${DEFAULT_RANDOM_VERSION}")" \
    "github.com/pulumi/pulumi-random/provider/v4"
}

# Builds the language host and the CLI under a lock, so concurrent runs do
# not build the same binary twice.
ensure_engine() {
  local with_cli="$1"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${BIN_DIR}/.lock"
    flock 9
  fi
  ensure_go_binary pulumi-language-nodejs language-nodejs "${LANGUAGE_NODEJS_PKG}" \
    "-X ${VERSION_PKG}=${LANGUAGE_NODEJS_VERSION}" "about 1 min"
  ensure_dynamic_provider_script
  if [[ "${with_cli}" == "yes" ]]; then
    ensure_go_binary pulumi cli "${CLI_PKG}" "-X ${VERSION_PKG}=${PULUMI_VERSION}" \
      "about 5 min on 2 cores the first time"
  fi
}

main() {
  hold_bin_dir
  local existing existing_dir="" bin_dir
  bin_dir="$(cd -- "${BIN_DIR}" && pwd -P)"
  existing="$(command -v pulumi 2>/dev/null || true)"
  if [[ -n "${existing}" ]]; then
    existing_dir="$(cd -- "$(dirname -- "${existing}")" && pwd -P)"
  fi
  if [[ -z "${existing}" || "${existing_dir}" == "${bin_dir}" ]]; then
    ensure_engine yes
  else
    err "using the pulumi already on PATH: ${existing}"
    if [[ -x "${existing_dir}/pulumi-language-nodejs" ]] ||
      command -v pulumi-language-nodejs >/dev/null 2>&1; then
      check_providers
      printf '%s\n' "${existing_dir}"
      return 0
    fi
    err "no pulumi-language-nodejs beside it or on PATH: building one"
    ensure_engine no
  fi
  check_providers
  printf '%s\n' "${BIN_DIR}"
}

main "$@"
