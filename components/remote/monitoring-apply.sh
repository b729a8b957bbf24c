#!/bin/bash
# Install and start the host's monitoring (host.monitoring): Debian's Prometheus, node and blackbox
# exporters and Alertmanager, and with a webhook the alert relay; drop-ins run them on this program's files (installed before this
# step, so a package's first start already listens on 127.0.0.1 only). Debian's promtool and amtool
# check the files before a restart: a bad one never replaces a running Prometheus. One stack per
# host runs it (its record claims it, stackIdentity.ts). Safe to run twice: restarts only when a
# file changed or drift was repaired.
set -euo pipefail
STEP="${STEP:-monitoring}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/packages.sh
[[ -n "${AI4ARTSED_PACKAGES_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/packages.sh"

# check_configs: Debian's own checkers on the files the units will read.
check_configs() {
  local out
  out="$(promtool check config "${PROMETHEUS_CONFIG}" 2>&1)" || die "Prometheus refuses ${PROMETHEUS_CONFIG}: ${out}"
  out="$(amtool check-config "${ALERTMANAGER_CONFIG}" 2>&1)" || die "Alertmanager refuses ${ALERTMANAGER_CONFIG}: ${out}"
  out="$(prometheus-blackbox-exporter --config.check --config.file="${BLACKBOX_CONFIG}" 2>&1)" || die "the blackbox exporter refuses ${BLACKBOX_CONFIG}: ${out}"
}

# wait_ready UNIT URL: the unit runs and URL answers within a minute; else its journal tells why.
wait_ready() {
  local unit="$1" url="$2" i
  for ((i = 0; i < 120; i++)); do
    curl --silent --fail --max-time 2 --output /dev/null "${url}" && return 0
    sleep 0.5
  done
  die "${unit} did not answer ${url} within 60s: $(systemctl is-active "${unit}" || true);" \
    "its journal: $(journalctl -u "${unit}" -n 8 -o cat --no-pager | tr '\n' ' ')"
}

main() {
  require_vars APPLIED_FILE MONITORING_PACKAGES MONITORING_UNITS PROMETHEUS_URL ALERTMANAGER_URL PROMETHEUS_CONFIG ALERTMANAGER_CONFIG BLACKBOX_CONFIG CONFIG_DIGEST
  local -a packages units
  read -r -a packages <<<"${MONITORING_PACKAGES}"
  read -r -a units <<<"${MONITORING_UNITS}"
  take_host_lock
  # The drop-ins are in place: the packages' first start runs on them.
  systemctl daemon-reload
  install_packages "${packages[@]}"
  check_configs
  local wanted="${CONFIG_DIGEST} ${REPAIR:-0}"
  systemctl enable --quiet "${units[@]/%/.service}"
  if [[ "${PACKAGES_INSTALLED}" == yes || "$(cat "${APPLIED_FILE}" 2>/dev/null || true)" != "${wanted}" ]]; then
    systemctl restart "${units[@]/%/.service}"
    log "started ${units[*]} on their files in ${APPLIED_FILE%/*}"
  else
    systemctl start "${units[@]/%/.service}"
    log "${units[*]} up to date"
  fi
  wait_ready prometheus "${PROMETHEUS_URL}/-/ready"
  wait_ready prometheus-alertmanager "${ALERTMANAGER_URL}/-/ready"
  printf '%s\n' "${wanted}" >"${APPLIED_FILE}"
}

main "$@"
