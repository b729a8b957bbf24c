#!/bin/bash
# Converge ufw: deny incoming by default, SSH allowed before enabling, this stack's ports denied.
# Rules carry the stack's tag as comment, so each stack changes only its own.
set -euo pipefail
STEP="${STEP:-firewall}"
# shellcheck source=SCRIPTDIR/lib.sh
[[ -n "${AI4ARTSED_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/lib/firewall.sh
[[ -n "${AI4ARTSED_FIREWALL_LIB:-}" ]] || source "$(dirname "${BASH_SOURCE[0]}")/lib/firewall.sh"

ensure_base_policy() {
  if ! ufw status verbose | grep -q "^Default: deny (incoming)"; then
    ufw default deny incoming >/dev/null
    log "default incoming policy: deny"
  fi
  if ! tagged_rules "${SSH_RULE_TAG}" | grep -qx "allow ${SSH_PORT}/tcp"; then
    ufw allow "${SSH_PORT}/tcp" comment "${SSH_RULE_TAG}" >/dev/null
    log "allowed SSH on ${SSH_PORT}/tcp"
  fi
  if ! ufw status | grep -q "^Status: active"; then
    ufw --force enable >/dev/null
    log "ufw enabled"
  fi
}

# remove_foreign_rules: rules on this stack's ports that it did not make (e.g. an `ufw allow
# 17801` by hand) would open what the stack closes; they go.
remove_foreign_rules() {
  local port line
  local -a words
  for port in ${DENY_PORTS}; do
    while IFS= read -r line; do
      [[ -z "${line}" ]] && continue
      read -r -a words <<<"${line% comment *}"
      ufw delete "${words[@]:1}" >/dev/null
      log "removed rule not made by this stack: ${line}"
    done < <(rules_on_ports "${port}" | grep -vF "comment '${STACK_TAG}'" | grep -vF "comment '${SSH_RULE_TAG}'" || true)
  done
}

converge_stack_rules() {
  local -a wanted=()
  local port rule
  for port in ${DENY_PORTS}; do
    wanted+=("deny ${port}/tcp")
  done
  remove_foreign_rules
  while IFS= read -r rule; do
    [[ -z "${rule}" ]] && continue
    if ! printf '%s\n' "${wanted[@]}" | grep -qxF "${rule}"; then
      read -r -a words <<<"${rule}"
      ufw delete "${words[@]}" >/dev/null
      log "removed rule: ${rule}"
    fi
  done < <(tagged_rules "${STACK_TAG}")
  local existing
  existing="$(tagged_rules "${STACK_TAG}")"
  for rule in "${wanted[@]}"; do
    if ! grep -qxF "${rule}" <<<"${existing}"; then
      read -r -a words <<<"${rule}"
      ufw "${words[@]}" comment "${STACK_TAG}" >/dev/null
      log "added rule: ${rule}"
    fi
  done
}

remove_stack_rules() {
  local rule
  while IFS= read -r rule; do
    [[ -z "${rule}" ]] && continue
    read -r -a words <<<"${rule}"
    ufw delete "${words[@]}" >/dev/null
    log "removed rule: ${rule}"
  done < <(tagged_rules "${STACK_TAG}")
}

main() {
  require_vars STACK_TAG SSH_RULE_TAG SSH_PORT ACTION
  command -v ufw >/dev/null || die "ufw is not installed; the host step installs it"
  take_host_lock
  case "${ACTION}" in
    apply)
      ensure_base_policy
      converge_stack_rules
      ;;
    remove) remove_stack_rules ;;
    *) die "unknown ACTION ${ACTION}" ;;
  esac
}

main "$@"
