-- What the events say about each key, per batch and per retailer, for the batch and retailer
-- funnels, kept exact by the worker's aggregator (analytics/aggregates.py) the way 0002 keeps
-- activations: views log which keys an event names (they copy, they do not count), and the
-- aggregator writes each such key again, wholly, from its de-duplicated events
-- (db/key_facts.py), at a higher version.

-- Which keys have new events, stamped with the server's clock when the insert ran. Every event
-- naming a key by its id (a key's batch and game can come from any of them), and the keys of the
-- bulk events the funnels read: sales and returns (key-manager's), chargebacks, and
-- distribution's sales, which name a key's game. Two views, because 18.16 cannot ARRAY JOIN an
-- expression inside a materialized view.
CREATE TABLE IF NOT EXISTS key_changes
(
    logged_at DateTime('UTC'),
    key_id UUID
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(logged_at)
ORDER BY logged_at;

CREATE MATERIALIZED VIEW IF NOT EXISTS key_changes_by_key_id TO key_changes AS
SELECT now() AS logged_at, key_id
FROM events
WHERE key_id != toUUID('00000000-0000-0000-0000-000000000000');

CREATE MATERIALIZED VIEW IF NOT EXISTS key_changes_by_key_ids TO key_changes AS
SELECT now() AS logged_at, key_ids AS key_id
FROM events
ARRAY JOIN key_ids
WHERE type IN ('key.sold', 'key.returned', 'sale.charged_back', 'sale.recorded');

-- One row per batch, key and version: what the key's events say about it as a key of that batch
-- (the facts of domain.funnels' batch figures). A key's batch never changes, and a key once a
-- batch's stays that batch's, so a recomputation writes the key's cell of every batch its
-- events name, and no cell ever has to be emptied. Times of what never happened are
-- 1970-01-01 00:00:00 (0), ids the nil UUID. Readers take each key's latest version (argMax),
-- which is also what merges keep. Ordered by batch: one batch's keys are a range.
CREATE TABLE IF NOT EXISTS key_batch_facts
(
    batch_id UUID,
    key_id UUID,
    allocated UInt8,
    allocation_id UUID,
    sold_at DateTime('UTC'),
    activated_at DateTime('UTC'),
    revoked UInt8,
    expired UInt8,
    returned UInt8,
    charged_back UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (batch_id, key_id);

-- The same per retailer: what the events naming the retailer say about the key, with the key's
-- game (a studio's members see their own games' keys only). The retailers a key's events name
-- only grow: a recomputation writes one cell per retailer. Whether a retailer's key was
-- allocated is not kept: its funnel's allocated is what its allocations say.
CREATE TABLE IF NOT EXISTS key_retailer_facts
(
    retailer_id UUID,
    key_id UUID,
    game_id UUID,
    sold_at DateTime('UTC'),
    activated_at DateTime('UTC'),
    revoked UInt8,
    expired UInt8,
    returned UInt8,
    charged_back UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (retailer_id, key_id);

-- The keys one aggregator pass recomputes; emptied at the start of each pass.
CREATE TABLE IF NOT EXISTS key_dirty_keys
(
    key_id UUID
)
ENGINE = Memory;

-- The events of the keys of the slice of them a pass is writing, one row per event and key
-- (db/key_facts.py), read once from ``events`` for both fact tables; emptied at each slice.
CREATE TABLE IF NOT EXISTS key_slice_events
(
    key UUID,
    type String,
    occurred_at DateTime('UTC'),
    occurred_at_us Int64,
    game_id UUID,
    retailer_id UUID,
    allocation_id UUID,
    by_id UInt8,
    among_ids UInt8,
    key_batch UUID,
    sale_games Array(String)
)
ENGINE = Memory;

-- Every key the events stored before the views name (``key_events``, 0003, holds them all)
-- logged as changed, so the aggregator's first pass writes them, in slices.
INSERT INTO key_changes (logged_at, key_id)
SELECT now(), key_id FROM key_events;
