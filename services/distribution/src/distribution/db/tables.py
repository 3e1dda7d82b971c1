"""The distribution service's tables (schema ``distribution``), SQLAlchemy Core.

Retailers keep only an Argon2id hash of their client secret. ``retailer_keys`` maps each key a
retailer has been given (through ``GET /retailer/keys``) to its allocation, so a sale knows
which allocations' stock it draws down; the plaintext keys are never stored here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gamekeys_platform.db import service_metadata
from gamekeys_platform.studios import StudioProjection

SCHEMA = "distribution"
metadata = service_metadata(SCHEMA)

retailers = Table(
    "retailers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact_info", JSONB, nullable=False),
    Column("commission_rate", Numeric(5, 4), nullable=False),
    Column("allowed_game_ids", ARRAY(Uuid), nullable=False, server_default=text("'{}'")),
    Column("allowed_regions", ARRAY(String(2)), nullable=False, server_default=text("'{}'")),
    Column("status", String(20), nullable=False),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(255), nullable=False),
    Column("credentials_version", Integer, nullable=False, server_default=text("1")),
    Column("credentials_rotated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('active', 'suspended')", name="status"),
    CheckConstraint("commission_rate >= 0 AND commission_rate < 1", name="commission_rate"),
)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, ForeignKey("retailers.id"), nullable=False),
    Column("game_id", Uuid, nullable=False),
    Column("key_type", String(20), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price_amount", Numeric(13, 3), nullable=False),
    Column("price_currency", String(3), nullable=False),
    Column("restrictions", JSONB, nullable=False),
    Column("low_stock_signalled", Integer),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Unsold keys a platform admin took back (POST /allocations/{id}/release).
    Column("released_keys", Integer, nullable=False, server_default=text("0")),
    Column("released_at", DateTime(timezone=True)),
    CheckConstraint("quantity > 0", name="quantity"),
    Index("ix_allocations_retailer_created", "retailer_id", "created_at", "id"),
)

# An allocation asked of key-manager and not recorded here yet. Written (and committed) before
# the call, deleted in the transaction that records the allocation: a row that outlives the
# request by minutes is an orphan (a crash between key-manager's answer and our commit), whose
# keys the worker gives back to the free pool; it then keeps ``released_at`` so a late retry of
# the same request is refused instead of recording an allocation without keys.
allocation_attempts = Table(
    "allocation_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("released_at", DateTime(timezone=True)),
    Column("released_keys", Integer),
    Index("ix_allocation_attempts_pending", "attempted_at", postgresql_where=text("released_at IS NULL")),
)

retailer_keys = Table(
    "retailer_keys",
    metadata,
    Column("key_id", Uuid, primary_key=True),
    Column("allocation_id", Uuid, ForeignKey("allocations.id"), nullable=False),
    Column("retailer_id", Uuid, nullable=False),
    Column("first_delivered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Per-allocation counts: delivered keys in the overview, delivered unsold ones for a release.
    Index("ix_retailer_keys_allocation_id", "allocation_id"),
)

sales = Table(
    "sales",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, ForeignKey("retailers.id"), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("units", Integer, nullable=False),
    Column("unit_price", Numeric(13, 3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("commission_rate", Numeric(5, 4), nullable=False),
    Column("sold_at", DateTime(timezone=True), nullable=False),
    Column("request_fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("retailer_id", "order_id"),
    Index("ix_sales_retailer_sold_at", "retailer_id", "sold_at"),
)

sale_keys = Table(
    "sale_keys",
    metadata,
    Column("key_id", Uuid, primary_key=True),
    Column("sale_id", Uuid, ForeignKey("sales.id"), nullable=False),
    Column("allocation_id", Uuid, ForeignKey("allocations.id"), nullable=False),
    Column("retailer_id", Uuid, nullable=False),
    Column("status", String(20), nullable=False, server_default=text("'sold'")),
    Column("return_id", Uuid),
    # A chargeback of the order: the key was revoked (not yet redeemed) or its activation disputed.
    Column("chargeback_id", Uuid),
    Column("chargeback_outcome", String(20)),
    CheckConstraint("status IN ('sold', 'returned', 'charged_back')", name="status"),
    CheckConstraint(
        "chargeback_outcome IS NULL OR chargeback_outcome IN ('revoked', 'disputed')",
        name="chargeback_outcome",
    ),
    Index("ix_sale_keys_sale_id", "sale_id"),
    Index("ix_sale_keys_allocation_id", "allocation_id"),
)

returns = Table(
    "returns",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("sale_id", Uuid, ForeignKey("sales.id"), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("units", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

key_fetches = Table(
    "key_fetches",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("allocation_ids", ARRAY(Uuid), nullable=False),
    Column("key_count", Integer, nullable=False),
    Column("cursor", Text),
    Column("request_id", String(128)),
    Column("fetched_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_key_fetches_retailer_fetched_at", "retailer_id", "fetched_at"),
)

activations = Table(
    "activations",
    metadata,
    Column("key_id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("allocation_id", Uuid),
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("source_event", String(64), nullable=False),
    Index("ix_activations_retailer_id", "retailer_id"),
)

# A retailer's unsold keys revoked in one operation (a leak), one row per caller and request id
# (``id`` derives from both): a retry answers the stored report.
stock_revocations = Table(
    "stock_revocations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("request_id", String(128), nullable=False),
    Column("retailer_id", Uuid, ForeignKey("retailers.id"), nullable=False),
    Column("game_id", Uuid),  # only this game's allocations
    Column("allocation_id", Uuid),  # only this allocation
    Column("reason", String(500), nullable=False),
    Column("revoked_keys", Integer, nullable=False),
    Column("report", JSONB, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_stock_revocations_retailer_created", "retailer_id", "created_at"),
)

# A retailer's chargeback of (part of) an order: its keys not yet redeemed were revoked, its
# activated ones disputed (sale_keys says which, per key).
chargebacks = Table(
    "chargebacks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("sale_id", Uuid, ForeignKey("sales.id"), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("units", Integer, nullable=False),
    Column("revoked_units", Integer, nullable=False),
    Column("disputed_units", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_chargebacks_retailer_created", "retailer_id", "created_at"),
    Index("ix_chargebacks_sale_id", "sale_id"),
)

# Projection of developer.events (studios, members, game ownership): which studio may revoke its
# own games' stock at a retailer.
studio_projection = StudioProjection.define(metadata)
