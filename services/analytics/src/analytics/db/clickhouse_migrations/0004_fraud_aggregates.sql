-- Fraud assessments counted per UTC hour by rule and verdict, kept exact by the worker's
-- aggregator (analytics/aggregates.py) the way migration 0002 keeps activations: a view logs
-- which hours got an assessment (it copies, it does not count), and the aggregator writes each
-- such hour again, wholly, from the assessments grouped by event id.

CREATE TABLE IF NOT EXISTS fraud_changes
(
    logged_at DateTime('UTC'),
    hour DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(logged_at)
ORDER BY logged_at;

CREATE MATERIALIZED VIEW IF NOT EXISTS fraud_changes_feed TO fraud_changes AS
SELECT now() AS logged_at, toStartOfHour(occurred_at) AS hour
FROM events
WHERE type = 'fraud.assessed';

-- One row per UTC hour and version: the hour's assessments by rule ('' for the assessments
-- themselves), mode ('active', 'shadow'; '' with rule '') and verdict (ALLOW, REVIEW, BLOCK),
-- as parallel arrays; readers take each hour's latest version.
CREATE TABLE IF NOT EXISTS fraud_hourly
(
    hour DateTime('UTC'),
    rules Array(String),
    modes Array(String),
    actions Array(String),
    assessments Array(UInt64),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY hour;

CREATE TABLE IF NOT EXISTS fraud_dirty_hours
(
    hour DateTime('UTC')
)
ENGINE = Memory;

-- The hours of the assessments stored before the view existed, logged as changed: the
-- aggregator's first pass writes them (as 0002 hands over the activations).
INSERT INTO fraud_changes (logged_at, hour)
SELECT now(), toStartOfHour(occurred_at) FROM events WHERE type = 'fraud.assessed';
