#!/usr/bin/env python3
"""Bounded steady load on the app, run inside the test server against its loopback port.

Quick GETs of the health path at a fixed rate over keep-alive connections (as cloudflared
sends them), plus a few slow requests (/api/slow) always in flight on fresh connections.
Stops when the stop file appears, after --max-seconds, or after --max-requests, whichever
comes first, then writes a JSON summary. Python standard library only.

A quick request whose reused keep-alive connection turns out closed before any answer is sent
again once on a new connection, as HTTP clients do for idempotent requests (RFC 9112 9.3.1);
such retries are counted apart. Every other error or non-2xx answer counts as failed.
"""
import argparse
import http.client
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

# Each failure is kept with when it was sent and when it failed (epoch seconds), so a test can
# tell the requests a dying process already held from new ones.
MAX_FAILED_KEPT = 200


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/api/schema/info")
    p.add_argument("--rate", type=float, default=20.0, help="quick requests per second")
    p.add_argument("--slow", type=int, default=3, help="slow requests kept in flight")
    p.add_argument("--slow-seconds", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--max-requests", type=int, default=20000)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    return p.parse_args()


def release_of(info):
    """What tells a started release apart in a health answer: what the process loaded at start
    (code revision, extra packages) and the process itself (a restart is a new one)."""
    extras = ",".join(sorted(info.get("extras") or {}))
    return f"code_revision={info.get('code_revision')} extras={extras} pid={info.get('pid')}"


class Load:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = Counter()
        self.versions = Counter()
        self.first_seen = {}
        self.errors = Counter()
        self.failed = []
        self.max_quick_ms = 0.0
        self.local = threading.local()
        self.deadline = time.monotonic() + args.max_seconds
        self.stopping = threading.Event()

    def should_stop(self):
        if self.stopping.is_set():
            return True
        if os.path.exists(self.args.stop_file) or time.monotonic() > self.deadline:
            self.stopping.set()
        with self.lock:
            if self.counts["quick_sent"] + self.counts["slow_sent"] >= self.args.max_requests:
                self.stopping.set()
        return self.stopping.is_set()

    def note(self, key, error=None, version=None, release=None, sent_at=None):
        with self.lock:
            self.counts[key] += 1
            if error:
                self.errors[error[:120]] += 1
                if len(self.failed) < MAX_FAILED_KEPT:
                    self.failed.append({"error": error[:120], "sent": sent_at, "failed": time.time()})
            if version:
                self.versions[version] += 1
            if release:
                self.first_seen.setdefault(release, time.time())

    def fetch(self, conn, path):
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, body

    def quick(self):
        started = time.monotonic()
        sent_at = time.time()
        conn = getattr(self.local, "conn", None)
        reused = conn is not None
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=10)
        try:
            try:
                status, body = self.fetch(conn, self.args.path)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                conn.close()
                self.note("quick_retried")
                status, body = self.fetch(conn, self.args.path)
            if 200 <= status < 300:
                version = release = None
                try:
                    info = json.loads(body)
                    version = f"{info.get('version')} secure_cookie={info.get('secure_cookie')}"
                    release = release_of(info)
                except ValueError:
                    pass
                self.note("quick_ok", version=version, release=release)
            else:
                self.note("quick_failed", error=f"quick HTTP {status}", sent_at=sent_at)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            conn.close()
            self.local.conn = None
            self.note("quick_failed", error=f"quick {type(exc).__name__}: {exc}", sent_at=sent_at)
        with self.lock:
            self.max_quick_ms = max(self.max_quick_ms, (time.monotonic() - started) * 1000)

    def slow_worker(self):
        path = f"/api/slow?seconds={self.args.slow_seconds:g}"
        while not self.should_stop():
            with self.lock:
                self.counts["slow_sent"] += 1
            sent_at = time.time()
            conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=self.args.slow_seconds + 60)
            try:
                status, _ = self.fetch(conn, path)
                if 200 <= status < 300:
                    self.note("slow_ok")
                else:
                    self.note("slow_failed", error=f"slow HTTP {status}", sent_at=sent_at)
            except Exception as exc:  # noqa: BLE001
                self.note("slow_failed", error=f"slow {type(exc).__name__}: {exc}", sent_at=sent_at)
                time.sleep(0.2)
            finally:
                conn.close()

    def run(self):
        started = time.monotonic()
        slow = [threading.Thread(target=self.slow_worker, daemon=True) for _ in range(self.args.slow)]
        for thread in slow:
            thread.start()
        interval = 1.0 / self.args.rate
        with ThreadPoolExecutor(max_workers=8) as pool:
            tick = time.monotonic()
            while not self.should_stop():
                with self.lock:
                    self.counts["quick_sent"] += 1
                pool.submit(self.quick)
                tick += interval
                time.sleep(max(0.0, tick - time.monotonic()))
        for thread in slow:
            thread.join(timeout=self.args.slow_seconds + 65)
        return {
            "seconds": round(time.monotonic() - started, 1),
            "quick_sent": self.counts["quick_sent"],
            "quick_ok": self.counts["quick_ok"],
            "quick_failed": self.counts["quick_failed"],
            "quick_retried": self.counts["quick_retried"],
            "slow_sent": self.counts["slow_sent"],
            "slow_ok": self.counts["slow_ok"],
            "slow_failed": self.counts["slow_failed"],
            "max_quick_ms": round(self.max_quick_ms),
            "versions": dict(self.versions),
            "first_seen": self.first_seen,
            "errors": dict(self.errors.most_common(5)),
            "failed": self.failed,
        }


def main():
    args = parse_args()
    summary = Load(args).run()
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
