#!/bin/bash
# ufw's rules as this program reads them, one definition for the firewall step and the observer.
# Inlined after lib.sh (commands.ts SCRIPT_HELPERS). SSH_RULE_TAG comes from firewall.ts.

export AI4ARTSED_FIREWALL_LIB=1

# tagged_rules TAG: the rule specs ("deny 17801/tcp") added with comment TAG.
tagged_rules() {
  ufw show added | sed -n "s/^ufw \(.*\) comment '$1'\$/\1/p"
}

# rules_on_ports "PORT...": every added rule (as `ufw show added` prints it) on one of the ports,
# plus the SSH rule, sorted: what the observer reports and the firewall step converges.
rules_on_ports() {
  local ports="${1// /|}"
  ufw show added | grep -E "^ufw .*[ ](${ports})(/(tcp|udp))?( |\$)|comment '${SSH_RULE_TAG}'\$" | LC_ALL=C sort || true
}
