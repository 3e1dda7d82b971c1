"""A stand-in for the platform's Payment Service, for local development only.

The real Payment Service is not part of this project: it sells games in the store and pays
studios, and tells finance (developer-portal) about both on payments.events. This stand-in
publishes the same events, checked against their contracts, so the ledger can be driven
locally: the demo (`make run`) uses it, and so can a developer by hand:

    STAND_IN=deploy/local/payment_service.py
    .venv/bin/python $STAND_IN credit --developer D --game G --gross 59.99 [--currency EUR]
    .venv/bin/python $STAND_IN reverse --revenue R --developer D --game G --gross 59.99 \\
        [--kind chargeback --fee 15.00]
    .venv/bin/python $STAND_IN complete --payout P --developer D --amount 100.00 --currency EUR
    .venv/bin/python $STAND_IN fail --payout P --developer D --amount 100.00 --currency EUR

Each command prints the event it published.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from kafka import KafkaProducer

from gamekeys_platform.contracts import EventData, payments
from gamekeys_platform.contracts.base import Money

TOPIC = "payments.events"


def publish(data: EventData, servers: str | None = None) -> dict:
    """Publish one event to payments.events (keyed by its subject, as producers do)."""
    event = data.to_event()
    servers = servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    producer = KafkaProducer(bootstrap_servers=servers.split(","), acks="all")
    try:
        producer.send(TOPIC, key=event.subject.encode(), value=event.to_json()).get(timeout=30)
    finally:
        producer.close()
    return event.to_dict()


def credit(
    developer_id: str, game_id: str, gross: str, currency: str = "USD", *, order_id: str | None = None
) -> dict:
    """A store sale of the studio's game (revenue.credited); ``order_id`` the store order whose
    keys key-manager issued (a new one by default)."""
    return publish(
        payments.RevenueCredited(
            revenue_id=uuid.uuid4(),
            developer_id=developer_id,
            game_id=game_id,
            order_id=order_id or f"store-{uuid.uuid4().hex[:12]}",
            gross=Money(amount=Decimal(gross), currency=currency),
            occurred_at=datetime.now(UTC),
        )
    )


def reverse(
    revenue_id: str,
    developer_id: str,
    game_id: str,
    gross: str,
    currency: str = "USD",
    *,
    kind: str = "refund",
    fee: str | None = None,
) -> dict:
    """A refund or chargeback of a store sale (revenue.reversed)."""
    return publish(
        payments.RevenueReversed(
            reversal_id=uuid.uuid4(),
            revenue_id=revenue_id,
            developer_id=developer_id,
            game_id=game_id,
            order_id="store-order",
            kind=kind,
            gross=Money(amount=Decimal(gross), currency=currency),
            fee=None if fee is None else Money(amount=Decimal(fee), currency=currency),
            occurred_at=datetime.now(UTC),
        )
    )


def complete(payout_id: str, developer_id: str, amount: str, currency: str) -> dict:
    """The payout reached the studio (payout.completed)."""
    return publish(
        payments.PayoutCompleted(
            payout_id=payout_id,
            developer_id=developer_id,
            amount=Money(amount=Decimal(amount), currency=currency),
            reference=f"local-{uuid.uuid4().hex[:10]}",
            completed_at=datetime.now(UTC),
        )
    )


def fail(
    payout_id: str, developer_id: str, amount: str, currency: str, reason: str = "account closed"
) -> dict:
    """The payout could not be made (payout.failed): finance returns the money to available."""
    return publish(
        payments.PayoutFailed(
            payout_id=payout_id,
            developer_id=developer_id,
            amount=Money(amount=Decimal(amount), currency=currency),
            reason=reason,
            failed_at=datetime.now(UTC),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("credit", help="a store sale")
    c.add_argument("--developer", required=True)
    c.add_argument("--game", required=True)
    c.add_argument("--gross", required=True)
    c.add_argument("--currency", default="USD")
    r = commands.add_parser("reverse", help="a refund or chargeback of a store sale")
    r.add_argument("--revenue", required=True)
    r.add_argument("--developer", required=True)
    r.add_argument("--game", required=True)
    r.add_argument("--gross", required=True)
    r.add_argument("--currency", default="USD")
    r.add_argument("--kind", choices=("refund", "chargeback"), default="refund")
    r.add_argument("--fee")
    for name in ("complete", "fail"):
        p = commands.add_parser(name, help=f"answer a payout: {name}")
        p.add_argument("--payout", required=True)
        p.add_argument("--developer", required=True)
        p.add_argument("--amount", required=True)
        p.add_argument("--currency", required=True)
    args = parser.parse_args()
    if args.command == "credit":
        event = credit(args.developer, args.game, args.gross, args.currency)
    elif args.command == "reverse":
        event = reverse(
            args.revenue, args.developer, args.game, args.gross, args.currency, kind=args.kind, fee=args.fee
        )
    elif args.command == "complete":
        event = complete(args.payout, args.developer, args.amount, args.currency)
    else:
        event = fail(args.payout, args.developer, args.amount, args.currency)
    print(json.dumps(event, indent=2))


if __name__ == "__main__":
    main()
