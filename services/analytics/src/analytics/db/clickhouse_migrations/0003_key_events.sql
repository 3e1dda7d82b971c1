-- A key's events found by the key: one row per key an event names (its key id, or each of a bulk
-- event's key ids), with the event's sorting key in ``events``, so a key's timeline reads a few
-- granules of each table instead of every event.
--
-- The views only copy: a redelivered event's copies share (key_id, event_id) and collapse, and
-- the timeline reads one row per event id before that. Two views, because 18.16 cannot ARRAY
-- JOIN an expression (key_id with key_ids) inside a materialized view.
CREATE TABLE IF NOT EXISTS key_events
(
    key_id UUID,
    event_id UUID,
    game_id UUID,
    type String,
    occurred_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (key_id, event_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS key_events_by_key_id TO key_events AS
SELECT key_id, event_id, game_id, type, occurred_at
FROM events
WHERE key_id != toUUID('00000000-0000-0000-0000-000000000000');

CREATE MATERIALIZED VIEW IF NOT EXISTS key_events_by_key_ids TO key_events AS
SELECT key_ids AS key_id, event_id, game_id, type, occurred_at
FROM events
ARRAY JOIN key_ids;

-- The events stored before the views existed (run again, it adds copies that collapse).
INSERT INTO key_events
SELECT key_id, event_id, game_id, type, occurred_at
FROM events
WHERE key_id != toUUID('00000000-0000-0000-0000-000000000000');

INSERT INTO key_events
SELECT key_ids AS key_id, event_id, game_id, type, occurred_at
FROM events
ARRAY JOIN key_ids;
