#!/bin/bash
# Write what Prometheus cannot scrape itself, for the node exporter's textfile collector (run by
# its timer): each environment's last deploy (revisions.log), each off-host backup's last result
# and age, and the restarts of the app's units. Reads only; writes one file, atomically.
set -euo pipefail
STEP="${STEP:-monitoring-metrics}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# label VALUE: VALUE as a Prometheus label value (backslash, quote and newline escaped).
label() {
  local value="${1//\\/\\\\}"
  value="${value//\"/\\\"}"
  printf '"%s"' "${value//$'\n'/ }"
}

# deploy_metrics ENVIRONMENT INSTALL_DIR: the last deploy outcome in revisions.log (a release of
# the app, not of an extra service: those commits read <unit>@<commit>).
deploy_metrics() {
  local environment="$1" log_file="$2/revisions.log" line when commit result outcome
  [[ -f "${log_file}" ]] || return 0
  line="$(awk -F'\t' '$3 !~ /@/ && $4 ~ /^(ok|failed|reverted|adopted)/' "${log_file}" | tail -n 1)"
  [[ -n "${line}" ]] || return 0
  IFS=$'\t' read -r when _ commit result <<<"${line}"
  # A line edited by hand that names no time gives no figure, rather than no file at all.
  when="$(date -d "${when}" +%s 2>/dev/null)" || return 0
  outcome="${result%%[: ]*}"
  local labels
  labels="environment=$(label "${environment}"),commit=$(label "${commit:0:12}"),outcome=$(label "${outcome}")"
  printf 'ai4artsed_deploy_timestamp_seconds{%s} %s\n' "${labels}" "${when}"
  printf 'ai4artsed_deploy_ok{%s} %s\n' "${labels}" "$([[ "${outcome}" == ok || "${outcome}" == adopted ]] && echo 1 || echo 0)"
}

# backup_metrics STATE_FILE: an off-host backup's last result and last success.
backup_metrics() {
  local file="$1" unit result success
  unit="$(basename "${file}" .state)"
  result="$(sed -n 's/^last_result=//p' "${file}" | tail -n 1)"
  success="$(sed -n 's/^last_success=//p' "${file}" | tail -n 1)"
  [[ -n "${result}" ]] || return 0
  printf 'ai4artsed_backup_ok{unit=%s} %s\n' "$(label "${unit}")" "$([[ "${result}" == ok ]] && echo 1 || echo 0)"
  printf 'ai4artsed_backup_last_success_timestamp_seconds{unit=%s} %s\n' "$(label "${unit}")" "${success:-0}"
}

# unit_metrics: restarts and state of every loaded ai4artsed service that restarts itself.
unit_metrics() {
  local unit restarts active
  while read -r unit; do
    restarts="$(systemctl show -p NRestarts --value "${unit}")"
    [[ "${restarts}" =~ ^[0-9]+$ ]] || continue
    active="$(systemctl is-active "${unit}" || true)"
    printf 'ai4artsed_unit_restarts_total{unit=%s} %s\n' "$(label "${unit%.service}")" "${restarts}"
    printf 'ai4artsed_unit_active{unit=%s} %s\n' "$(label "${unit%.service}")" "$([[ "${active}" == active ]] && echo 1 || echo 0)"
  done < <(systemctl list-units --all --plain --no-legend --type=service 'ai4artsed-*' | awk '{ print $1 }')
}

main() {
  require_vars INSTALL_DIRS STATE_DIR TEXTFILE
  local pair file tmp
  mkdir -p "$(dirname "${TEXTFILE}")"
  tmp="$(mktemp "${TEXTFILE}.XXXXXX")"
  {
    echo "# HELP ai4artsed_deploy_ok 1 when the environment's last deploy served, 0 when it failed or was reverted."
    echo "# TYPE ai4artsed_deploy_ok gauge"
    for pair in ${INSTALL_DIRS}; do
      deploy_metrics "${pair%%=*}" "${pair#*=}"
    done
    echo "# HELP ai4artsed_backup_ok 1 when the last off-host backup succeeded."
    echo "# TYPE ai4artsed_backup_ok gauge"
    for file in "${STATE_DIR}"/*-offsite-backup.state; do
      [[ -f "${file}" ]] && backup_metrics "${file}"
    done
    echo "# HELP ai4artsed_unit_restarts_total Restarts systemd made of the unit since it was loaded."
    echo "# TYPE ai4artsed_unit_restarts_total counter"
    unit_metrics
    printf 'ai4artsed_metrics_timestamp_seconds %s\n' "$(date +%s)"
  } >"${tmp}"
  chmod 644 "${tmp}"
  mv -f "${tmp}" "${TEXTFILE}"
}

main "$@"
