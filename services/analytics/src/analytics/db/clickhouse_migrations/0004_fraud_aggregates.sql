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

-- The assessments stored before the view existed, at version 0.
INSERT INTO fraud_hourly (hour, rules, modes, actions, assessments, version)
SELECT hour, groupArray(rule), groupArray(mode), groupArray(action), groupArray(n), 0
FROM
(
    SELECT hour, tupleElement(hit, 1) AS rule, tupleElement(hit, 2) AS mode, action, count() AS n
    FROM
    (
        SELECT toStartOfHour(any(occurred_at)) AS hour, any(outcome) AS action,
               arrayConcat([('', '')],
                           arrayMap(r -> (r, 'active'),
                                    any(extractAll(visitParamExtractRaw(payload, 'rulesHit'), '"([^"]+)"'))),
                           arrayMap(r -> (r, 'shadow'),
                                    any(extractAll(visitParamExtractRaw(payload, 'shadowRulesHit'), '"([^"]+)"'))))
                   AS hits
        FROM events
        WHERE type = 'fraud.assessed'
        GROUP BY event_id
    )
    ARRAY JOIN hits AS hit
    GROUP BY hour, rule, mode, action
)
GROUP BY hour;
