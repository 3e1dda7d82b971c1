"""An OIDC issuer the tests run themselves: its own RSA key pair, and its JWKS served by a real
HTTP server on 127.0.0.1 (counting the fetches), so trusted publishing is tested end to end
without a call outside the machine."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "gamekeys-upload"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LocalIssuer:
    def __init__(self) -> None:
        self.key = _rsa_key()
        self.kid = "test-key-1"
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/jwks":
                    self.send_error(404)
                    return
                issuer.jwks_fetches += 1
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.key.public_key()))
                body = json.dumps({"keys": [{**jwk, "kid": issuer.kid, "use": "sig", "alg": "RS256"}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def token(self, *, key=None, kid: str | None = None, ttl: int = 300, **claims: Any) -> str:
        """An identity token as GitHub Actions shapes one, signed by this issuer (or ``key``)."""
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "repo:northwind/space-game:ref:refs/heads/main",
            "repository": "northwind/space-game",
            "workflow_ref": "northwind/space-game/.github/workflows/release.yml@refs/heads/main",
            "ref": "refs/heads/main",
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def stranger_key(self) -> rsa.RSAPrivateKey:
        return _rsa_key()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
