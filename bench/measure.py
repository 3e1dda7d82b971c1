"""What the benchmarks measure with: percentiles, CPU time read from /proc (wall times on a
shared 2-core machine are noisy, CPU per request much less so) and wrk for HTTP load."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TICK = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` (0.99: p99) of the sorted samples; NaN when there are none."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def process_stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds so far, user + system) of a process; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return stat[stat.index("(") + 1 : stat.rindex(")")], (int(fields[11]) + int(fields[12])) / TICK


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (a process that is gone counts 0)."""
    return sum(stat[1] for stat in map(process_stat, pids) if stat is not None)


# -- wrk: HTTP load from a C client ------------------------------------------------------------------
# A Python client spends about as much CPU per request as the cheapest routes it drives, and on
# this 2-core machine it shares the cores with them: it would measure itself. wrk costs a few
# microseconds per request.


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


@dataclass(frozen=True)
class WrkRun:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    outcomes: Counter  # "HTTP <status>" or "socket <connect|read|write|timeout>" -> count

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


_WRK_SCRIPT = """
local requests = {%s}
local n = 0
statuses = {}
request = function()
  n = n %% #requests + 1
  return requests[n]
end
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
done = function(summary, latency)
  io.write(string.format("run %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99)))
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("status %%d %%d\\n", status, count))
    end
  end
  for kind, count in pairs(summary.errors) do
    io.write(string.format("socket %%s %%d\\n", kind, count))
  end
end
"""


def _lua_string(text: str) -> str:
    level = "="
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def wrk(base_url: str, requests: list[Request], *, connections: int, seconds: float) -> WrkRun | None:
    """Drive ``requests`` round-robin over ``connections`` keep-alive connections for ``seconds``
    with wrk (one thread); None when wrk is not installed (``deploy/local/infra.sh bench-tools``)."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    host = urlsplit(base_url).netloc  # wrk.format adds no Host header, and nginx insists on one
    formatted = ",\n".join(
        "wrk.format({}, {}, {{{}}}, {})".format(
            _lua_string(r.method),
            _lua_string(r.path),
            ", ".join(
                f"[ {_lua_string(name)} ] = {_lua_string(value)}"
                for name, value in {"Host": host, **r.headers}.items()
            ),
            _lua_string(r.body) if r.body else "nil",
        )
        for r in requests
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="gk-bench-") as script:
        script.write(_WRK_SCRIPT % formatted)
        script.flush()
        finished = subprocess.run(  # noqa: S603 - our own arguments
            [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", script.name, base_url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    if finished.stderr:  # a script error: wrk went on with plain GETs, which measure nothing
        raise SystemExit(f"bench: wrk failed: {finished.stderr.strip()}")
    outcomes: Counter = Counter()
    count = duration_us = p50_us = p99_us = 0
    for line in finished.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["run"]:
            count, duration_us, p50_us, p99_us = (int(value) for value in fields[1:5])
        elif fields[:1] == ["status"]:
            outcomes[f"HTTP {fields[1]}"] += int(fields[2])
        elif fields[:1] == ["socket"] and fields[1] != "status" and int(fields[2]):
            outcomes[f"socket {fields[1]}"] += int(fields[2])
    return WrkRun(count, duration_us / 1e6, p50_us / 1000, p99_us / 1000, outcomes)


# -- a keep-alive connection for open-loop clients -----------------------------------------------------
# wrk paces itself by the answers (a closed loop); an open-loop schedule needs a client of our own,
# and requests spends over a millisecond of CPU per call on this machine, more than the routes it
# measures. Pre-encoded requests over a plain socket cost some tens of microseconds.


def encode_request(method: str, host: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """An HTTP/1.1 request, ready to send as many times as wanted."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _ClosedBeforeAnswer(ConnectionError):
    pass


class KeepAliveConnection:
    """One persistent HTTP/1.1 connection that sends encoded requests and returns the status of
    each answer (the body is read and dropped). Answers must carry Content-Length, as the
    services' do. A request on a reused connection that the server had closed meanwhile (no
    byte of an answer came back) is sent once more on a new connection, as HTTP clients do."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address, self.timeout = (host, port), timeout
        self._sock: socket.socket | None = None

    def exchange(self, request: bytes) -> int:
        reused = self._sock is not None
        try:
            return self._exchange(request)
        except _ClosedBeforeAnswer:
            self.close()
            if not reused:
                raise
            return self._exchange(request)
        except OSError:
            self.close()
            raise

    def _exchange(self, request: bytes) -> int:
        if self._sock is None:
            self._sock = socket.create_connection(self.address, timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(request)
        buffer = b""
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._receive(_ClosedBeforeAnswer if not buffer else ConnectionError)
        head, body = buffer[:end].lower() + b"\r\n", buffer[end + 4 :]
        start = head.find(b"\r\ncontent-length:")
        if start < 0:
            raise ConnectionError("an answer without Content-Length")
        length = int(head[start + 17 : head.index(b"\r\n", start + 2)])
        while len(body) < length:
            body += self._receive(ConnectionError)
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12])

    def _receive(self, closed: type[ConnectionError]) -> bytes:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise closed("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
