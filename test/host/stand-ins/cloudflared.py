#!/usr/bin/env python3
"""Stand-in for cloudflared on the test server, which cannot reach Cloudflare's package
repository: it parses the same command line the connector unit uses, reads the token file,
tells systemd it is ready (Type=notify), and stays up. It never prints the token."""
import os
import socket
import sys
import time

VERSION = "cloudflared version 2025.4.0 (stand-in for tests)"
HELP = "NAME:\n   cloudflared tunnel run\nOPTIONS:\n   --token value\n   --token-file value  Filepath containing the tunnel token\n"


def notify_ready():
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(b"READY=1")


def main(argv):
    if "--version" in argv or "version" in argv[:1]:
        print(VERSION)
        return 0
    if "--help" in argv or "-h" in argv:
        print(HELP)
        return 0
    if "--token" in argv:
        print("refusing a token on the command line", file=sys.stderr)
        return 2
    if "--token-file" not in argv:
        print("no --token-file given", file=sys.stderr)
        return 2
    path = argv[argv.index("--token-file") + 1]
    with open(path, encoding="ascii") as handle:
        token = handle.read().strip()
    if not token:
        print(f"empty token file {path}", file=sys.stderr)
        return 1
    print(f"stand-in connector running with a token of {len(token)} characters", flush=True)
    notify_ready()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
