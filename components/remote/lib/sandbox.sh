#!/bin/bash
# Code from the package registries never runs as root: the builds (uv's fetch and source builds,
# the frontend's install and build), the import checks and the app's test command run as an
# unprivileged user in a transient unit, with the system read-only. Inlined after lib.sh by the
# renderer; sourced when a script runs by hand from a checkout.

export AI4ARTSED_SANDBOX_LIB=1

# sandboxed USER DIR [OPTION...] -- COMMAND...: COMMAND in DIR as USER (and its group), run by
# systemd as a transient unit: the whole system read-only (ProtectSystem=strict), home dirs
# hidden, a private /tmp, no new privileges, stdin and output passed through, at most
# SANDBOX_SECONDS seconds (default 600). OPTIONs are systemd-run's own (--setenv=...,
# --property=ReadWritePaths=...); the environment is only what they set, and PATH (SANDBOX_PATH,
# default the system's).
sandboxed() {
  local user="$1" dir="$2"
  local -a options=()
  shift 2
  while (($#)) && [[ "$1" != "--" ]]; do
    options+=("$1")
    shift
  done
  shift
  systemd-run --quiet --wait --pipe --collect --uid="${user}" --gid="$(id -gn "${user}")" \
    --working-directory="${dir}" --setenv=PATH="${SANDBOX_PATH:-/usr/local/bin:/usr/bin:/bin}" \
    --property=ProtectSystem=strict --property=ProtectHome=yes --property=PrivateTmp=yes \
    --property=NoNewPrivileges=yes --property=RuntimeMaxSec="${SANDBOX_SECONDS:-600}" \
    "${options[@]}" "$@"
}

# as_builder DIR WRITABLE [OPTION...] -- COMMAND...: COMMAND as the build user (BUILD_USER) in
# DIR, writing only below the space-separated WRITABLE paths (its build first, then its caches;
# HOME and TMPDIR are .home and .tmp in the first), with no sight of the stacks' settings and
# secrets (ENV_DIR), this stack's shared/ (the pupils' data, the app's keys) or its backups.
as_builder() {
  local dir="$1" writable="$2" own="${2%% *}"
  shift 2
  mkdir -p "${own}/.home" "${own}/.tmp"
  chown "${BUILD_USER}:" "${own}/.home" "${own}/.tmp"
  # A first install of a PyTorch stack downloads gigabytes: an hour, not the test command's ten minutes.
  SANDBOX_SECONDS=3600 sandboxed "${BUILD_USER}" "${dir}" --setenv=HOME="${own}/.home" --setenv=TMPDIR="${own}/.tmp" \
    --property=ReadWritePaths="${writable}" \
    --property=InaccessiblePaths="-${ENV_DIR} -${INSTALL_DIR}/shared -${INSTALL_DIR}/backups" "$@"
}
