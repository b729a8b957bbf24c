#!/bin/bash
# Builds a Go program from a wrapper module that pins it (go.mod/go.sum), caching the binary
# outside the repo and rebuilding only when the wrapper or the flags change. Sourced by
# scripts/ensure-pulumi.sh, tools/statestore/ensure-weed.sh and tools/cicd/ensure-ci-tools.sh,
# which set LOG_TAG (their name in the log), BUILD_DIR (the wrappers' folder), BUILD_TAGS, and
# BIN_DIR (where the binaries go, under GO_BUILD_CACHE), then call hold_bin_dir.

GO_BIN=""
TMP_FILE=""

# The cache the builds share, outside the repo; the sourcing scripts put BIN_DIR in it.
# shellcheck disable=SC2034
readonly GO_BUILD_CACHE="${AI4ARTSED_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/ai4artsed-deploy}"

err() {
  echo "[${LOG_TAG} $(date +%H:%M:%S)] $*" >&2
}

cleanup() {
  if [[ -n "${TMP_FILE}" ]]; then
    rm -f -- "${TMP_FILE}"
  fi
}

# hold_bin_dir: BIN_DIR exists and this script holds its lock until it exits (two test runs never
# build into it at once); its temporary file goes at exit.
hold_bin_dir() {
  trap cleanup EXIT
  mkdir -p -- "${BIN_DIR}"
  exec 9>"${BIN_DIR}/.lock"
  flock -n 9 || {
    err "another run is building into ${BIN_DIR}; waiting for it"
    flock 9
  }
}

# Sets GO_BIN, or exits when no Go toolchain is installed.
find_go() {
  if [[ -n "${GO_BIN}" ]]; then
    return 0
  fi
  if [[ -n "${GO:-}" ]]; then
    GO_BIN="${GO}"
  elif command -v go >/dev/null 2>&1; then
    GO_BIN="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO_BIN="/usr/local/go/bin/go"
  else
    err "Go is needed to build this but none was found (set GO=/path/to/go)."
    exit 1
  fi
}

# Prints a key for one build's inputs; a changed key means a rebuild.
build_key() {
  local wrapper="$1" pkg="$2" ldflags="$3"
  {
    printf '%s\n' "${pkg}" "${ldflags}" "${BUILD_TAGS}"
    cat -- "${BUILD_DIR}/${wrapper}/go.mod" "${BUILD_DIR}/${wrapper}/go.sum"
  } | sha256sum | cut -d ' ' -f 1
}

# Runs a command and reports to stderr every minute that it is still running.
run_with_heartbeat() {
  local label="$1"
  shift
  local parent="$$" rc=0
  # The sleep is killed with the loop: a leftover one would hold the caller's
  # stderr open and delay a `$(...)` or pipe reading this script for a minute.
  (
    elapsed=0
    sleeper=""
    trap 'kill "${sleeper}" 2>/dev/null; exit 0' TERM
    while true; do
      sleep 60 &
      sleeper=$!
      wait "${sleeper}"
      kill -0 "${parent}" 2>/dev/null || exit 0
      elapsed=$((elapsed + 1))
      err "  still building ${label} (${elapsed} min)"
    done
  ) >/dev/null &
  local heartbeat=$!
  "$@" || rc=$?
  kill "${heartbeat}" 2>/dev/null || true
  wait "${heartbeat}" 2>/dev/null || true
  return "${rc}"
}

# Builds package PKG of wrapper module WRAPPER into BIN_DIR/NAME unless an
# up-to-date build is there. Writes to a temporary file and renames it, so an
# interrupted build never leaves a partial binary.
ensure_go_binary() {
  local name="$1" wrapper="$2" pkg="$3" ldflags="$4" hint="$5"
  local out="${BIN_DIR}/${name}"
  local key
  key="$(build_key "${wrapper}" "${pkg}" "${ldflags}")"
  if [[ -x "${out}" && -f "${out}.key" && "$(<"${out}.key")" == "${key}" ]]; then
    err "${name}: cached"
    return 0
  fi
  find_go
  err "${name}: building ${pkg} (${hint})"
  local start="${SECONDS}"
  TMP_FILE="${out}.tmp.$$"
  if ! (cd -- "${BUILD_DIR}/${wrapper}" &&
    run_with_heartbeat "${name}" env CGO_ENABLED=0 GOWORK=off \
      GOFLAGS="-mod=readonly -buildvcs=false" \
      "${GO_BIN}" build -trimpath -tags "${BUILD_TAGS}" \
      -ldflags "${ldflags}" -o "${TMP_FILE}" "${pkg}"); then
    err "${name}: build failed"
    exit 1
  fi
  mv -f -- "${TMP_FILE}" "${out}"
  TMP_FILE=""
  printf '%s\n' "${key}" >"${out}.key"
  err "${name}: built in $((SECONDS - start)) s"
}

