#!/bin/bash
# KEY=VALUE state files (one value a line) kept in /var/lib/ai4artsed: the off-host backup's
# result, and the monitor's alert state for the app and for that backup. Inlined by the renderer; sourced by hand otherwise.

export AI4ARTSED_STATE_LIB=1

# state_value FILE KEY: the value of KEY in FILE, empty when either is absent.
state_value() {
  [[ -f "$1" ]] || return 0
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

# set_state FILE KEY=VALUE...: set those keys (newlines in a value become spaces), keep the others; atomic.
set_state() {
  local file="$1"
  shift
  local pair pattern=""
  for pair in "$@"; do
    pattern="${pattern:+${pattern}|}${pair%%=*}"
  done
  mkdir -p "$(dirname "${file}")"
  local tmp
  tmp="$(mktemp "${file}.XXXXXX")"
  {
    [[ ! -f "${file}" ]] || grep -v -E "^(${pattern})=" "${file}" || true
    for pair in "$@"; do
      printf '%s\n' "${pair//$'\n'/ }"
    done
  } >"${tmp}"
  chmod 644 "${tmp}"
  mv -f "${tmp}" "${file}"
}
