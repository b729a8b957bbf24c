#!/bin/bash
# testserver: Networking: each server's namespace, veth pair and NAT, and the links that let one server reach another on one port.
# Sourced by testserver.sh, which sets the constants and run globals these functions use.
# shellcheck disable=SC2154,SC2034  # the run globals are shared across these parts

LINK_TO=""
LINK_PORT="22"
# Parses the link commands' --to OTHER [--port PORT] from REST.
parse_link_args() {
  set -- "${REST[@]}"
  LINK_TO=""
  LINK_PORT="22"
  while (($#)); do
    case "$1" in
      --to)
        (($# >= 2)) || die "--to needs a value"
        LINK_TO="$2"
        shift 2
        ;;
      --port)
        (($# >= 2)) || die "--port needs a value"
        LINK_PORT="$2"
        shift 2
        ;;
      *) die "unexpected argument: $1" ;;
    esac
  done
  [[ -n "${LINK_TO}" ]] || die "--to OTHER is required"
  [[ "${LINK_PORT}" =~ ^[0-9]{1,5}$ ]] || die "invalid port '${LINK_PORT}'"
}

#######################################
# Prints "TABLE GUEST_IP" of a running server, and fails if it is not up.
# Arguments:
#   $1: server name.
#######################################
link_end() {
  NAME="$1"
  load_name
  nft list table ip "${NFT_TABLE}" >/dev/null 2>&1 || die "${NAME} is not up"
  echo "${NFT_TABLE} ${GUEST_IP}"
}

# Deletes the rules of one link (by comment) from a server's forward chain.
delete_link_rules() {
  local table="$1" comment="$2" handle
  for handle in $(nft -a list chain ip "${table}" forward 2>/dev/null |
    sed -n "s/.*comment \"${comment}\" # handle \([0-9]*\)$/\1/p"); do
    nft delete rule ip "${table}" forward handle "${handle}"
  done
}

#######################################
# Lets NAME open TCP connections to OTHER's PORT, and OTHER answer them; every
# other pair stays dropped. The rules sit in the two servers' own tables.
#######################################
cmd_link() {
  parse_args rest "$@"
  parse_link_args
  require_root
  local from="${NAME}" from_table from_ip to_table to_ip
  read -r from_table from_ip < <(link_end "${from}")
  read -r to_table to_ip < <(link_end "${LINK_TO}")
  [[ -n "${from_table}" && -n "${to_table}" ]] || die "both ${from} and ${LINK_TO} must be up"
  local comment="link ${from} to ${LINK_TO}:${LINK_PORT}"
  delete_link_rules "${from_table}" "${comment}"
  delete_link_rules "${to_table}" "${comment}"
  nft insert rule ip "${from_table}" forward ip saddr "${from_ip}" ip daddr "${to_ip}" \
    tcp dport "${LINK_PORT}" ct state new,established accept comment "\"${comment}\""
  nft insert rule ip "${to_table}" forward ip saddr "${to_ip}" ip daddr "${from_ip}" \
    tcp sport "${LINK_PORT}" ct state established accept comment "\"${comment}\""
  log "${from} reaches ${LINK_TO} (${to_ip}) on TCP ${LINK_PORT}"
}

cmd_unlink() {
  parse_args rest "$@"
  parse_link_args
  require_root
  local from="${NAME}" from_table to_table
  read -r from_table _ < <(link_end "${from}")
  read -r to_table _ < <(link_end "${LINK_TO}")
  local comment="link ${from} to ${LINK_TO}:${LINK_PORT}"
  [[ -z "${from_table}" ]] || delete_link_rules "${from_table}" "${comment}"
  [[ -z "${to_table}" ]] || delete_link_rules "${to_table}" "${comment}"
  log "${from} no longer reaches ${LINK_TO} on TCP ${LINK_PORT}"
}

#######################################
# Cuts NAME off from this machine without a word: every packet between them on its veth is
# dropped, both ways, so neither side sees a FIN or a reset (a laptop that sleeps, Wi-Fi that
# drops). `mend` lets them through again.
#######################################
cmd_cut() {
  parse_args none "$@"
  require_root
  local table
  read -r table _ < <(link_end "${NAME}")
  [[ -n "${table}" ]] || die "${NAME} must be up"
  load_name
  nft -f - <<EOF
table ip ${table} {
  chain cut_in {
    type filter hook input priority filter - 10; policy accept;
    iifname "${VETH_HOST}" drop
  }
  chain cut_out {
    type filter hook output priority filter - 10; policy accept;
    oifname "${VETH_HOST}" drop
  }
}
EOF
  log "${NAME} is cut off from this machine (packets dropped, no FIN)"
}

cmd_mend() {
  parse_args none "$@"
  require_root
  local table chain
  read -r table _ < <(link_end "${NAME}")
  for chain in cut_in cut_out; do
    nft delete chain ip "${table}" "${chain}" 2>/dev/null || true
  done
  log "${NAME} is reachable again"
}

netns_exists() {
  [[ -e "/run/netns/${NETNS}" ]]
}

#######################################
# Picks the run's /30 before the guest is configured with it: names hash onto 16384 networks,
# and one another server holds is passed over for the next free one (recorded in RUN_DIR/slot).
# Holds the network lock until setup_network has put the address on the veth, so two servers
# booting at once never take the same network.
#######################################
claim_network() {
  local other tries=0
  lock_file "${RUN_BASE}/.locks/network"
  NETWORK_LOCK_FD="${LOCK_FDS[-1]}"
  while other="$(ip -o -4 addr show to "${HOST_IP}/32" 2>/dev/null | awk '{ print $2 }')" && [[ -n "${other}" ]]; do
    ((++tries < 256)) || die "no free /30 network after ${SUBNET} (${tries} tried)"
    log "subnet ${SUBNET} is in use by ${other}; taking the next one"
    set_slot $(((SLOT + 1) & 0x3fff))
  done
  echo "${SLOT}" >"${RUN_DIR}/slot"
}

#######################################
# Creates the netns, the veth pair with the run's /30 (claim_network), the default route
# and the NAT table.
#######################################
setup_network() {
  ip netns add "${NETNS}"
  ip -n "${NETNS}" link set lo up
  ip link add "${VETH_HOST}" type veth peer name eth0 netns "${NETNS}"
  ip addr add "${HOST_IP}/30" dev "${VETH_HOST}"
  unlock_fd "${NETWORK_LOCK_FD}"
  ip link set "${VETH_HOST}" up
  ip -n "${NETNS}" addr add "${GUEST_IP}/30" dev eth0
  ip -n "${NETNS}" link set eth0 up
  ip -n "${NETNS}" route add default via "${HOST_IP}"
  if [[ "$(</proc/sys/net/ipv4/ip_forward)" != "1" ]]; then
    sysctl -qw net.ipv4.ip_forward=1
  fi
  nft -f - <<EOF
table ip ${NFT_TABLE}
delete table ip ${NFT_TABLE}
table ip ${NFT_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${SUBNET} oifname != "${VETH_HOST}" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    # Test servers must not reach each other.
    ip saddr ${SUBNET} ip daddr ${NET_PREFIX}.0.0/16 drop
  }
}
EOF
}
