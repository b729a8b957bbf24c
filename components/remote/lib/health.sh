#!/bin/bash
# shellcheck disable=SC2034  # HEALTH_FAILURE is read by the scripts this file is inlined into
# What "healthy" means, one definition for every caller: the deploy's gate, the watch window after
# the switch, a restore and the health monitor. Inlined after lib.sh by the renderer; sourced when
# a script runs by hand from a checkout. The callers differ only in their parameters.

export AI4ARTSED_HEALTH_LIB=1

# Why the last check said "unhealthy"; set by wait_healthy and watch_stable, read by their callers.
HEALTH_FAILURE=""

# probe_health URL [SOCKET] [MAX_TIME]: one request; 0 when URL answers 2xx within MAX_TIME
# seconds (default 5), through the unix SOCKET when one is given.
probe_health() {
  local url="$1" socket="${2:-}" max_time="${3:-5}"
  local -a through=()
  [[ -z "${socket}" ]] || through=(--unix-socket "${socket}")
  curl --silent --fail --output /dev/null --max-time "${max_time}" "${through[@]}" "${url}"
}

# unit_down UNIT: its process exited and systemd waits to restart it, gave up, or it is stopped.
unit_down() {
  local state
  state="$(systemctl show --property=ActiveState,SubState --value "$1" | paste -sd' ')"
  [[ "${state}" == "failed "* || "${state}" == *" auto-restart"* || "${state}" == "inactive "* ]]
}

# unit_exit UNIT: how its main process last ended, e.g. "exited with status 3" or "killed by signal KILL (oom-kill)".
unit_exit() {
  local code status result
  code="$(systemctl show -P ExecMainCode "$1")"
  status="$(systemctl show -P ExecMainStatus "$1")"
  result="$(systemctl show -P Result "$1")"
  case "${code}" in
    1) printf 'exited with status %s' "${status}" ;;
    2 | 3) printf 'killed by signal %s' "$(kill -l "${status}" 2>/dev/null || printf '%s' "${status}")" ;;
    *) printf 'stopped' ;;
  esac
  [[ -z "${result}" || "${result}" == success || "${result}" == exit-code || "${result}" == signal ]] || printf ' (%s)' "${result}"
}

# unit_run UNIT: what changes when the unit's process is replaced: main PID and restart count.
unit_run() {
  systemctl show --property=MainPID,NRestarts "$1" | LC_ALL=C sort | paste -sd' '
}

# wait_healthy TIMEOUT URL [SOCKET] [UNIT]: 0 once URL answers 2xx within TIMEOUT seconds; 1 when
# it does not, or when UNIT (if given) went down meanwhile, with HEALTH_FAILURE saying which.
wait_healthy() {
  local timeout="$1" url="$2" socket="${3:-}" unit="${4:-}"
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    probe_health "${url}" "${socket}" && return 0
    if [[ -n "${unit}" ]] && unit_down "${unit}"; then
      HEALTH_FAILURE="the service exited during startup"
      return 1
    fi
    # A starting app usually answers within a second: polling often lets it serve sooner.
    sleep 0.1
  done
  HEALTH_FAILURE="${url}${socket:+ through ${socket}} did not answer 2xx within ${timeout}s"
  return 1
}

# now_ms: wall-clock milliseconds.
now_ms() {
  printf '%s' "$((${EPOCHREALTIME/./} / 1000))"
}

# watch_stable SECONDS URL SOCKET UNIT: 0 when, for SECONDS after the switch, UNIT's process was
# never replaced and the release never failed WATCH_FAILED_PROBES probes in a row (default 3; one
# a second); 1 at the first sign otherwise, with HEALTH_FAILURE saying what failed and when. One
# slow answer under load is no failure; a release that hangs fails its probes in a row, and a
# window whose last probe failed goes on until one answers or the run is long enough. The unit
# is checked ten times a second, so a crash is seen within about 100 ms.
watch_stable() {
  local seconds="$1" url="$2" socket="$3" unit="$4" limit="${WATCH_FAILED_PROBES:-3}"
  ((seconds > 0)) || return 0
  local run started next_probe now elapsed probe_failed failed=0
  run="$(unit_run "${unit}")"
  started="$(now_ms)"
  next_probe="${started}"
  while now="$(now_ms)" && ((now - started < seconds * 1000 || failed > 0)); do
    elapsed="$(((now - started) / 1000))s"
    probe_failed=""
    if ((now >= next_probe)); then
      # A probe that failed because the process is dying names the death, the cause: systemd
      # notices an exit a moment after the socket closes.
      if probe_health "${url}" "${socket}"; then
        failed=0
      else
        probe_failed=yes
        failed=$((failed + 1))
        sleep 0.3
      fi
      next_probe=$((now + 1000))
    fi
    if unit_down "${unit}" || [[ "$(unit_run "${unit}")" != "${run}" ]]; then
      HEALTH_FAILURE="${unit} $(unit_exit "${unit}") ${elapsed} into the ${seconds}s watch window (at $(date -u +%H:%M:%SZ))"
      return 1
    fi
    if [[ -n "${probe_failed}" ]] && ((failed >= limit)); then
      HEALTH_FAILURE="the health probe ${url}${socket:+ through ${socket}} failed ${failed} times in a row, the last ${elapsed} into the ${seconds}s watch window (at $(date -u +%H:%M:%SZ))"
      return 1
    fi
    sleep 0.1
  done
  log "${unit} stayed healthy for the ${seconds}s watch window"
}
