"""Helpers for integration tests that start real `reflex` processes on 127.0.0.1.

A server is started with --port 0; its stderr is read until the "listening on port N" line, so
tests never race for a fixed port. Every process is killed at exit, whatever happens, and every
request has a timeout, so a hung server fails the test instead of hanging it.
"""
import atexit
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

BIN = os.environ.get("RX_BIN", "./build/reflex")
SHARED = os.environ.get("RX_SHARED", "../shared")
STORIES = os.path.join(SHARED, "models", "stories260K.gguf")

_procs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)

failures = []


def check(cond, what):
    """Records a failure (the test goes on, so one run shows every broken case)."""
    if not cond:
        failures.append(what)
        print("FAIL", what, flush=True)
    return cond


def finish():
    total = len(failures)
    print(f"{'ok' if not total else str(total) + ' failure(s)'}", flush=True)
    sys.exit(1 if total else 0)


class Server:
    def __init__(self, role, args, timeout=60):
        self.log = []
        self.proc = subprocess.Popen([BIN, role] + args + ["--port", "0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        _procs.append(self.proc)
        self.port = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on port (\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()
        if not ready.wait(timeout) or self.port is None:
            self.proc.kill()
            raise RuntimeError(f"{role} did not start: {self.log[-5:]}")

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        c = self.conn(timeout)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, out

    def json(self, method, path, body=None, headers=None, timeout=60):
        status, hdrs, out = self.request(method, path, body, headers, timeout)
        try:
            return status, hdrs, json.loads(out)
        except ValueError:
            return status, hdrs, {"_raw": out.decode("utf-8", "replace")}

    def stream(self, path, body, headers=None, timeout=60):
        """POSTs a streaming request; returns (status, list of parsed data objects, saw [DONE])."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request("POST", path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        if r.status != 200:
            out = r.read()
            c.close()
            return r.status, [json.loads(out)], False
        events, done = [], False
        buf = b""
        while True:
            chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                frame, buf = buf.split(b"\n\n", 1)
                for line in frame.split(b"\n"):
                    if not line.startswith(b"data: "):
                        continue
                    data = line[6:]
                    if data == b"[DONE]":
                        done = True
                    else:
                        events.append(json.loads(data))
        c.close()
        return r.status, events, done

    def metric(self, name, headers=None):
        """The value of an unlabelled (or first matching) sample in /metrics."""
        _, _, out = self.request("GET", "/metrics", headers=headers)
        for line in out.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()


def raw(port, data, read_timeout=5):
    """Sends raw bytes and returns what comes back until the server closes or the timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


def read_ref(name="stories260K.jsonl"):
    with open(os.path.join(SHARED, "ref", name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def now_ms():
    return time.monotonic() * 1000
