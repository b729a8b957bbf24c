#!/bin/bash
# testserver: Each server's identity and access: hostname, machine id, resolver, SSH host and client keys, and the env file that hands them to callers.
# Sourced by testserver.sh, which sets the constants and run globals these functions use.
# shellcheck disable=SC2154,SC2034  # the run globals are shared across these parts

#######################################
# Writes the per-run files into the (overlay-mounted) guest root and the
# run dir: hostname, machine id, resolv.conf, SSH host and client keys.
#######################################
prepare_guest() {
  local resolv="/etc/resolv.conf"
  echo "${NAME}" >"${ROOT_DIR}/etc/hostname"
  printf '127.0.1.1\t%s\n' "${NAME}" >>"${ROOT_DIR}/etc/hosts"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"${ROOT_DIR}/etc/machine-id"
  echo >>"${ROOT_DIR}/etc/machine-id"
  # A host stub resolver on loopback is useless in the guest's netns.
  if grep -qE '^nameserver[[:space:]]+127\.' "${resolv}" 2>/dev/null &&
    [[ -f /run/systemd/resolve/resolv.conf ]]; then
    resolv="/run/systemd/resolve/resolv.conf"
  fi
  rm -f "${ROOT_DIR}/etc/resolv.conf"
  cp -L "${resolv}" "${ROOT_DIR}/etc/resolv.conf"
  chmod 0644 "${ROOT_DIR}/etc/resolv.conf"

  ssh-keygen -q -A -f "${ROOT_DIR}" >/dev/null
  ssh-keygen -q -t ed25519 -N '' -C "ai4artsed-testserver-${NAME}" \
    -f "${RUN_DIR}/id_ed25519"
  install -d -m 0700 "${ROOT_DIR}/root/.ssh"
  install -m 0600 "${RUN_DIR}/id_ed25519.pub" \
    "${ROOT_DIR}/root/.ssh/authorized_keys"

  local key_type key_data
  read -r key_type key_data _ <"${ROOT_DIR}/etc/ssh/ssh_host_ed25519_key.pub"
  echo "${key_type} ${key_data}" >"${RUN_DIR}/host_key.pub"
  echo "${GUEST_IP} ${key_type} ${key_data}" >"${RUN_DIR}/known_hosts"
}

# Sets SSH_ARGS to the ssh client arguments for the run.
set_ssh_args() {
  SSH_ARGS=(
    -F none -i "${RUN_DIR}/id_ed25519" -p "${SSH_PORT}"
    -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
    -o "UserKnownHostsFile=${RUN_DIR}/known_hosts"
    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR
    -o ConnectTimeout=5 -o ServerAliveInterval=15
  )
}

# Prints NAME='value' with the value single-quoted for sh.
env_line() {
  local q="'\\''"
  printf "%s='%s'\n" "$1" "${2//\'/${q}}"
}

write_env() {
  {
    env_line TESTSERVER_NAME "${NAME}"
    env_line TESTSERVER_ADDRESS "${GUEST_IP}"
    env_line TESTSERVER_SSH_PORT "${SSH_PORT}"
    env_line TESTSERVER_USER root
    env_line TESTSERVER_KEY_FILE "${RUN_DIR}/id_ed25519"
    env_line TESTSERVER_HOST_KEY "$(<"${RUN_DIR}/host_key.pub")"
    env_line TESTSERVER_KNOWN_HOSTS "${RUN_DIR}/known_hosts"
  } >"${RUN_DIR}/env.tmp"
  mv -f "${RUN_DIR}/env.tmp" "${RUN_DIR}/env"
}
