#!/bin/bash
# testserver: The cached base image: debootstrap, the baked-in configuration, its read-only protection.
# Sourced by testserver.sh, which sets the constants and run globals these functions use.
# shellcheck disable=SC2154,SC2034  # the run globals are shared across these parts

image_ok() {
  [[ -f "${IMAGE_DIR}/${STAMP_FILE}" ]] &&
    [[ "$(<"${IMAGE_DIR}/${STAMP_FILE}")" == "${IMAGE_VERSION}" ]]
}

#######################################
# Runs a command inside an unbooted image tree (host network).
# Arguments:
#   $1: image root; remaining: command.
#######################################
run_in_image() {
  local root="$1"
  shift
  systemd-nspawn -q -D "${root}" --register=no --keep-unit --pipe \
    --resolv-conf=bind-host --timezone=off --link-journal=no \
    -E DEBIAN_FRONTEND=noninteractive -E LC_ALL=C.UTF-8 -- "$@" </dev/null
}

#######################################
# Bakes CA trust, Node.js/npm, sshd policy and generic defaults into a
# freshly debootstrapped tree.
# Arguments:
#   $1: image root.
#######################################
configure_image() {
  local root="$1"
  local -a certs=()

  # Trust the machine's extra CAs (the registries are reached through them).
  install -d -m 0755 "${root}${HOST_CA_DIR}"
  if [[ -d "${HOST_CA_DIR}" ]]; then
    mapfile -t certs < <(find "${HOST_CA_DIR}" -maxdepth 1 -name '*.crt' -type f)
  fi
  if ((${#certs[@]})); then
    install -m 0644 "${certs[@]}" "${root}${HOST_CA_DIR}/"
  fi

  rm -f "${root}/etc/apt/sources.list"
  cat >"${root}/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${SECURITY_MIRROR}
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

  cat >"${root}/etc/pip.conf" <<EOF
[global]
cert = ${GUEST_CA_BUNDLE}
EOF

  install -d -m 0755 "${root}/etc/ssh/sshd_config.d"
  cat >"${root}/etc/ssh/sshd_config.d/10-ai4artsed-testserver.conf" <<'EOF'
# Test server: root may log in, with a key only.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
EOF

  cat >"${root}/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  echo "localhost" >"${root}/etc/hostname"
  # No locales package: C.UTF-8 is built in (and pam_env wants this file).
  echo "LANG=C.UTF-8" >"${root}/etc/default/locale"

  # shellcheck disable=SC2016  # expanded inside the image
  run_in_image "${root}" /bin/sh -euc '
    update-ca-certificates >/dev/null
    apt-get -q update
    apt-get -qy dist-upgrade
    apt-get -qy install --no-install-recommends "$@"
    apt-get clean
    rm -rf /var/lib/apt/lists/partial/*
    npmrc="$(npm config get globalconfig)"
    mkdir -p "$(dirname "$npmrc")"
    touch "$npmrc"
    grep -q "^cafile=" "$npmrc" || echo "cafile='"${GUEST_CA_BUNDLE}"'" >>"$npmrc"
  ' sh "${EXTRA_PACKAGES[@]}" >&2

  # Generic image: no host keys, no machine id, no authorized keys.
  rm -f "${root}"/etc/ssh/ssh_host_*
  : >"${root}/etc/machine-id"
  : >"${root}/etc/resolv.conf"
  install -d -m 0700 "${root}/root/.ssh"
  find "${root}/root/.ssh" -mindepth 1 -delete
}

#######################################
# Builds the base image into a temporary directory and renames it into
# place, so an interrupted build is never taken for a cached one.
# Globals:
#   BUILD_TMP (set while building)
#######################################
build_image() {
  local old="" stale start
  start="${SECONDS}"
  for stale in "${IMAGE_DIR}".tmp.* "${IMAGE_DIR}".old.*; do
    [[ -d "${stale}" ]] || continue
    log "removing stale ${stale}"
    remove_tree "${stale}"
  done
  BUILD_TMP="$(mktemp -d "${IMAGE_DIR}.tmp.XXXXXX")"
  chmod 0755 "${BUILD_TMP}"
  log "debootstrap ${SUITE} into ${BUILD_TMP}"
  local includes
  includes="$(IFS=,; echo "${INCLUDE_PACKAGES[*]}")"
  debootstrap --variant=minbase --include="${includes}" \
    "${SUITE}" "${BUILD_TMP}" "${MIRROR}" >&2
  log "debootstrap done after $((SECONDS - start)) s; configuring image"
  configure_image "${BUILD_TMP}"
  echo "${IMAGE_VERSION}" >"${BUILD_TMP}/${STAMP_FILE}"
  if [[ -e "${IMAGE_DIR}" ]]; then
    old="${IMAGE_DIR}.old.$$"
    mv -T "${IMAGE_DIR}" "${old}"
  fi
  mv -T "${BUILD_TMP}" "${IMAGE_DIR}"
  BUILD_TMP=""
  if [[ -n "${old}" ]]; then
    remove_tree "${old}"
  fi
  log "image built in $((SECONDS - start)) s: ${IMAGE_DIR}"
}

# True if a running server's overlay uses the image as its lower layer.
image_in_use() {
  local opts
  opts="$(findmnt -rn -t overlay -o OPTIONS)" || return 1
  [[ "${opts}" == *"lowerdir=${IMAGE_DIR},"* ]]
}

#######################################
# Builds the image if it is missing or outdated. Takes the image lock
# (kept until unlock_image).
#######################################
ensure_image() {
  lock_image
  image_ok && return 0
  if mountpoint -q "${IMAGE_DIR}"; then
    if image_in_use; then
      die "cached image is outdated but used by running servers; 'down' them"
    fi
    umount "${IMAGE_DIR}"
  fi
  require_tools debootstrap systemd-nspawn findmnt
  mkdir -p "${CACHE_DIR}"
  build_image
}

#######################################
# While servers use the image, it is bind-mounted read-only onto itself, so
# that neither a guest nor a stray `rm -rf` of the cache can change it
# underneath their overlays. Call with the image lock held.
#######################################
protect_image() {
  mountpoint -q "${IMAGE_DIR}" && return 0
  mount --bind "${IMAGE_DIR}" "${IMAGE_DIR}"
  mount -o remount,bind,ro "${IMAGE_DIR}"
}

# Drops the protection mount once no server uses the image.
release_image() {
  mountpoint -q "${IMAGE_DIR}" 2>/dev/null || return 0
  lock_image
  if mountpoint -q "${IMAGE_DIR}" && ! image_in_use; then
    umount "${IMAGE_DIR}" || err "could not unmount ${IMAGE_DIR}"
  fi
  unlock_image
}

cmd_image() {
  parse_args none "$@"
  require_root
  require_tools flock findmnt mountpoint
  ensure_image
  unlock_image
  echo "${IMAGE_DIR}"
}
