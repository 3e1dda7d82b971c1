"""Check the API gateway's routes (`make lint`): docker-compose.yml's nginx (deploy/compose/nginx.conf)
and the local one (deploy/local/gateway-routes.txt) send each public path of ARCHITECTURE.md §5 to
the service that owns it, and /internal nowhere.

Both are run in a real nginx: compose's server block as it is, with each `http://<service>:<port>`
pointed at a stub server on 127.0.0.1 that answers its service's name; the local routes rendered as
deploy/local/infra.sh renders them. Without nginx installed the check says so and passes.

    .venv/bin/python deploy/check_gateway.py
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPOSE_CONF = HERE / "compose" / "nginx.conf"
LOCAL_ROUTES = HERE / "local" / "gateway-routes.txt"
LOCAL_SERVICES = HERE / "local" / "services.txt"

G, V, M = "0b6c7d1e-1111-4a2b-8c3d-000000000001", "0b6c7d1e-2222-4a2b-8c3d-000000000002", "m-1"
# Path (with a query string now and then) -> the service that must answer it; None: nobody (404).
EXPECTED = {
    "/api/v1/developer/accounts": "developer-portal",
    "/api/v1/developer/accounts/me/team": "developer-portal",
    "/api/v1/developer/games": "developer-portal",
    f"/api/v1/developer/games/{G}": "developer-portal",
    f"/api/v1/developer/games/{G}/metadata": "developer-portal",
    f"/api/v1/developer/games/{G}/pricing": "developer-portal",
    f"/api/v1/developer/games/{G}/preflight": "developer-portal",
    f"/api/v1/developer/games/{G}/submissions": "developer-portal",
    f"/api/v1/developer/games/{G}/publish": "developer-portal",
    f"/api/v1/developer/games/{G}/versions/{V}/submit": "developer-portal",
    f"/api/v1/developer/games/{G}/versions/{V}/submit/": "developer-portal",
    f"/api/v1/developer/games/{G}/versionsx": "developer-portal",  # not the versions collection
    "/api/v1/developer/finance/balance": "developer-portal",
    "/api/v1/developer/apikeys": "developer-portal",
    "/api/v1/developer/analytics/summary": "developer-portal",
    f"/api/v1/developer/games/{G}/versions": "game-builds",
    f"/api/v1/developer/games/{G}/versions?limit=5": "game-builds",
    f"/api/v1/developer/games/{G}/versions/{V}": "game-builds",
    f"/api/v1/developer/games/{G}/versions/{V}/upload/parts": "game-builds",
    f"/api/v1/developer/games/{G}/versions/{V}/upload/complete": "game-builds",
    f"/api/v1/developer/games/{G}/versions/{V}/download": "game-builds",
    f"/api/v1/developer/games/{G}/versions/{V}/submitted": "game-builds",  # not .../submit
    f"/api/v1/developer/games/{G}/media": "game-builds",
    f"/api/v1/developer/games/{G}/media/{M}/complete": "game-builds",
    "/api/v1/keys/generate": "key-manager",
    "/api/v1/keys/batches?limit=10": "key-manager",
    "/api/v1/activations/redeem": "activation-gateway",
    "/api/v1/antifraud/rules": "antifraud",
    "/api/v1/distribution/retailers": "distribution",
    "/api/v1/distribution/oauth/token": "distribution",
    f"/api/v1/analytics/games/{G}/activations": "analytics",
    "/internal/v1/keys/lookup": None,
    "/internal/v1/apikeys/introspect": None,
    "/api/v2/keys/generate": None,
}


class Stub:
    """An HTTP server on 127.0.0.1 that answers every request with its service's name."""

    def __init__(self, name: str) -> None:
        body = name.encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_routes(port_of: dict[int, int]) -> str:
    """gateway-routes.txt as deploy/local/infra.sh renders it, each service port mapped by
    ``port_of`` (the real port -> its stub's)."""
    lines = []
    for line in LOCAL_ROUTES.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "~":
            lines.append(
                f'location ~ "{fields[1]}" {{ proxy_pass http://127.0.0.1:{port_of[int(fields[2])]}; }}'
            )
        else:
            prefix, target = fields[0].rstrip("/"), port_of[int(fields[1])]
            lines.append(f"location = {prefix} {{ proxy_pass http://127.0.0.1:{target}; }}")
            lines.append(f"location {prefix}/ {{ proxy_pass http://127.0.0.1:{target}; }}")
    routes = "\n    ".join(lines)
    return f"""server {{
    listen 127.0.0.1:@PORT@;
    location ^~ /internal/ {{ return 404; }}
    location / {{ return 404; }}
    {routes}
}}"""


def compose_server(port_of: dict[str, int]) -> str:
    """compose's server block, its upstreams (``http://<service>:<port>``) pointed at the stubs."""
    text = COMPOSE_CONF.read_text()
    missing = sorted(set(re.findall(r"http://([a-z-]+):\d+", text)) - set(port_of))
    if missing:
        raise SystemExit(f"check_gateway: {COMPOSE_CONF.name} names services with no stub: {missing}")
    text = re.sub(r"http://([a-z-]+):\d+", lambda m: f"http://127.0.0.1:{port_of[m.group(1)]}", text)
    return re.sub(r"listen \d+;", "listen 127.0.0.1:@PORT@;", text)


@contextmanager
def nginx(server_block: str) -> Iterator[str]:
    """A real nginx serving ``server_block`` on a free port; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gk-check-gateway-") as workdir:
        conf = Path(workdir) / "nginx.conf"
        user = "user root root;" if os.getuid() == 0 else ""
        conf.write_text(f"""{user}
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    {server_block.replace("@PORT@", str(port))}
}}
""")
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        process = subprocess.Popen(  # noqa: S603 - our own arguments
            [binary, "-p", workdir, "-c", str(conf), "-e", f"{workdir}/error.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise SystemExit(
                        f"check_gateway: nginx refused the config: {process.stderr.read().decode()}"
                    )
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("check_gateway: nginx did not start") from None
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def answered_by(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our local nginx
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        return f"HTTP {error.code}"


def check(label: str, base: str) -> list[str]:
    problems = []
    for path, expected in EXPECTED.items():
        got = answered_by(base + path)
        if got != expected:
            problems.append(
                f"{label}: {path} went to {got or 'nobody (404)'}, expected {expected or 'nobody (404)'}"
            )
    return problems


def main() -> int:
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        print("check_gateway: nginx is not installed (`make infra-up` installs it): routes not checked")
        return 0
    services = {}
    for line in LOCAL_SERVICES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _package, port = line.split()
            services[name] = int(port)
    with ExitStack() as stack:
        stubs = {name: Stub(name) for name in services}
        for stub in stubs.values():
            stack.callback(stub.close)
        problems = []
        with nginx(compose_server({name: stub.port for name, stub in stubs.items()})) as base:
            problems += check("docker-compose gateway", base)
            if answered_by(base + "/gateway/healthz") != '{"status":"ok"}':
                problems.append(
                    "docker-compose gateway: /gateway/healthz (its healthcheck) does not answer ok"
                )
        local = local_routes({services[name]: stub.port for name, stub in stubs.items()})
        with nginx(local) as base:
            problems += check("local gateway", base)
    for problem in problems:
        print(f"check_gateway: {problem}")
    print(f"check_gateway: {len(EXPECTED)} paths through 2 gateways; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
