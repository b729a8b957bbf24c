#!/bin/bash
# Probe the app's health URL (run by its systemd timer); alert once per outage longer than the threshold, and once on recovery.
# A unit that crash-loops is down too, even when a probe happens to find it answering between crashes.
set -euo pipefail
STEP="${STEP:-health}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"
# shellcheck source=SCRIPTDIR/lib/colors.sh
[[ -n "${AI4ARTSED_COLORS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/colors.sh"

# alert_unit: with blue-green (SERVING_LINK set), the color serving now; else UNIT_NAME.
alert_unit() {
  local color=""
  [[ -z "${SERVING_LINK:-}" ]] || color="$(serving_color)"
  if [[ -n "${color}" ]]; then app_unit "${color}"; else printf '%s' "${UNIT_NAME}"; fi
}

# The checked unit and its process at the previous check ("<unit> MainPID=... NRestarts=..."),
# kept across runs in RESTARTS_FILE.
LAST_RUN=""

# healthy: the health URL answers, and the unit's process is the one the previous check saw
# (a crash-looping app answers between its crashes); HEALTH_FAILURE says which failed. A deploy
# replaces the process too: that costs one unhealthy check, never an alert, since an alert needs
# ALERT_AFTER_SECONDS of failed checks.
healthy() {
  local unit previous="${LAST_RUN}"
  unit="$(alert_unit)"
  LAST_RUN="${unit} $(unit_run "${unit}")"
  printf '%s\n' "${LAST_RUN}" >"${RESTARTS_FILE}"
  if ! probe_health "${HEALTH_URL}" "" 10; then
    HEALTH_FAILURE="${HEALTH_URL} has not answered 2xx"
    return 1
  fi
  if [[ "${previous%% *}" == "${unit}" && "${previous}" != "${LAST_RUN}" ]]; then
    HEALTH_FAILURE="it crash-loops: its process was replaced since the previous check (last it $(unit_exit "${unit}"))"
    return 1
  fi
}

# read_state: DOWN_SINCE (epoch seconds, empty while healthy) and ALERTED (yes/no) from STATE_FILE.
read_state() {
  DOWN_SINCE=""
  ALERTED="no"
  [[ -f "${STATE_FILE}" ]] || return 0
  DOWN_SINCE="$(sed -n 's/^down_since=\([0-9]*\)$/\1/p' "${STATE_FILE}")"
  ALERTED="$(sed -n 's/^alerted=\(yes\|no\)$/\1/p' "${STATE_FILE}")"
}

write_state() {
  local tmp
  tmp="$(mktemp "${STATE_FILE}.XXXXXX")"
  printf 'down_since=%s\nalerted=%s\n' "$1" "$2" >"${tmp}"
  mv -f "${tmp}" "${STATE_FILE}"
}

json_string() {
  local text="${1//\\/\\\\}"
  printf '"%s"' "${text//\"/\\\"}"
}

# announce PRIORITY STATE MESSAGE: one journal entry under ALERT_IDENTIFIER, and the webhook if configured.
announce() {
  local priority="$1" state="$2" message="$3"
  printf '%s\n' "${message}" | systemd-cat --identifier="${ALERT_IDENTIFIER}" --priority="${priority}"
  [[ -s "${WEBHOOK_FILE}" ]] || return 0
  local url payload
  url="$(head -n 1 "${WEBHOOK_FILE}")"
  payload="{\"text\":$(json_string "${message}"),\"state\":\"${state}\",\"service\":$(json_string "$(alert_unit)"),\"host\":$(json_string "$(hostname)")}"
  # The URL is a credential: curl reads it from its config on stdin, never from the command line.
  if ! printf 'url = "%s"\n' "${url}" | curl --silent --show-error --fail --max-time 15 --retry 2 --config - \
    --header 'Content-Type: application/json' --data-binary "${payload}" --output /dev/null; then
    err "the webhook POST for this ${state} message failed; the journal entry stands"
  fi
}

main() {
  require_vars UNIT_NAME HEALTH_URL ALERT_AFTER_SECONDS STATE_FILE RESTARTS_FILE WEBHOOK_FILE ALERT_IDENTIFIER
  mkdir -p "$(dirname "${STATE_FILE}")"
  read_state
  LAST_RUN="$(cat "${RESTARTS_FILE}" 2>/dev/null || true)"
  if healthy; then
    if [[ -n "${DOWN_SINCE}" && "${ALERTED}" == yes ]]; then
      announce notice recovered "$(alert_unit) recovered: ${HEALTH_URL} answers again after $(($(date +%s) - DOWN_SINCE))s down"
    elif [[ -n "${DOWN_SINCE}" ]]; then
      log "healthy again after $(($(date +%s) - DOWN_SINCE))s, below the ${ALERT_AFTER_SECONDS}s alert threshold"
    fi
    rm -f "${STATE_FILE}"
    return 0
  fi
  if [[ -z "${DOWN_SINCE}" ]]; then
    DOWN_SINCE="$(date +%s)"
    write_state "${DOWN_SINCE}" no
    log "${HEALTH_FAILURE}; alerting if it stays down ${ALERT_AFTER_SECONDS}s"
  fi
  [[ "${ALERTED}" == yes ]] && return 0
  # Confirm within this run, so an outage is reported ALERT_AFTER_SECONDS after it was seen, not an interval later.
  local remaining
  while remaining=$((DOWN_SINCE + ALERT_AFTER_SECONDS - $(date +%s))) && ((remaining > 0)); do
    sleep "$((remaining < 10 ? remaining : 10))"
    if healthy; then
      log "healthy again within the ${ALERT_AFTER_SECONDS}s alert threshold"
      rm -f "${STATE_FILE}"
      return 0
    fi
  done
  # Recorded before announcing: a slow webhook never leads to a second alert.
  write_state "${DOWN_SINCE}" yes
  local unit
  unit="$(alert_unit)"
  announce err down "${unit} is down: ${HEALTH_FAILURE} for $(($(date +%s) - DOWN_SINCE))s (since $(date -u -d "@${DOWN_SINCE}" +%Y-%m-%dT%H:%M:%SZ)); the unit is $(systemctl is-active "${unit}" || true). Check 'systemctl status ${unit}' and 'journalctl -u ${unit}'."
}

main "$@"
