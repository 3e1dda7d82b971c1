"""Helpers of the developer portal's tests: people with tokens, studios, teams and games built
through the API itself, and assertions on §3 responses. (A module with a name of its own:
every service's tests share one interpreter, so a plain ``helpers`` would collide.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from developer_portal.db.builds_projection import apply_builds_event
from developer_portal.db.tables import audit_log
from developer_portal.usecases.finance import finance_events, release_holds
from gamekeys_platform.contracts import contract_for, distribution, payments
from gamekeys_platform.contracts.base import Money
from gamekeys_platform.currencies import minor_unit
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.events import Event

PREFIX = "/api/v1/developer"
# An issuer the portal trusts (conftest) whose JWKS endpoint answers nothing (a closed port).
UNREACHABLE_ISSUER = "https://unreachable-issuer.example"
VERIFY_SCOPE = "developers:verify"


def legal_details(**overrides: Any) -> dict[str, Any]:
    return {
        "legalName": "Northwind Games GmbH",
        "country": "DE",
        "registrationNumber": "HRB 12345",
        "taxId": "DE123456789",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115"},
        "contactEmail": "legal@northwind.example",
        **overrides,
    }


@dataclass
class Actor:
    """Someone calling the API with a token of their own."""

    client: FlaskClient
    token: str
    user_id: str
    email: str | None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, json: Any = None, headers: dict | None = None, **kwargs):
        url = path if path.startswith(("/internal", "/openapi", "/healthz", "/readyz")) else PREFIX + path
        all_headers = {"Authorization": f"Bearer {self.token}", **self.extra_headers, **(headers or {})}
        return self.client.open(url, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


def expect(response, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json() if response.get_data() else None


def assert_error(response, status: int, code: str, reason: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["message"] and error["timestamp"].endswith("Z")
    assert error["requestId"] == response.headers["X-Request-Id"]
    if reason is not None:
        assert error["details"].get("reason") == reason, error
    return error


class Portal:
    """Builds people, studios, teams and games through the API."""

    def __init__(self, app, make_token: Callable[..., str]) -> None:
        self.app = app
        self.make_token = make_token
        self.service = Actor(
            app.test_client(),
            make_token(sub="admin-service", roles=(), scopes=(VERIFY_SCOPE,)),
            "admin-service",
            None,
        )

    def user(self, *, roles=("user",), email: str | None = "", sub: str | None = None) -> Actor:
        user_id = sub or str(uuid.uuid4())
        if email == "":
            email = f"user-{user_id[:8]}@example.com"
        token = self.make_token(sub=user_id, roles=roles, email=email)
        return Actor(self.app.test_client(), token, user_id, email)

    def register(self, actor: Actor, name: str | None = None) -> dict:
        body = {"companyName": name or f"Studio {uuid.uuid4().hex[:8]}", "legalDetails": legal_details()}
        return expect(actor.post("/accounts", json=body), 201)

    def verify(self, developer_id: str, status: str = "verified", reason: str | None = None) -> dict:
        response = self.service.post(
            f"/internal/v1/developers/{developer_id}/verification", json={"status": status, "reason": reason}
        )
        return expect(response, 200)

    def studio(self, *, verified: bool = True) -> tuple[Actor, dict]:
        admin = self.user()
        developer = self.register(admin)
        if verified:
            developer = self.verify(developer["developerId"])
        return admin, developer

    def invite(self, admin: Actor, email: str, role: str) -> dict:
        return expect(admin.post("/accounts/me/team", json={"email": email, "role": role}), 201)

    def member(self, admin: Actor, role: str) -> Actor:
        person = self.user()
        invitation = self.invite(admin, person.email, role)
        expect(person.post(f"/accounts/invitations/{invitation['invitationId']}/accept"), 200)
        return person

    def game(self, actor: Actor, title: str | None = None) -> dict:
        return expect(actor.post("/games", json={"title": title or f"Game {uuid.uuid4().hex[:8]}"}), 201)


def audit_count(db, developer_id: str) -> int:
    with db.transaction() as session:
        return session.execute(
            select(func.count()).where(audit_log.c.developer_id == uuid.UUID(developer_id))
        ).scalar_one()


def outbox_count(db) -> int:
    with db.transaction() as session:
        return session.execute(select(func.count()).select_from(db.tables.outbox)).scalar_one()


# --- publishing -----------------------------------------------------------------------------

MODERATE_SCOPE = "games:moderate"

_BUILD_EXTRA = {
    "build.upload_started": lambda: {"createdBy": "ci"},
    "build.scanned": lambda: {"scanner": "ClamAV 1.0"},
    "build.ready": lambda: {"sha256": "ab" * 32},
    "build.failed": lambda: {"failure": {"reason": "malware", "signature": "Eicar-Test-Signature"}},
    "build.rejected": lambda: {"reason": "broken installer"},
}
_BUILD_STATUS = {
    "build.upload_started": "uploading",
    "build.uploaded": "uploaded",
    "build.scanned": "processing",
    "build.ready": "ready",
    "build.failed": "failed",
    "build.rejected": "rejected",
}


def build_event(
    event_type: str,
    game: dict,
    *,
    version_id: str | None = None,
    version: str = "1.0.0",
    platform: str = "windows",
    occurred_at: datetime | None = None,
) -> Event:
    """A builds.events event as game-builds writes it (checked against its contract)."""
    version_id = version_id or str(uuid.uuid4())
    data = {
        "versionId": version_id,
        "gameId": game["gameId"],
        "developerId": game["developerId"],
        "version": version,
        "platform": platform,
        "status": _BUILD_STATUS[event_type],
        "fileSize": 1024,
        "stepSeconds": 1.5,
        "occurredAt": format_timestamp(occurred_at or datetime.now(UTC)),
        **_BUILD_EXTRA.get(event_type, dict)(),
    }
    contract_for("game-builds", event_type).load(data)  # what the producer may send
    return Event(type=event_type, source="game-builds", subject=version_id, data=data)


def project(db, *events: Event) -> None:
    """Events through the worker's handler, each in its own transaction, as the consumer does."""
    for event in events:
        with db.transaction() as session:
            apply_builds_event(session, event)


def ready_build(db, game: dict, **kwargs) -> str:
    event = build_event("build.ready", game, **kwargs)
    project(db, event)
    return event.data["versionId"]


def complete_listing(actor: Actor, game: dict, *, price: str = "19.99") -> None:
    gid = game["gameId"]
    body = {"description": "A long description.", "shortDescription": "Short.", "genres": ["indie"]}
    expect(actor.put(f"/games/{gid}/metadata", json=body), 200)
    expect(actor.put(f"/games/{gid}/pricing", json={"basePrice": {"amount": price, "currency": "USD"}}), 200)


def moderator(portal: Portal) -> Actor:
    token = portal.make_token(sub="admin-service", roles=(), scopes=(MODERATE_SCOPE,))
    return Actor(portal.app.test_client(), token, "admin-service", None)


# --- finance --------------------------------------------------------------------------------


def retailer_sale(
    game: dict,
    *,
    quantity: int = 1,
    unit_price: str = "10.00",
    commission_rate: str = "0.15",
    currency: str = "USD",
    retailer_id: uuid.UUID | None = None,
    sold_at: datetime | None = None,
) -> Event:
    """A sale.recorded as distribution writes it: gross, commission (half up to the currency's
    minor unit) and net."""
    price = Decimal(unit_price)
    gross = price * quantity
    commission = (gross * Decimal(commission_rate)).quantize(minor_unit(currency), ROUND_HALF_UP)
    return distribution.SaleRecorded(
        sale_id=uuid.uuid4(),
        retailer_id=retailer_id or uuid.uuid4(),
        order_id=f"order-{uuid.uuid4().hex[:8]}",
        key_ids=[uuid.uuid4() for _ in range(quantity)],
        quantity=quantity,
        unit_price=Money(amount=price, currency=currency),
        gross=Money(amount=gross, currency=currency),
        commission=Money(amount=commission, currency=currency),
        net=Money(amount=gross - commission, currency=currency),
        sold_at=sold_at or datetime.now(UTC),
        games=[distribution.GameUnits(game_id=game["gameId"], quantity=quantity)],
    ).to_event()


def retailer_return(sale: Event, quantity: int) -> Event:
    data = sale.data
    [line] = data["games"]
    return distribution.SaleReturned(
        return_id=uuid.uuid4(),
        sale_id=data["saleId"],
        retailer_id=data["retailerId"],
        order_id=data["orderId"],
        key_ids=data["keyIds"][:quantity],
        quantity=quantity,
        reason="customer refund",
        games=[distribution.GameUnits(game_id=line["gameId"], quantity=quantity)],
    ).to_event()


def retailer_chargeback(sale: Event, quantity: int) -> Event:
    data = sale.data
    [line] = data["games"]
    price = Decimal(data["unitPrice"]["amount"])
    return distribution.SaleChargedBack(
        chargeback_id=uuid.uuid4(),
        sale_id=data["saleId"],
        retailer_id=data["retailerId"],
        order_id=data["orderId"],
        key_ids=data["keyIds"][:quantity],
        quantity=quantity,
        amount=Money(amount=price * quantity, currency=data["unitPrice"]["currency"]),
        revoked_key_ids=data["keyIds"][:quantity],
        disputed_key_ids=[],
        reason="fraud",
        charged_back_at=datetime.now(UTC),
        games=[distribution.GameUnits(game_id=line["gameId"], quantity=quantity)],
    ).to_event()


def store_revenue(
    game: dict, gross: str, *, currency: str = "USD", occurred_at: datetime | None = None
) -> Event:
    """A revenue.credited as the Payment Service sends it."""
    return payments.RevenueCredited(
        revenue_id=uuid.uuid4(),
        developer_id=game["developerId"],
        game_id=game["gameId"],
        order_id=f"store-{uuid.uuid4().hex[:8]}",
        gross=Money(amount=Decimal(gross), currency=currency),
        occurred_at=occurred_at or datetime.now(UTC),
    ).to_event()


def store_reversal(revenue: Event, gross: str, *, kind: str = "refund", fee: str | None = None) -> Event:
    data = revenue.data
    currency = data["gross"]["currency"]
    return payments.RevenueReversed(
        reversal_id=uuid.uuid4(),
        revenue_id=data["revenueId"],
        developer_id=data["developerId"],
        game_id=data["gameId"],
        order_id=data["orderId"],
        kind=kind,
        gross=Money(amount=Decimal(gross), currency=currency),
        fee=None if fee is None else Money(amount=Decimal(fee), currency=currency),
        occurred_at=datetime.now(UTC),
    ).to_event()


def payout_answer(payout: dict, developer_id: str, *, completed: bool = True) -> Event:
    common = {
        "payout_id": payout["payoutId"],
        "developer_id": developer_id,
        "amount": Money(amount=Decimal(payout["amount"]["amount"]), currency=payout["amount"]["currency"]),
    }
    if completed:
        return payments.PayoutCompleted(
            **common, reference="bank-ref-1", completed_at=datetime.now(UTC)
        ).to_event()
    return payments.PayoutFailed(**common, reason="account closed", failed_at=datetime.now(UTC)).to_event()


def consume(app, *events: Event, per_poll: int = 1) -> None:
    """Events through the finance consumer's handler, each in its own transaction, or
    ``per_poll`` a transaction handed over together as the consumer does with a poll."""
    state = app.extensions["developer_portal"]
    handle = finance_events(state)
    for start in range(0, len(events), per_poll):
        with state.db.transaction() as session:
            handle.handle_all(session, events[start : start + per_poll])


def release_all(app) -> int:
    """Release every hold as if the hold period had passed."""
    return release_holds(app.extensions["developer_portal"], now=datetime.now(UTC) + timedelta(days=3650))


def paid_studio(portal: Portal, app, *, amount: str = "500.00") -> tuple[Actor, dict, dict]:
    """A verified studio with a game, payout settings, and ``amount`` USD available (a store
    sale on the default 30 % share, its hold passed)."""
    admin, developer = portal.studio()
    game = portal.game(admin)
    gross = (Decimal(amount) / Decimal("0.7")).quantize(Decimal("0.01"))
    consume(app, store_revenue(game, str(gross)))
    release_all(app)
    expect(admin.put("/finance/settings", json=PAYPAL_SETTINGS), 200)
    return admin, developer, game


PAYPAL_SETTINGS = {"method": "paypal", "details": {"email": "money@studio.example"}}


# --- the Catalog's listings and the Admin Service -----------------------------------------


def approved_game(portal: Portal, db, admin: Actor) -> tuple[dict, str]:
    """A game of ``admin``'s studio through the workflow up to publishing: listing complete, a
    ready build, submitted, approved by the moderator. Returns the game and the version id."""
    game = portal.game(admin)
    complete_listing(admin, game)
    version_id = ready_build(db, game)
    submission = expect(admin.post(f"/games/{game['gameId']}/versions/{version_id}/submit"), 202)
    expect(
        moderator(portal).post(
            f"/internal/v1/submissions/{submission['submissionId']}/decision", json={"decision": "approve"}
        ),
        200,
    )
    return game, version_id


def published_game(portal: Portal, db, admin: Actor | None = None) -> tuple[Actor, dict, str]:
    """An approved game (``approved_game``) published. Returns the studio admin, the game, the
    version id."""
    if admin is None:
        admin, _developer = portal.studio()
    game, version_id = approved_game(portal, db, admin)
    expect(admin.post(f"/games/{game['gameId']}/publish"), 200)
    return admin, game, version_id


def outbox_data(db, event_type: str, subject: str) -> list[dict]:
    """The data of the outbox's ``event_type`` events about ``subject``, oldest first, each one
    checked against its contract."""
    outbox = db.tables.outbox
    with db.transaction() as session:
        payloads = session.execute(
            select(outbox.c.payload)
            .where(outbox.c.event_type == event_type, outbox.c.message_key == subject)
            .order_by(outbox.c.seq)
        ).scalars()
        found = [Event.from_dict(payload) for payload in payloads]
    for event in found:
        contract_for(event.source, event.type).load(event.data, event.schema_version)
    return [event.data for event in found]
