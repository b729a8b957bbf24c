#!/bin/bash
# The health monitor's check of the off-host backup: an alert when the last backup failed or the
# last good one is older than OFFSITE_MAX_AGE_HOURS, a reminder while that lasts, one message when
# it is good again.
# Inlined into the health probe, which defines announce, reminder_due and since_text.

# offsite_problem NOW: what is wrong with the off-host backup, or nothing.
offsite_problem() {
  local now="$1" result success since
  result="$(state_value "${OFFSITE_STATE_FILE}" last_result)"
  success="$(state_value "${OFFSITE_STATE_FILE}" last_success)"
  since="$(state_value "${OFFSITE_ALERT_FILE}" watched_since)"
  local reference="${success:-${since}}"
  if [[ "${result}" == failed ]]; then
    printf 'the off-host backup of %s failed (%s, see journalctl -u %s): %s' "${OFFSITE_STACK}" \
      "$(date -u -d "@$(state_value "${OFFSITE_STATE_FILE}" last_attempt)" +%Y-%m-%dT%H:%M:%SZ)" "${OFFSITE_UNIT}" \
      "$(state_value "${OFFSITE_STATE_FILE}" last_message)"
  elif ((now - reference > OFFSITE_MAX_AGE_HOURS * 3600)); then
    printf 'the off-host backup of %s is stale: %s, more than backup.offsite.maxAgeHours (%s); check systemctl list-timers %s.timer and journalctl -u %s' \
      "${OFFSITE_STACK}" "$([[ -n "${success}" ]] && echo "the last good one is $(((now - success) / 3600))h old" || echo "no good backup since the monitor started watching $(((now - since) / 3600))h ago")" \
      "${OFFSITE_MAX_AGE_HOURS}h" "${OFFSITE_UNIT}" "${OFFSITE_UNIT}"
  fi
}

check_offsite_backup() {
  local now problem
  now="$(date +%s)"
  [[ -n "$(state_value "${OFFSITE_ALERT_FILE}" watched_since)" ]] || set_state "${OFFSITE_ALERT_FILE}" "watched_since=${now}" alerted=no
  problem="$(offsite_problem "${now}")"
  local alerted
  alerted="$(state_value "${OFFSITE_ALERT_FILE}" alerted)"
  if [[ -n "${problem}" && "${alerted}" != yes ]]; then
    # Recorded before announcing: a slow webhook never leads to a second alert.
    set_state "${OFFSITE_ALERT_FILE}" alerted=yes "alerted_at=${now}" "problem_since=${now}"
    announce err down "${problem}" "${OFFSITE_UNIT}.service"
  elif [[ -n "${problem}" ]]; then
    local alerted_at first
    alerted_at="$(state_value "${OFFSITE_ALERT_FILE}" alerted_at)"
    first="$(state_value "${OFFSITE_ALERT_FILE}" problem_since)"
    # An alert from before reminders has no time: it counts from now.
    if [[ -z "${alerted_at}" ]]; then
      set_state "${OFFSITE_ALERT_FILE}" "alerted_at=${now}" "problem_since=${now}"
    elif reminder_due "${alerted_at}"; then
      set_state "${OFFSITE_ALERT_FILE}" "alerted_at=${now}"
      announce err down "still: ${problem} (first alerted ${first:+$(since_text "${first}")})" "${OFFSITE_UNIT}.service"
    fi
  elif [[ -z "${problem}" && "${alerted}" == yes ]]; then
    set_state "${OFFSITE_ALERT_FILE}" alerted=no
    announce notice recovered "the off-host backup of ${OFFSITE_STACK} recovered: $(state_value "${OFFSITE_STATE_FILE}" last_message)" "${OFFSITE_UNIT}.service"
  fi
}
