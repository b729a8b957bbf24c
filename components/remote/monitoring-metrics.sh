#!/bin/bash
# Write what Prometheus cannot scrape itself, for the node exporter's textfile collector (run by
# its timer): each environment's last deploy (revisions.log), each off-host backup's last result
# and age, the restarts of the app's units, and each NVIDIA GPU's memory and load (nvidia-smi,
# which comes with the driver). Reads only; writes one file, atomically.
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

# gauge NAME LABELS VALUE [FACTOR]: one sample, VALUE times FACTOR; none when VALUE is no number
# (nvidia-smi says [N/A] for what a GPU does not report: no figure rather than a wrong one).
gauge() {
  local value="${3// /}"
  [[ "${value}" =~ ^[0-9.]+$ ]] || return 0
  awk -v n="$1" -v l="$2" -v v="${value}" -v f="${4:-1}" 'BEGIN { printf "%s{%s} %.15g\n", n, l, v * f }'
}

# gpu_metrics: each NVIDIA GPU's memory, load and temperature, when the driver's nvidia-smi is
# installed; ai4artsed_gpu_query_ok 0 when it is but cannot read the GPUs (a driver updated
# without a reboot: the GPU service cannot use them either).
gpu_metrics() {
  command -v nvidia-smi >/dev/null || return 0
  local table index name load used total temperature labels
  if ! table="$(nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu \
    --format=csv,noheader,nounits 2>/dev/null)"; then
    echo "ai4artsed_gpu_query_ok 0"
    return 0
  fi
  echo "ai4artsed_gpu_query_ok 1"
  while IFS=, read -r index name load used total temperature; do
    labels="gpu=$(label "${index// /}"),name=$(label "${name# }")"
    gauge ai4artsed_gpu_utilization_ratio "${labels}" "${load}" 0.01
    gauge ai4artsed_gpu_memory_used_bytes "${labels}" "${used}" 1048576
    gauge ai4artsed_gpu_memory_total_bytes "${labels}" "${total}" 1048576
    gauge ai4artsed_gpu_temperature_celsius "${labels}" "${temperature}"
  done <<<"${table}"
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
    echo "# HELP ai4artsed_gpu_memory_used_bytes GPU memory in use (nvidia-smi)."
    echo "# TYPE ai4artsed_gpu_memory_used_bytes gauge"
    gpu_metrics
    printf 'ai4artsed_metrics_timestamp_seconds %s\n' "$(date +%s)"
  } >"${tmp}"
  chmod 644 "${tmp}"
  mv -f "${tmp}" "${TEXTFILE}"
}

main "$@"
