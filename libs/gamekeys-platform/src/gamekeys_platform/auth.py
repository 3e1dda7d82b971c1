"""Bearer-token authentication and role/scope checks (ARCHITECTURE.md §3 and §7).

Tokens are verified against the platform issuer's public key (a PEM or a JWKS URL) with the one
algorithm the configuration names, never the one the token names. A missing or bad token is 401,
a valid token without the needed role or scope 403. Which studio's games, keys or money a caller
may touch is the owning service's check; ``ensure`` only makes that check read well.

A service may also accept opaque tokens of its own kind (game-builds: developer-portal's CI API
keys), recognised by their prefix and handed to the verifier it registers with
``init_opaque_tokens``; every other bearer token is a JWT as above.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, current_app, g, request

from gamekeys_platform.errors import ApiError, service_unavailable
from gamekeys_platform.openapi import declare
from gamekeys_platform.settings import DEFAULT_JWT_LEEWAY_SECONDS

if TYPE_CHECKING:
    from gamekeys_platform.settings import PlatformSettings

log = logging.getLogger("gamekeys.auth")

ROLE_USER = "user"
ROLE_DEVELOPER = "developer"
ROLE_ADMIN = "admin"
ROLE_SUPPORT = "support"
PLATFORM_ROLES = frozenset({ROLE_USER, ROLE_DEVELOPER, ROLE_ADMIN, ROLE_SUPPORT})

EXTENSION_KEY = "gamekeys_auth"
OPAQUE_EXTENSION_KEY = "gamekeys_auth_opaque"
TOKEN_TYPE_JWT = "jwt"  # noqa: S105  (a kind of token, not a secret)
AlgorithmFamily = Literal["RS", "ES"]
_ALGORITHM_BY_FAMILY: dict[str, str] = {"RS": "RS256", "ES": "ES256"}
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_MAX_TOKEN_LENGTH = 8192
_JWKS_TIMEOUT_SECONDS = 3.0
_JWKS_CACHE_SECONDS = 300
# Verified tokens are remembered (exact token string -> principal) until their expiry, at most
# this long: a service calls with one token for minutes, and checking its signature again on
# every request is a tenth of a millisecond of CPU. The cap bounds how long a verification
# outlives a key removed from the JWKS. The size covers the players of a busy gateway process
# within that minute (a principal is about 1 KiB); past it the oldest entries make room, so a
# crowd of new callers never flushes everyone else (emptying the cache on overflow did, and then
# every request of 4,000 players in turn paid for its signature check).
_VERIFIED_CACHE_SECONDS = 60.0
_VERIFIED_CACHE_SIZE = 8192

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """The verified caller.

    A service token (client credentials) carries scopes and no platform roles; a user token
    carries roles. ``is_service`` says which, for logs and services that treat them differently;
    access checks should ask for the scope or role they need instead. ``token_type`` is ``jwt``
    for the platform issuer's tokens, else what an opaque-token verifier named its kind (say
    ``api_key``); its scopes are that credential's own, and ``claims`` holds what its verifier
    learned about it (the games it is limited to, say).
    """

    subject: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    email: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    token_type: str = TOKEN_TYPE_JWT

    @property
    def is_service(self) -> bool:
        return self.token_type == TOKEN_TYPE_JWT and bool(self.scopes) and not self.roles

    @property
    def is_opaque(self) -> bool:
        """Proved by an opaque token (an API key), not by a JWT of the platform issuer."""
        return self.token_type != TOKEN_TYPE_JWT

    def has_role(self, *roles: str) -> bool:
        """True if the caller has any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    def has_scope(self, *scopes: str) -> bool:
        """True if the caller has any of ``scopes``."""
        return not self.scopes.isdisjoint(scopes)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        """Build from verified claims; a malformed ``roles``, ``scope`` or ``email`` is a ValueError,
        since a token the issuer would never sign that way is not one to guess about."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ValueError("sub must be a non-empty string")
        email = claims.get("email")
        if email is not None and not isinstance(email, str):
            raise ValueError("email must be a string")
        return cls(
            subject=subject,
            roles=_string_set(claims.get("roles", []), "roles"),
            scopes=_string_set(claims.get("scope", ""), "scope", space_separated=True),
            email=email,
            claims=dict(claims),
        )


def _string_set(value: Any, claim: str, *, space_separated: bool = False) -> frozenset[str]:
    """A list of strings; ``scope`` may also be one space-separated string (RFC 8693 §4.2)."""
    if space_separated and isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise ValueError(f"{claim} has an unexpected shape")


class JwtVerifier:
    """Verifies bearer tokens of the platform issuer and turns them into a ``Principal``.

    Give exactly one key source: ``public_key_pem`` or ``jwks_url`` (fetched with a short timeout
    and cached for five minutes; an unknown ``kid`` triggers at most one refetch per 30 s).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithm_family: AlgorithmFamily = "RS",
        public_key_pem: str | None = None,
        jwks_url: str | None = None,
        leeway_seconds: int = DEFAULT_JWT_LEEWAY_SECONDS,
    ) -> None:
        if algorithm_family not in _ALGORITHM_BY_FAMILY:
            raise ValueError(f"algorithm_family must be one of {sorted(_ALGORITHM_BY_FAMILY)}")
        if (public_key_pem is None) == (jwks_url is None):
            raise ValueError("give exactly one of public_key_pem and jwks_url")
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self.issuer = issuer
        self.audience = audience
        self.algorithm_family = algorithm_family
        self._algorithm = _ALGORITHM_BY_FAMILY[algorithm_family]
        self._leeway = leeway_seconds
        self._public_key = _load_public_key(public_key_pem, algorithm_family) if public_key_pem else None
        self._jwks = (
            jwt.PyJWKClient(jwks_url, lifespan=_JWKS_CACHE_SECONDS, timeout=_JWKS_TIMEOUT_SECONDS)
            if jwks_url
            else None
        )
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> JwtVerifier:
        """The verifier ``PlatformSettings`` describes (JWT_* variables)."""
        public_key_file = settings.jwt_public_key_file
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm_family=settings.jwt_algorithm_family,
            public_key_pem=public_key_file.read_text() if public_key_file else None,
            jwks_url=settings.jwt_jwks_url,
            leeway_seconds=settings.jwt_leeway_seconds,
        )

    def verify(self, token: str) -> Principal:
        """The caller the token proves, or ApiError UNAUTHORIZED (SERVICE_UNAVAILABLE if the
        issuer's keys cannot be fetched: that outage is ours, not the client's)."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise invalid_token()
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and now < cached[1]:
            return cached[0]
        principal = self._verify_signature_and_claims(token)
        # Remembered until exp (not exp + leeway: a token in its leeway is checked again).
        until = min(float(principal.claims["exp"]), now + _VERIFIED_CACHE_SECONDS)
        while len(self._verified) >= _VERIFIED_CACHE_SIZE:
            # dicts keep insertion order: the first is the oldest; another thread may take it first
            self._verified.pop(next(iter(self._verified), None), None)
        self._verified[token] = (principal, until)
        return principal

    def _verify_signature_and_claims(self, token: str) -> Principal:
        key = self._public_key if self._jwks is None else self._jwks_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
            return Principal.from_claims(claims)
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("token rejected: %s", type(exc).__name__)
            raise invalid_token() from None

    def _jwks_key(self, token: str) -> Any:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise invalid_token() from None
        if not isinstance(kid, str) or not kid:
            raise invalid_token()
        try:
            # Fetches or serves the cached set; a failure here is the issuer's, not the caller's.
            self._jwks.get_signing_keys()
        except (jwt.PyJWTError, ValueError) as exc:
            log.warning("JWKS unavailable: %s", type(exc).__name__)
            raise service_unavailable("the token issuer's keys are unavailable, retry later") from None
        try:
            key = self._jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError:
            log.warning("JWKS unavailable while looking up an unknown kid")
            raise service_unavailable("the token issuer's keys are unavailable, retry later") from None
        except (jwt.PyJWTError, ValueError):
            raise invalid_token() from None
        if not _fits_family(key, self.algorithm_family):
            raise invalid_token()
        return key


def _load_public_key(pem: str, family: str) -> Any:
    key = load_pem_public_key(pem.encode())
    if not _fits_family(key, family):
        raise ValueError(f"the public key does not fit algorithm family {family}")
    return key


def _fits_family(key: Any, family: str) -> bool:
    """RS needs an RSA key, ES a P-256 key: a JWKS entry of another type (an HMAC secret, say)
    must never verify a token, whatever algorithm that key claims."""
    if family == "RS":
        return isinstance(key, rsa.RSAPublicKey)
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)


def invalid_token() -> ApiError:
    return ApiError(
        "UNAUTHORIZED",
        "invalid or expired token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def authentication_required() -> ApiError:
    return ApiError("UNAUTHORIZED", "authentication required", headers={"WWW-Authenticate": "Bearer"})


class OpaqueTokenVerifier(Protocol):
    """Verifies a service's own opaque bearer tokens: those starting with one of ``prefixes``
    (which no JWT does: a JWT starts with its base64url header, ``eyJ``)."""

    prefixes: tuple[str, ...]

    def verify(self, token: str, *, client_address: str | None) -> Principal:
        """The caller the token proves (a ``Principal`` whose ``token_type`` is not ``jwt``), or
        ApiError: UNAUTHORIZED for a token that is not (or no longer) valid, SERVICE_UNAVAILABLE
        when whoever vouches for it cannot be asked."""
        ...


def init_auth(app: Flask, verifier: JwtVerifier) -> None:
    app.extensions[EXTENSION_KEY] = verifier


def init_opaque_tokens(app: Flask, verifier: OpaqueTokenVerifier) -> None:
    """Accept bearer tokens starting with ``verifier.prefixes`` besides the platform's JWTs."""
    if not verifier.prefixes or any(not prefix or prefix.startswith("eyJ") for prefix in verifier.prefixes):
        raise ValueError("opaque token prefixes must be non-empty and unlike a JWT's")
    app.extensions[OPAQUE_EXTENSION_KEY] = verifier


def current_principal() -> Principal:
    """The caller of this request, verified once and kept on ``flask.g.principal`` (where the
    access log and idempotency read it); 401 without a valid bearer token."""
    principal = g.get("principal")
    if principal is None:
        token = bearer_token()
        if token is None:
            raise authentication_required()
        opaque: OpaqueTokenVerifier | None = current_app.extensions.get(OPAQUE_EXTENSION_KEY)
        if opaque is not None and token.startswith(opaque.prefixes):
            if len(token) > _MAX_TOKEN_LENGTH:
                raise invalid_token()
            principal = opaque.verify(token, client_address=request.remote_addr)
        else:
            principal = current_app.extensions[EXTENSION_KEY].verify(token)
        g.principal = principal
    return principal


def optional_principal() -> Principal | None:
    """None for a request without an Authorization header. A header that is there must be a
    valid bearer token: a broken one is 401, never a silent downgrade to anonymous."""
    if g.get("principal") is None and "Authorization" not in request.headers:
        return None
    return current_principal()


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer <token>`` header, None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def require_auth(view: F) -> F:
    """Any valid token."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_principal()
        return view(*args, **kwargs)

    declare(wrapper, authenticated=True)
    return wrapper  # type: ignore[return-value]


def require_role_or_scope(*, roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> Callable[[F], F]:
    """A valid token with any of ``roles`` or any of ``scopes``: 401 without one, 403 if lacking."""
    wanted_roles, wanted_scopes = _names(roles), _names(scopes)
    if not wanted_roles and not wanted_scopes:
        raise ValueError("name at least one role or scope")
    details: dict[str, Any] = {}
    if wanted_roles:
        details["requiredRoles"] = sorted(wanted_roles)
    if wanted_scopes:
        details["requiredScopes"] = sorted(wanted_scopes)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not (principal.has_role(*wanted_roles) or principal.has_scope(*wanted_scopes)):
                raise ApiError(
                    "FORBIDDEN", "the token lacks the role or scope this operation needs", dict(details)
                )
            return view(*args, **kwargs)

        declare(wrapper, authenticated=True)
        return wrapper  # type: ignore[return-value]

    return decorator


def require_roles(*roles: str) -> Callable[[F], F]:
    """Any of the platform ``roles`` (§7)."""
    return require_role_or_scope(roles=roles)


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Any of ``scopes``: service tokens on internal endpoints."""
    return require_role_or_scope(scopes=scopes)


def _names(names: Iterable[str]) -> frozenset[str]:
    """A lone string is one name, not a set of letters (``roles=("admin")`` is an easy slip)."""
    return frozenset([names] if isinstance(names, str) else names)


def ensure(
    condition: object, code: Literal["FORBIDDEN", "NOT_FOUND"] = "FORBIDDEN", message: str | None = None
) -> None:
    """Raise 403 (or 404, where even existence must not leak) unless ``condition`` holds."""
    if not condition:
        raise ApiError(code, message or ("not allowed" if code == "FORBIDDEN" else "no such resource"))
