#!/bin/bash
# The activation runs on the server as a transient unit of its own (DEPLOY_UNIT), independent of
# the SSH session that started it: a closed laptop, a dropped network or a restarted sshd change
# nothing about the deploy's outcome. The session follows the unit (progress on stdout as it
# comes, errors and the exit status when it ends); the run's status file (RUN_DIR/status) tells
# the next `pulumi preview` or `up` what happened when no session was left to tell it.
# Inlined after lib.sh by the renderer; sourced when a script runs by hand from a checkout.

export AI4ARTSED_DETACHED_LIB=1

# run_status KEY: the last value of KEY in the run's status file; empty when absent.
run_status() {
  sed -n "s/^$1=//p" "${RUN_DIR}/status" 2>/dev/null | tail -n 1
}

# add_run_status KEY=VALUE...: append to the status file; a later line of a key wins.
add_run_status() {
  printf '%s\n' "$@" >>"${RUN_DIR}/status"
}

# run_verdict: one line on how the last run ended, from its status and its last error line.
run_verdict() {
  local code
  code="$(run_status exit)"
  if [[ "${code}" == 0 ]]; then
    printf 'kept: %s serves on %s\n' "$(run_status commit)" \
      "$(sed -n 's/^@@result .*"servingUnit":"\([^"]*\)".*/\1/p' "${RUN_DIR}/output" 2>/dev/null | tail -n 1)"
  elif [[ -n "${code}" ]]; then
    printf 'failed: %s\n' "$(grep . "${RUN_DIR}/errors" 2>/dev/null | grep '^\[' | tail -n 1 | sed 's/^\[[^]]*\] //')"
  else
    printf 'ended without a verdict (the server stopped it: a reboot?); see journalctl -u %s\n' "${DEPLOY_UNIT}"
  fi
}

# wait_for_earlier_run: an activation of this stack still running (its `pulumi up` lost the
# connection) ends before this one starts; the unit's name is the stack's, so two never run at
# once. A unit that has ended is gone a moment later (--collect); one that lingers is let go.
wait_for_earlier_run() {
  local waited="" lingered=0 state
  while state="$(systemctl show --property=LoadState,ActiveState --value "${DEPLOY_UNIT}" | paste -sd' ')" \
    && [[ "${state}" != "not-found "* ]]; do
    case "${state#* }" in
      inactive | failed)
        # systemd collects an ended unit when it is idle, which a busy server may put off for a
        # long while; a reload lets it go at once, and removes a transient file that outlived it.
        if ((++lingered == 10)); then
          log "${DEPLOY_UNIT} has ended but is still loaded; reloading systemd to let it go"
          systemctl reset-failed "${DEPLOY_UNIT}" 2>/dev/null || true
          rm -f "/run/systemd/transient/${DEPLOY_UNIT}"
          systemctl daemon-reload
        fi
        ((lingered < 120)) || die "${DEPLOY_UNIT} has ended but stays loaded" \
          "($(systemctl show -P SubState,FragmentPath "${DEPLOY_UNIT}" | paste -sd' ')); 'systemctl stop ${DEPLOY_UNIT}', then run 'pulumi up' again"
        ;;
      *)
        # Running, or still starting or stopping (its last processes are being stopped).
        [[ -n "${waited}" ]] || log "the activation of $(run_status commit) started at $(run_status started) is still" \
          "${state#* } on the server (${DEPLOY_UNIT}); waiting for it to end"
        waited=yes
        ;;
    esac
    sleep 0.5
  done
  [[ -n "${waited}" ]] || return 0
  log "that activation $(run_verdict)"
  add_run_status reported=yes
}

# start_run: write this script's own text (bash -c's argument) and a fresh status, then start it
# as DEPLOY_UNIT with its output in RUN_DIR.
start_run() {
  local operator="${SUDO_USER:-${USER:-root}}"
  mkdir -p "${RUN_DIR}"
  chmod 700 "${RUN_DIR}"
  (
    umask 077
    printf '%s\n' "${BASH_EXECUTION_STRING}" >"${RUN_DIR}/activation.sh"
    : >"${RUN_DIR}/output"
    : >"${RUN_DIR}/errors"
    printf '%s\n' "commit=${COMMIT}" "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)" "by=${operator}${SSH_CLIENT:+ from ${SSH_CLIENT%% *}}" \
      "unit=${DEPLOY_UNIT}" >"${RUN_DIR}/status"
  )
  systemd-run --quiet --collect --unit="${DEPLOY_UNIT}" --description="Activate ${COMMIT} (ai4artsed deploy)" \
    --setenv=AI4ARTSED_INSIDE_RUN=1 --setenv=SUDO_USER="${operator}" \
    --property=StandardOutput="append:${RUN_DIR}/output" --property=StandardError="append:${RUN_DIR}/errors" \
    /bin/bash "${RUN_DIR}/activation.sh" \
    || die "could not start the activation as ${DEPLOY_UNIT}; see 'systemctl status ${DEPLOY_UNIT}'"
}

# ssh_connection: this SSH session's SSH_CONNECTION ("client-address client-port server-address
# server-port"), also where sudo left it out of the environment: then from the nearest process
# above that has it.
ssh_connection() {
  local pid="${BASHPID}" value
  while [[ -z "${SSH_CONNECTION:-}" ]] && ((pid > 1)); do
    value="$(tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')"
    [[ -z "${value}" ]] || {
      printf '%s\n' "${value}"
      return 0
    }
    pid="$(awk '{ print $4 }' "/proc/${pid}/stat")"
  done
  printf '%s\n' "${SSH_CONNECTION:-}"
}

# delivered: whether the client of this SSH session has received all that was sent to it: the
# session's TCP send queue empties within five seconds. After a network cut it never does (and a
# closed session has no socket), so the run stays unreported for the next one to tell.
delivered() {
  local client_port server_port queue tries=0
  read -r _ client_port _ server_port <<<"$(ssh_connection)"
  [[ -n "${server_port:-}" ]] || return 1
  sleep 0.3
  while ((tries++ < 50)); do
    queue="$(ss -Htn state established "( sport = :${server_port} and dport = :${client_port} )" | awk '{ print $2; exit }')"
    [[ -n "${queue}" ]] || return 1
    ((queue > 0)) || return 0
    sleep 0.1
  done
  return 1
}

# follow_run: print the unit's output as it comes until it ends, then its errors; exit with its status.
follow_run() {
  local output="${RUN_DIR}/output" offset=0 size ended=""
  while [[ -z "${ended}" ]]; do
    # Checked before the output is read, so everything the unit wrote is printed.
    if [[ -n "$(run_status exit)" ]] || ! systemctl is-active --quiet "${DEPLOY_UNIT}"; then
      ended=yes
    fi
    size="$(stat -c %s "${output}")"
    if ((size > offset)); then
      tail -c "+$((offset + 1))" "${output}" | head -c "$((size - offset))"
      offset="${size}"
    fi
    [[ -n "${ended}" ]] || sleep 0.2
  done
  cat "${RUN_DIR}/errors" >&2
  if delivered; then
    add_run_status reported=yes
  fi
  local code
  code="$(run_status exit)"
  [[ -n "${code}" ]] || die "the activation $(run_verdict)"
  exit "${code}"
}

# run_detached: outside the unit, start this very script as DEPLOY_UNIT, follow it and exit with
# its status; inside it, return (the script goes on with its work) and record how it ends. A
# script run by hand from a checkout has no text to hand over and works in the foreground.
run_detached() {
  if [[ -n "${AI4ARTSED_INSIDE_RUN:-}" ]]; then
    trap 'add_run_status "exit=$?" "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"' EXIT
    return 0
  fi
  [[ -n "${BASH_EXECUTION_STRING:-}" ]] || return 0
  require_vars DEPLOY_UNIT RUN_DIR COMMIT
  wait_for_earlier_run
  start_run
  follow_run
}

# report_last_run: a `last-activation` section when the last activation of this stack is still
# running, or ended with no session left to report it (its `pulumi up` lost the connection);
# nothing otherwise. Prints "state=running" or "state=ended" first.
report_last_run() {
  [[ -f "${RUN_DIR}/status" ]] || return 0
  local state=ended
  if systemctl is-active --quiet "${DEPLOY_UNIT}"; then
    state=running
  elif [[ "$(run_status reported)" == yes ]]; then
    return 0
  fi
  printf '@@ last-activation\n'
  printf '%s\n' "state=${state}" "commit=$(run_status commit)" "started=$(run_status started)" "by=$(run_status by)"
  [[ "${state}" == running ]] || printf '%s\n' "finished=$(run_status finished)" "verdict=$(run_verdict)"
}
