"""The key manager's tables (schema ``key_manager``), SQLAlchemy Core.

``keys`` holds no plaintext: a keyed lookup hash (unique) and an AES-GCM ciphertext. A key's id
starts with its batch id's first 8 bytes (``domain.batches.key_id_range``), so the primary key
doubles as the by-batch index; the table keeps only two indexes on the 100,000-row insert path.
The migration gives ``keys`` fillfactor 50, so state changes are heap-only updates (no index
writes: ``status`` is deliberately in no index).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gamekeys_platform.db import service_metadata
from gamekeys_platform.studios import StudioProjection
from gamekeys_platform.support import SupportLog

SCHEMA = "key_manager"
metadata = service_metadata(SCHEMA)

KEY_STATUSES = ("generated", "allocated", "sold", "activated", "pending_review", "revoked", "expired")
KEY_TYPES = ("retail", "promotional", "developer", "gift", "subscription")
BATCH_STATUSES = ("pending", "generating", "completed", "failed", "revoked", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


batches = Table(
    "batches",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key_id_prefix", LargeBinary(8), nullable=False, unique=True),
    Column("game_id", Uuid, nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("key_type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("synchronous", Boolean, nullable=False),
    Column("total_keys", Integer, nullable=False),
    Column("generated_keys", Integer, nullable=False, server_default=text("0")),
    Column("regional_restrictions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("allowed_countries", ARRAY(String(2))),  # NULL: every country not denied
    Column("denied_countries", ARRAY(String(2)), nullable=False, server_default=text("'{}'")),
    Column("expires_at", DateTime(timezone=True)),
    Column("keys_expired_at", DateTime(timezone=True)),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("lease_until", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("failure_reason", String(500)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(128)),
    Column("revoke_reason", String(500)),
    Column("revoked_keys", Integer),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancelled_by", String(128)),
    Column("cancel_reason", String(500)),
    # Allocation hint: the batch's free keys were at or above this key id when last allocated
    # from (NULL: from the start). Keys freed again below it reset it; see create_allocation.
    Column("free_from", Uuid),
    CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
    CheckConstraint(_in("key_type", KEY_TYPES), name="key_type"),
    CheckConstraint("total_keys BETWEEN 1 AND 100000", name="total_keys"),
    Index("ix_batches_game_created", "game_id", "created_at", "id"),
    Index("ix_batches_developer_created", "developer_id", "created_at", "id"),
    Index(
        "ix_batches_to_generate", "created_at", postgresql_where=text("status IN ('pending', 'generating')")
    ),
    Index(
        "ix_batches_to_expire",
        "expires_at",
        postgresql_where=text("keys_expired_at IS NULL AND expires_at IS NOT NULL"),
    ),
)

keys = Table(
    "keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("batch_id", Uuid, nullable=False),
    Column("game_id", Uuid, nullable=False),
    Column("developer_id", Uuid, nullable=False),
    Column("key_type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("lookup_hash", LargeBinary(32), nullable=False, unique=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("encryption_key_id", String(32), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status_changed_at", DateTime(timezone=True), nullable=False),
    Column("allocation_id", Uuid),
    Column("retailer_id", Uuid),
    Column("order_id", String(128)),
    Column("sold_at", DateTime(timezone=True)),
    Column("hold_id", String(128)),
    Column("held_from_status", String(20)),
    Column("activated_at", DateTime(timezone=True)),
    Column("activated_by", String(128)),
    Column("activation_id", String(128)),
    Column("activation_region", String(2)),
    CheckConstraint(_in("status", KEY_STATUSES), name="status"),
    Index("ix_keys_allocation", "allocation_id", "id", postgresql_where=text("allocation_id IS NOT NULL")),
)

# Every change of a key's state: who, when, from, to, why (bulk operations write one row a key).
key_transitions = Table(
    "key_transitions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("key_id", Uuid, nullable=False),
    Column("from_status", String(20), nullable=False),
    Column("to_status", String(20), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", String(500)),
    Column("operation", String(40), nullable=False),
    Column("request_id", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_key_transitions_key", "key_id", "id"),
)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("game_id", Uuid, nullable=False),
    Column("key_type", String(20), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_allocations_retailer", "retailer_id", "game_id"),
)

# A retailer's unsold keys revoked in one operation (a leaking channel), one row per request id:
# a retry answers the stored report instead of revoking again.
stock_revocations = Table(
    "stock_revocations",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("retailer_id", Uuid, nullable=False),
    Column("game_ids", ARRAY(Uuid)),  # NULL: every game
    Column("allocation_id", Uuid),  # NULL: every allocation (of those games)
    Column("reason", String(500), nullable=False),
    Column("revoked_keys", Integer, nullable=False),
    Column("report", JSONB, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Activated keys whose purchase was charged back (a retailer's order) or refunded (a store
# order): the key stays activated, its activation is disputed. One row per key (it was activated
# once); ``reference`` is the chargeback id or the store order id.
DISPUTE_SOURCES = ("chargeback", "store_refund")
key_disputes = Table(
    "key_disputes",
    metadata,
    Column("key_id", Uuid, primary_key=True),
    Column("activation_id", String(128)),
    Column("activated_by", String(128)),
    Column("source", String(20), nullable=False),
    Column("reference", String(128), nullable=False),
    Column("retailer_id", Uuid),
    Column("order_id", String(128)),
    Column("reason", String(500), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("source", DISPUTE_SOURCES), name="source"),
)

# Support's look-ups of a key by its plaintext (provenance): who, when, which key (NULL: none
# matched). The plaintext is never stored.
key_lookups = Table(
    "key_lookups",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("key_id", Uuid),
    Column("actor", String(128), nullable=False),
    Column("reason", String(500)),
    Column("request_id", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_key_lookups_actor", "actor", "created_at"),
)

# Keys issued by the store (the Payment Service's paid orders), one row per order id: the order
# is the idempotency key of the issue call and what a refund finds the keys by.
store_orders = Table(
    "store_orders",
    metadata,
    Column("order_id", String(128), primary_key=True),
    Column("game_id", Uuid, nullable=False),
    Column("key_type", String(20), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("buyer_id", Uuid, nullable=False),
    Column("region", String(2), nullable=False),
    Column("key_ids", ARRAY(Uuid), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("refunded_at", DateTime(timezone=True)),
    Column("refunded_by", String(128)),
    Column("refund_reason", String(500)),
    CheckConstraint("quantity BETWEEN 1 AND 100", name="quantity"),
    Index("ix_store_orders_game_key_type", "game_id", "key_type"),
)

# A studio's cap on the keys of a game and key type the store may sell (absent: no cap). ``sold``
# counts the store's keys of that game and type not taken back by a refund, kept by the issue and
# refund calls under the game and type's allocation lock; set from the keys when the cap is.
store_quotas = Table(
    "store_quotas",
    metadata,
    Column("game_id", Uuid, primary_key=True),
    Column("key_type", String(20), primary_key=True),
    Column("developer_id", Uuid, nullable=False),
    Column("quota", Integer, nullable=False),
    Column("sold", Integer, nullable=False, server_default=text("0")),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("quota >= 0", name="quota"),
    CheckConstraint("sold >= 0", name="sold"),
)

# Audit of every disclosure of plaintext keys (JSON pages, CSV exports, allocation listings).
key_exports = Table(
    "key_exports",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("batch_id", Uuid),
    Column("allocation_id", Uuid),
    Column("order_id", String(128)),
    Column("actor", String(128), nullable=False),
    Column("format", String(10), nullable=False),
    Column("key_count", Integer),
    Column("cursor", String(200)),
    Column("request_id", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_key_exports_batch", "batch_id", "created_at"),
)

# Projection of developer.events: studios, team members and game ownership, for authorization.
studio_projection = StudioProjection.define(metadata)

# The Admin Service's support look-ups of keys: who for, why, what was asked.
support_log = SupportLog.define(metadata)
