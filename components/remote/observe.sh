#!/bin/bash
# Print what the server has of everything a stack owns, one "@@ <section>" block each, so
# preview compares it with what the stack wants. Reads only; prints no secret.
set -euo pipefail
STEP="${STEP:-observe}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/colors.sh
[[ -n "${AI4ARTSED_COLORS_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/colors.sh"
# shellcheck source=SCRIPTDIR/lib/firewall.sh
[[ -n "${AI4ARTSED_FIREWALL_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/firewall.sh"
# shellcheck source=SCRIPTDIR/lib/detached.sh
[[ -n "${AI4ARTSED_DETACHED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/detached.sh"

section() {
  printf '@@ %s\n' "$1"
}

file_or_missing() {
  if [[ -f "$1" ]]; then cat "$1"; else echo "<missing>"; fi
}

observe_environment_file() {
  if [[ -f "${ENV_FILE}" ]]; then
    printf '%s sha256:%s\n' "$(stat -c '%a %U:%G' "${ENV_FILE}")" "$(sha256sum <"${ENV_FILE}" | cut -d' ' -f1)"
  else
    echo "<missing>"
  fi
}

# unit_state: "<active> <enabled>"; is-enabled prints "disabled" and fails, prints nothing for no unit.
unit_state() {
  local active enabled
  active="$(systemctl is-active "$1" || true)"
  enabled="$(systemctl is-enabled "$1" 2>/dev/null || true)"
  printf '%s %s' "${active}" "${enabled:-missing}"
}

# observe_service: the unit; with blue-green (SERVING_LINK set) the proxy, then the serving color.
observe_service() {
  unit_state "${UNIT_NAME}"
  if [[ -n "${SERVING_LINK:-}" ]]; then
    local color
    color="$(serving_color)"
    if [[ -n "${color}" ]]; then printf '; serving color %s' "$(unit_state "$(app_unit "${color}")")"; else printf '; no serving color'; fi
  fi
  echo
}

# files_or_missing LIST: each file of a space-separated list, one after the other.
files_or_missing() {
  local file
  for file in $1; do
    file_or_missing "${file}"
  done
}

# observe_firewall: status, incoming policy, and every rule on this stack's ports or SSH.
observe_firewall() {
  if ! command -v ufw >/dev/null; then
    echo "<missing>"
    return 0
  fi
  ufw status | sed -n 's/^Status: /status: /p'
  ufw status verbose | sed -n 's/^Default: \([a-z]*\) (incoming).*/incoming: \1/p'
  rules_on_ports "${DENY_PORTS}"
}

# observe_monitor UNIT FILES: a health timer's state, then its three files (probe, service, timer) in a row.
observe_monitor() {
  unit_state "$1.timer"
  echo
  files_or_missing "$2"
}

# observe_extra_services: each extra service this stack runs (EXTRA_SERVICES, `<name> <unit>
# <unit file>` a line): its unit file and its state; and each one's monitor (EXTRA_MONITORS,
# `<monitor unit> <files>` a line).
observe_extra_services() {
  local name unit file files
  while read -r name unit file; do
    [[ -n "${name}" ]] || continue
    section "extra-unit:${name}"
    file_or_missing "${file}"
    section "extra-service:${name}"
    unit_state "${unit}"
    echo
  done <<<"${EXTRA_SERVICES:-}"
  while read -r unit files; do
    [[ -n "${unit}" ]] || continue
    section "monitor:${unit}"
    observe_monitor "${unit}" "${files}"
  done <<<"${EXTRA_MONITORS:-}"
}

observe_venvs() {
  local venv
  for venv in "${INSTALL_DIR}"/venvs/*/; do
    [[ -d "${venv}" ]] || continue
    if [[ -f "${venv}.complete" ]]; then
      printf '%s complete\n' "$(basename "${venv}")"
    fi
    if [[ -f "${venv}.built-from-record" ]]; then
      printf '%s built-from-record\n' "$(basename "${venv}")"
    fi
  done
}

# observe_monitoring: each unit of the host's monitoring and its state, then its files.
observe_monitoring() {
  local unit
  for unit in ${MONITORING_OBSERVE_UNITS}; do
    printf '%s %s\n' "${unit}" "$(unit_state "${unit}")"
  done
  files_or_missing "${MONITORING_OBSERVE_FILES}"
}

main() {
  require_vars INSTALL_DIR UNIT_NAME UNIT_FILE ENV_FILE DENY_PORTS SSH_RULE_TAG JOURNALD_DROPIN RUN_DIR DEPLOY_UNIT
  section unit
  files_or_missing "${UNIT_FILE}"
  section environment
  observe_environment_file
  section service
  observe_service
  section current
  readlink "${INSTALL_DIR}/current" || echo "<missing>"
  section firewall
  observe_firewall
  section journald
  file_or_missing "${JOURNALD_DROPIN}"
  section venvs
  observe_venvs
  section layout
  file_or_missing "${INSTALL_DIR}/.layout-id"
  if [[ -n "${MONITOR_UNIT:-}" ]]; then
    section monitor
    observe_monitor "${MONITOR_UNIT}" "${MONITOR_FILES}"
  fi
  if [[ -n "${MONITORING_OBSERVE_UNITS:-}" ]]; then
    section monitoring
    observe_monitoring
  fi
  observe_extra_services
  [[ -z "${OFFSITE_UNIT:-}" ]] || observe_offsite_backup # lib/offsite-observe.sh
  report_last_run # lib/detached.sh
}

main "$@"
