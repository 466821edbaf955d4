"""Starting and stopping a `squish serve` process for tests, and small raw-HTTP helpers."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import BUILD


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A running `squish serve MODEL ...` on 127.0.0.1; stop() sends SIGTERM and waits."""

    def __init__(self, model: Path, *args, api_key: str | None = None):
        self.port = free_port()
        self.api_key = api_key
        binary = os.environ.get("SQUISH_BIN", str(BUILD / "squish"))
        cmd = [binary, "serve", str(model), "--host", "127.0.0.1", "--port", str(self.port), *map(str, args)]
        if api_key:
            cmd += ["--api-key", api_key]
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"squish-serve-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"squish serve exited ({self.proc.returncode}): {self.log_text()}")
            try:
                status, _, _ = self.request("GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError("squish serve did not become healthy in 120 s: " + self.log_text())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def headers(self, auth: bool = True) -> dict:
        h = {"Content-Type": "application/json"}
        if auth and self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def request(self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 120):
        """One request; returns (status, headers, body bytes). body: bytes, str or a JSON value."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=self.headers() if headers is None else headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def post_json(self, path: str, body, headers: dict | None = None):
        """POST a JSON body; returns (status, parsed JSON or None, headers)."""
        status, hdrs, data = self.request("POST", path, body, headers)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return status, parsed, hdrs

    def metric(self, name: str, default: float | None = None) -> float:
        """The value of a sample in /metrics (`name` with its labels, if any); `default` when absent."""
        _, _, data = self.request("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        if default is not None:
            return default
        raise AssertionError(f"{name} not in /metrics")

    def wait_idle(self, timeout: float = 30) -> None:
        """Waits until no slot is busy and nothing is queued."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric("squish_slots_busy") == 0 and self.metric("squish_queue_length") == 0:
                return
            time.sleep(0.05)
        raise AssertionError("the server did not become idle")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait (SIGKILL after timeout); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def sse_events(resp) -> list:
    """The `data:` payloads of an SSE response read to its end (http.client response)."""
    events = []
    for raw in resp.read().decode().split("\n\n"):
        raw = raw.strip()
        if raw.startswith("data: "):
            events.append(raw[len("data: "):])
    return events
