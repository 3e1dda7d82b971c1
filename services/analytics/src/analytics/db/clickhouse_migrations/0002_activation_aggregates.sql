-- Activation attempts counted per hour, kept exact by the worker's aggregator (analytics/aggregates.py).
--
-- A materialized view is an insert trigger: summing in one would count a redelivered event twice.
-- The views here only copy rows (a table that collapses copies, and a log of which attempts
-- changed); the counts are recomputed, a whole hour of a game at a time, from de-duplicated
-- attempts.

-- Every activation event again, ordered by game and attempt (the subject), so that all the
-- events of an attempt are found by its game and id whenever they happened (an attempt's events
-- all name its game). Copies of an event collapse on (game_id, subject, event_id); the readers
-- group by attempt with min/argMin/argMax, which a copy does not change. Attempts whose key
-- matched no game are in no report and are left out.
CREATE TABLE IF NOT EXISTS activation_attempt_events
(
    subject String,
    event_id UUID,
    game_id UUID,
    type String,
    occurred_at DateTime('UTC'),
    occurred_at_us Int64,
    country String,
    key_type String
)
ENGINE = ReplacingMergeTree
ORDER BY (game_id, subject, event_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS activation_attempt_events_feed TO activation_attempt_events AS
SELECT subject, event_id, game_id, type, occurred_at, occurred_at_us, country, key_type
FROM events
WHERE type IN ('activation.succeeded', 'activation.failed', 'activation.blocked',
               'activation.pending_review', 'activation.disputed')
  AND game_id != toUUID('00000000-0000-0000-0000-000000000000');

-- Which attempts have new events, stamped with the server's clock when the insert ran (unlike
-- events.ingested_at, stamped by the consumer before a batch that may wait out an outage), so
-- the aggregator reads what changed since its last pass as a range of this table's key. Daily
-- partitions the aggregator drops once it is past them.
CREATE TABLE IF NOT EXISTS activation_changes
(
    logged_at DateTime('UTC'),
    game_id UUID,
    subject String
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(logged_at)
ORDER BY logged_at;

CREATE MATERIALIZED VIEW IF NOT EXISTS activation_changes_feed TO activation_changes AS
SELECT now() AS logged_at, game_id, subject
FROM events
WHERE type IN ('activation.succeeded', 'activation.failed', 'activation.blocked',
               'activation.pending_review', 'activation.disputed')
  AND game_id != toUUID('00000000-0000-0000-0000-000000000000');

-- One row per game and UTC hour (the hour its attempts began) and version: the attempts of
-- that hour grouped by claimed country, key type and the type of their latest event, as
-- parallel arrays. A recomputation writes the whole hour again with a higher version; readers
-- take each hour's latest version (argMax), which is also what merges keep, so an hour whose
-- attempts moved elsewhere (an empty row) or a group that dropped to zero disappears.
CREATE TABLE IF NOT EXISTS activation_hourly
(
    game_id UUID,
    hour DateTime('UTC'),
    countries Array(String),
    key_types Array(String),
    outcomes Array(String),
    attempts Array(UInt64),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (game_id, hour);

-- The hours one aggregator pass recomputes; emptied at the start of each pass (one pass at a
-- time, see aggregates.py), so losing it to a restart loses nothing.
CREATE TABLE IF NOT EXISTS activation_dirty_hours
(
    game_id UUID,
    hour DateTime('UTC')
)
ENGINE = Memory;

-- The events stored before the views existed. Repeating this (a migration run again) adds
-- copies that collapse.
INSERT INTO activation_attempt_events
SELECT subject, event_id, game_id, type, occurred_at, occurred_at_us, country, key_type
FROM events
WHERE type IN ('activation.succeeded', 'activation.failed', 'activation.blocked',
               'activation.pending_review', 'activation.disputed')
  AND game_id != toUUID('00000000-0000-0000-0000-000000000000');

-- Every attempt of those events logged as changed, so the aggregator's first pass writes their
-- hours (in slices, as it does any large pass) rather than this migration in one statement,
-- which a large table would not fit in a query's memory.
INSERT INTO activation_changes (logged_at, game_id, subject)
SELECT now(), game_id, subject FROM activation_attempt_events;
