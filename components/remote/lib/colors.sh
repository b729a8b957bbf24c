#!/bin/bash
# Helpers for the blue-green colors: names, start, probe, watch, drain, stop. Inlined after lib.sh
# (and lib/health.sh, for the callers that probe) by the renderer; sourced when a script runs by
# hand from a checkout.
# Parameters: APP_TEMPLATE, BRIDGE_TEMPLATE, SOCKET_PREFIX, SERVING_LINK, COLOR_LINK_PREFIX,
# HEALTH_PATH, HEALTH_TIMEOUT_SECONDS, STABLE_SECONDS, DRAIN_TIMEOUT_SECONDS, DRAIN_PREFIX,
# DRAIN_PROGRAM_PREFIX.

export AI4ARTSED_COLORS_LIB=1

app_unit() { printf '%s%s.service' "${APP_TEMPLATE}" "$1"; }
bridge_socket() { printf '%s%s.socket' "${BRIDGE_TEMPLATE}" "$1"; }
bridge_service() { printf '%s%s.service' "${BRIDGE_TEMPLATE}" "$1"; }
color_socket() { printf '%s%s.sock' "${SOCKET_PREFIX}" "$1"; }
color_link() { printf '%s%s' "${COLOR_LINK_PREFIX}" "$1"; }
drain_unit() { printf '%s%s.service' "${DRAIN_PREFIX}" "$1"; }

other_color() {
  if [[ "$1" == blue ]]; then echo green; else echo blue; fi
}

# serving_color: the color the serving link names; empty when there is none.
serving_color() {
  local target
  target="$(readlink "${SERVING_LINK}" 2>/dev/null || true)"
  target="${target%.sock}"
  case "${target##*-}" in
    blue | green) printf '%s' "${target##*-}" ;;
  esac
}

# color_health_url: the health path as asked through a color's socket.
color_health_url() { printf 'http://localhost%s' "${HEALTH_PATH}"; }

# wait_color_healthy COLOR: 0 when healthy through its own socket within the timeout; else 1
# with HEALTH_FAILURE set.
wait_color_healthy() {
  wait_healthy "${HEALTH_TIMEOUT_SECONDS}" "$(color_health_url)" "$(color_socket "$1")" "$(app_unit "$1")"
}

# watch_color COLOR: the color stays healthy through its own socket for STABLE_SECONDS.
watch_color() {
  watch_stable "${STABLE_SECONDS}" "$(color_health_url)" "$(color_socket "$1")" "$(app_unit "$1")"
}

# start_color COLOR RELEASE: point the color at the release and start it with its socket.
start_color() {
  switch_link "$2" "$(color_link "$1")"
  systemctl reset-failed "$(app_unit "$1")" 2>/dev/null || true
  systemctl start "$(app_unit "$1")" "$(bridge_socket "$1")"
}

# stop_color COLOR: socket first (nothing new arrives), then bridge and app; not started at boot.
stop_color() {
  systemctl disable --quiet "$(app_unit "$1")" "$(bridge_socket "$1")" 2>/dev/null || true
  systemctl stop "$(bridge_socket "$1")" "$(bridge_service "$1")" "$(app_unit "$1")"
}

# open_requests COLOR: connections the color's socket has accepted and not yet closed.
open_requests() {
  ss -xHn state connected src "$(color_socket "$1")" | wc -l
}

# drain_color COLOR: wait until the color has no request in flight (at most
# DRAIN_TIMEOUT_SECONDS), then stop it.
drain_color() {
  local deadline=$((SECONDS + DRAIN_TIMEOUT_SECONDS)) open started="${EPOCHREALTIME/./}"
  sleep 1
  open="$(open_requests "$1")"
  while ((open > 0 && SECONDS < deadline)); do
    sleep 0.5
    open="$(open_requests "$1")"
  done
  if ((open > 0)); then
    err "$(app_unit "$1") still had ${open} request(s) in flight after ${DRAIN_TIMEOUT_SECONDS}s; stopping it anyway"
  else
    log "$(app_unit "$1") drained in $(((${EPOCHREALTIME/./} - started) / 1000)) ms"
  fi
  stop_color "$1"
}

# drain_in_background COLOR: the deploy returns as soon as traffic has moved; a transient unit
# drains the retired color (drain_color) and stops it. The unit runs a file written here, not a
# command line, because systemd expands $ and % in command lines. Draining in the foreground
# instead when systemd-run fails.
drain_in_background() {
  local program="${DRAIN_PROGRAM_PREFIX}$1.sh"
  (
    umask 077
    printf '%s\n' "set -euo pipefail" "$(declare -p STEP APP_TEMPLATE BRIDGE_TEMPLATE SOCKET_PREFIX DRAIN_TIMEOUT_SECONDS)" \
      "$(declare -f err log app_unit bridge_socket bridge_service color_socket open_requests stop_color drain_color)" \
      "drain_color $(printf '%q' "$1")" >"${program}"
  )
  if systemd-run --quiet --collect --unit="$(drain_unit "$1")" --description="Drain $(app_unit "$1")" \
    --property=RuntimeMaxSec="$((DRAIN_TIMEOUT_SECONDS + 120))" /bin/bash "${program}"; then
    log "$(app_unit "$1") drains in the background, at most ${DRAIN_TIMEOUT_SECONDS}s: journalctl -u $(drain_unit "$1")"
  else
    err "could not start $(drain_unit "$1"); draining $(app_unit "$1") before returning"
    drain_color "$1"
  fi
}

# wait_drained COLOR: a color still draining from the last deploy finishes before it is reused.
wait_drained() {
  systemctl is-active --quiet "$(drain_unit "$1")" || return 0
  log "waiting for $(app_unit "$1") to finish draining ($(drain_unit "$1"))"
  while systemctl is-active --quiet "$(drain_unit "$1")"; do
    sleep 0.5
  done
}
