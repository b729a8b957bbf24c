#!/bin/bash
# Probe the app's health URL (run by its systemd timer); alert once per outage longer than the
# threshold, remind while it lasts, and tell the recovery once.
# A unit that crash-loops is down too, even when a probe happens to find it answering between crashes.
set -euo pipefail
STEP="${STEP:-health}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/health.sh
[[ -n "${AI4ARTSED_HEALTH_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/health.sh"
# shellcheck source=SCRIPTDIR/lib/colors.sh
[[ -n "${AI4ARTSED_COLORS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/colors.sh"
# shellcheck source=SCRIPTDIR/lib/state.sh
[[ -n "${AI4ARTSED_STATE_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/state.sh"

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

# read_state: DOWN_SINCE (epoch seconds, empty while healthy), ALERTED (yes/no) and ALERTED_AT
# (epoch seconds of the last alert or reminder) from STATE_FILE.
read_state() {
  DOWN_SINCE="$(state_value "${STATE_FILE}" down_since)"
  ALERTED="$(state_value "${STATE_FILE}" alerted)"
  ALERTED_AT="$(state_value "${STATE_FILE}" alerted_at)"
}

# write_state DOWN_SINCE ALERTED [ALERTED_AT]
write_state() {
  set_state "${STATE_FILE}" "down_since=$1" "alerted=$2" "alerted_at=${3:-}"
}

# json_string TEXT: TEXT as a JSON string; control characters (a \r from ssh's messages) escaped or dropped.
json_string() {
  local text="${1//\\/\\\\}"
  text="${text//\"/\\\"}"
  text="${text//$'\n'/\\n}"
  text="${text//$'\r'/\\r}"
  text="${text//$'\t'/\\t}"
  printf '"%s"' "$(printf '%s' "${text}" | tr -d '\000-\010\013\014\016-\037')"
}

# announce PRIORITY STATE MESSAGE [SERVICE]: one journal entry under ALERT_IDENTIFIER, and with a
# webhook one POST, queued first in OUTBOX_FILE so that one the webhook did not take is sent again
# at the next probe, in order.
announce() {
  local priority="$1" state="$2" message="$3" service="${4:-}"
  printf '%s\n' "${message}" | systemd-cat --identifier="${ALERT_IDENTIFIER}" --priority="${priority}"
  [[ -s "${WEBHOOK_FILE}" ]] || return 0
  if alertmanager_sends; then
    log "the webhook hears of it from Alertmanager (host.monitoring), not from this probe"
    return 0
  fi
  printf '{"text":%s,"state":"%s","service":%s,"host":%s,"at":"%s"}\n' "$(json_string "${message}")" "${state}" \
    "$(json_string "${service:-$(alert_unit)}")" "$(json_string "$(hostname)")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${OUTBOX_FILE}"
  deliver_outbox
}

# alertmanager_sends: the host's monitoring (host.monitoring) runs with a webhook: its rules
# alert on the same outages, so the probe leaves the webhook to it and one outage alerts once.
alertmanager_sends() {
  [[ -s "${ALERTMANAGER_WEBHOOK_FILE}" ]] && systemctl is-active --quiet prometheus.service prometheus-alertmanager.service
}

# deliver_outbox: POST the queued messages, oldest first; the first one refused stays with those
# after it for the next probe.
deliver_outbox() {
  [[ -s "${OUTBOX_FILE}" ]] || return 0
  if [[ ! -s "${WEBHOOK_FILE}" ]]; then
    rm -f "${OUTBOX_FILE}" # monitor.webhookUrl was unset: nobody to deliver to
    return 0
  fi
  local url payload sent=0 total
  url="$(head -n 1 "${WEBHOOK_FILE}")"
  total="$(grep -c . "${OUTBOX_FILE}")"
  while IFS= read -r payload; do
    # The URL is a credential: curl reads it from its config on stdin, never from the command line.
    if ! printf 'url = "%s"\n' "${url}" | curl --silent --show-error --fail --max-time 15 --retry 2 --retry-connrefused \
      --config - --header 'Content-Type: application/json' --data-binary "${payload}" --output /dev/null; then
      break
    fi
    sent=$((sent + 1))
  done <"${OUTBOX_FILE}"
  if ((sent == total)); then
    rm -f "${OUTBOX_FILE}"
    return 0
  fi
  local rest
  rest="$(mktemp "${OUTBOX_FILE}.XXXXXX")"
  tail -n "+$((sent + 1))" "${OUTBOX_FILE}" >"${rest}"
  mv -f "${rest}" "${OUTBOX_FILE}"
  err "the webhook did not take $((total - sent)) message(s); the journal entries stand, and the next probe sends them again"
}

# reminder_due LAST: a problem alerted at LAST (epoch seconds) is due a reminder
# (REMIND_EVERY_SECONDS, 0 for never).
reminder_due() {
  ((REMIND_EVERY_SECONDS > 0)) && (($(date +%s) - ${1:-0} >= REMIND_EVERY_SECONDS))
}

# since_text EPOCH: "2026-01-31T08:00:00Z, 26h ago".
since_text() {
  printf '%s, %sh ago' "$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ)" "$((($(date +%s) - $1) / 3600))"
}

main() {
  require_vars UNIT_NAME HEALTH_URL ALERT_AFTER_SECONDS REMIND_EVERY_SECONDS STATE_FILE RESTARTS_FILE WEBHOOK_FILE OUTBOX_FILE ALERT_IDENTIFIER ALERTMANAGER_WEBHOOK_FILE
  mkdir -p "$(dirname "${STATE_FILE}")"
  deliver_outbox
  # The off-host backup's age and result (lib/offsite-alert.sh), before the app's probe can wait.
  [[ -z "${OFFSITE_STATE_FILE:-}" ]] || check_offsite_backup
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
  if [[ "${ALERTED}" == yes ]]; then
    # An outage that lasts is told again every REMIND_EVERY_SECONDS (an alert before this setting
    # has no time: it counts from now).
    if [[ -z "${ALERTED_AT}" ]]; then
      write_state "${DOWN_SINCE}" yes "$(date +%s)"
    elif reminder_due "${ALERTED_AT}"; then
      write_state "${DOWN_SINCE}" yes "$(date +%s)"
      local unit
      unit="$(alert_unit)"
      announce err down "${unit} is still down: ${HEALTH_FAILURE} (down since $(since_text "${DOWN_SINCE}")); the unit is $(systemctl is-active "${unit}" || true). Check 'systemctl status ${unit}' and 'journalctl -u ${unit}'."
    fi
    return 0
  fi
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
  write_state "${DOWN_SINCE}" yes "$(date +%s)"
  local unit
  unit="$(alert_unit)"
  announce err down "${unit} is down: ${HEALTH_FAILURE} for $(($(date +%s) - DOWN_SINCE))s (since $(date -u -d "@${DOWN_SINCE}" +%Y-%m-%dT%H:%M:%SZ)); the unit is $(systemctl is-active "${unit}" || true). Check 'systemctl status ${unit}' and 'journalctl -u ${unit}'."
}

main "$@"
