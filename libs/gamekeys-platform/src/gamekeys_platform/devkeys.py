"""The local development token issuer: a key pair the repository generates (never commits)
and a minting function, so services, tests and the ``gamekeys token`` CLI need no Auth service.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEV_ISSUER = "https://auth.gamekeys.local"
DEV_AUDIENCE = "gamekeys-platform"
ALGORITHM = "RS256"
KEY_BITS = 2048
PRIVATE_KEY_FILE = "jwt-private.pem"
PUBLIC_KEY_FILE = "jwt-public.pem"
KEYS_DIR_ENV = "GAMEKEYS_DEV_KEYS_DIR"
DEFAULT_KEYS_DIR = Path(".local") / "dev-keys"


class KeyPair(NamedTuple):
    private_key_file: Path
    public_key_file: Path


class SigningKey(NamedTuple):
    key: rsa.RSAPrivateKey
    kid: str


def keys_dir() -> Path:
    """``$GAMEKEYS_DEV_KEYS_DIR``, else ``.local/dev-keys`` of the checkout the current directory
    is in (so a token made from a service's folder is signed by the same pair the platform uses)."""
    if os.environ.get(KEYS_DIR_ENV):
        return Path(os.environ[KEYS_DIR_ENV])
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "libs" / "gamekeys-platform").is_dir():
            return folder / DEFAULT_KEYS_DIR
    return here / DEFAULT_KEYS_DIR


def ensure_key_pair(directory: Path | str | None = None) -> KeyPair:
    """Create the dev key pair unless it exists; an existing pair is kept, so tokens stay valid.

    A lock file makes concurrent callers (several services starting at once) agree on one pair.
    """
    folder = Path(directory) if directory is not None else keys_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    pair = KeyPair(folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE)
    with _locked(folder / ".lock"):
        if not pair.private_key_file.is_file():
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
            _write_atomically(pair.private_key_file, _private_pem(private_key), mode=0o600)
            _write_atomically(pair.public_key_file, _public_pem(private_key.public_key()), mode=0o644)
        elif not pair.public_key_file.is_file():
            private_key = load_signing_key(pair.private_key_file.read_text()).key
            _write_atomically(pair.public_key_file, _public_pem(private_key.public_key()), mode=0o644)
    return pair


def mint_token(
    private_key_pem: str,
    *,
    sub: str,
    roles: Iterable[str] | str = (),
    scopes: Iterable[str] | str = (),
    email: str | None = None,
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """Sign an RS256 token the way the platform issuer would.

    ``roles`` as a string is one role; ``scopes`` as a string is space-separated. ``extra_claims``
    are applied last and may override any claim; a value of ``None`` removes the claim, which is
    how tests build tokens without ``sub`` or ``exp``.
    """
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    signing_key = load_signing_key(private_key_pem)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    role_names = [roles] if isinstance(roles, str) else list(roles)
    scope_names = scopes.split() if isinstance(scopes, str) else list(scopes)
    if role_names:
        claims["roles"] = role_names
    if scope_names:
        claims["scope"] = " ".join(scope_names)
    if email:
        claims["email"] = email
    for name, value in (extra_claims or {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, signing_key.key, algorithm=ALGORITHM, headers={"kid": signing_key.kid})


@functools.lru_cache(maxsize=8)
def load_signing_key(private_key_pem: str) -> SigningKey:
    """Parse an RSA private key once (parsing costs milliseconds; tests mint thousands of tokens)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the dev signing key must be an RSA private key")
    return SigningKey(key, public_jwk(_public_pem(key.public_key()).decode())["kid"])


def public_jwk(public_key_pem: str) -> dict[str, Any]:
    """The public key as a JWK whose ``kid`` is its RFC 7638 thumbprint, to serve in a JWKS document."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    canonical = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    return {**jwk, "kid": thumbprint.decode(), "use": "sig", "alg": ALGORITHM}


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write beside the target and rename, so no reader ever sees half a key."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)  # the umask may have narrowed what os.open asked for
    os.replace(temporary, path)


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
