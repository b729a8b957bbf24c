#!/bin/bash
# Helpers shared by every remote script; the renderer inlines this file ahead of each script.
# When a script runs by hand from a checkout, it sources this file instead.

export AI4ARTSED_LIB=1

# err MESSAGE...: print to stderr, tagged with the script's step.
err() {
  printf '[%s] %s\n' "${STEP:-ai4artsed}" "$*" >&2
}

# log MESSAGE...: print progress to stdout, tagged with the script's step.
log() {
  printf '[%s] %s\n' "${STEP:-ai4artsed}" "$*"
}

# die MESSAGE...: print to stderr and stop the script.
die() {
  err "$@"
  exit 1
}

# require_vars NAME...: stop with a clear message when a parameter is missing.
require_vars() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "parameter ${name} is not set"
  done
}

# take_host_lock: one deploy step at a time per host, whichever stack or person runs it.
take_host_lock() {
  local lock_file="/run/lock/ai4artsed-deploy.lock"
  exec 9>"${lock_file}"
  if ! flock -w "${LOCK_TIMEOUT_SECONDS:-900}" 9; then
    die "another deploy has held ${lock_file} for ${LOCK_TIMEOUT_SECONDS:-900}s; wait for it or check 'fuser -v ${lock_file}'"
  fi
}

# hold_shared_lock: a backup and a restore of INSTALL_DIR/shared never overlap. Each holds a lock
# on the install dir itself (a directory needs no writable lock file, so the read-only backup
# unit can take it too), waiting up to SHARED_LOCK_TIMEOUT_SECONDS (an hour) for the other.
# Returns non-zero when the wait ran out.
hold_shared_lock() {
  exec 8<"${INSTALL_DIR}"
  flock -n 8 && return 0
  log "a backup or restore of ${INSTALL_DIR}/shared is running (fuser -v ${INSTALL_DIR}); waiting for it to end"
  flock -w "${SHARED_LOCK_TIMEOUT_SECONDS:-3600}" 8
}

# require_free_space DIR NEED_MB WHAT: stop before WHAT is built when DIR's filesystem has less
# than NEED_MB free (host.minFreeDiskMb), saying how much is free and what takes the room.
require_free_space() {
  local dir="$1" need="$2" what="$3" free mount
  free="$(df -Pm "${dir}" | awk 'NR == 2 { print $4 }')"
  ((free >= need)) && return 0
  mount="$(df -P "${dir}" | awk 'NR == 2 { print $6 }')"
  die "only ${free} MB are free on ${mount} (it holds ${dir}); building ${what} needs at least ${need} MB" \
    "(host.minFreeDiskMb). Nothing was switched. What takes the room:" \
    "$(du -sm "${INSTALL_DIR}"/releases "${INSTALL_DIR}"/venvs "${INSTALL_DIR}"/frontends "${INSTALL_DIR}"/backups \
      ${UV_CACHE:+"${UV_CACHE}"} /var/log/journal 2>/dev/null | sort -rn | awk '{ printf "%s %s MB;", $2, $1 }')" \
    "old releases and their venvs go with a lower app.keepReleases, backups with app.keepBackups," \
    "the journal with 'journalctl --vacuum-size'; or set host.minFreeDiskMb lower."
}

# install_if_changed MODE OWNER DEST: write stdin to DEST atomically when it differs.
# Returns 0 when DEST changed, 1 when it was already up to date.
install_if_changed() {
  local mode="$1" owner="$2" dest="$3"
  local tmp
  tmp="$(mktemp "${dest}.XXXXXX")"
  cat >"${tmp}"
  chmod "${mode}" "${tmp}"
  chown "${owner}" "${tmp}"
  if [[ -f "${dest}" ]] && cmp -s "${tmp}" "${dest}" \
    && [[ "$(stat -c '%a %U:%G' "${dest}")" == "$(stat -c '%a %U:%G' "${tmp}")" ]]; then
    rm -f "${tmp}"
    return 1
  fi
  mv -f "${tmp}" "${dest}"
  return 0
}

# switch_link TARGET LINK: point LINK at TARGET in one rename, never leaving LINK missing.
switch_link() {
  local target="$1" link="$2"
  ln -sfn "${target}" "${link}.next"
  mv -T "${link}.next" "${link}"
}
