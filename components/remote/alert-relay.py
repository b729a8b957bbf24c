#!/usr/bin/python3
"""Alertmanager's alerts, relayed to monitor.webhookUrl as the health probe sends its own.

Alertmanager posts its JSON here (127.0.0.1 only); each alert goes on to the webhook as one POST
of {"text", "state" (down or recovered), "service", "host", "at"}, so the operators' chat gets one
format whichever part alerts. A webhook that fails answers Alertmanager with 502, and Alertmanager
sends again. Python's standard library only; the URL comes as a systemd credential.
Usage: alert-relay.py PORT (the URL in $CREDENTIALS_DIRECTORY/webhook).
"""
import http.server
import json
import os
import socket
import sys
import urllib.request


def messages(payload):
    """The probe's JSON for each alert of an Alertmanager webhook payload (version 4)."""
    for alert in payload.get("alerts", []):
        labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
        resolved = alert.get("status") == "resolved"
        summary = annotations.get("summary") or labels.get("alertname", "alert")
        service = labels.get("unit") or (f"ai4artsed-{labels['environment']}" if "environment" in labels else labels.get("alertname", ""))
        yield {
            "text": f"recovered: {summary}" if resolved else summary,
            "state": "recovered" if resolved else "down",
            "service": service,
            "host": socket.gethostname(),
            "at": alert.get("endsAt") if resolved else alert.get("startsAt"),
        }


def webhook_url():
    with open(os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "webhook"), encoding="utf-8") as file:
        return file.read().strip()


class Relay(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            url = webhook_url()
            for message in messages(payload):
                request = urllib.request.Request(url, json.dumps(message).encode(), {"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=15):
                    pass
        except Exception as error:  # the webhook or the payload: Alertmanager tries again
            # The URL is a credential: only the kind of error is logged.
            print(f"relaying to the webhook failed: {type(error).__name__}", file=sys.stderr, flush=True)
            self.send_response(502)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Relay).serve_forever()
