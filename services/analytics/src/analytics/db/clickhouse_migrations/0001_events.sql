-- Every event of every topic (ARCHITECTURE.md §4), one row per event id.
--
-- ReplacingMergeTree collapses rows with the same sorting key when parts merge; every column of
-- the key is derived from the event itself, so a redelivered event has its first copy's key and
-- is collapsed with it. Merges happen whenever ClickHouse likes: queries stay exact before them
-- by reading with FINAL or grouping by event id (or by the aggregate, which repeats no copy).
-- The partition, by month of the event's business time, also comes from the event: both copies
-- land in the same partition, which is where FINAL and merges look.
--
-- Ids that an event does not carry are the nil UUID (a sorting key cannot be Nullable);
-- text that it does not carry is ''. Written for ClickHouse 18.16 and current releases alike:
-- no LowCardinality, no DateTime64, no codecs or TTL.
CREATE TABLE IF NOT EXISTS events
(
    event_id UUID,
    type String,
    source String,
    topic String,
    subject String,
    schema_version UInt16,
    trace_id String,
    time DateTime('UTC'),
    occurred_at DateTime('UTC'),
    occurred_at_us Int64,
    ingested_at DateTime('UTC'),
    developer_id UUID,
    game_id UUID,
    key_id UUID,
    key_ids Array(UUID),
    batch_id UUID,
    retailer_id UUID,
    allocation_id UUID,
    activation_id String,
    order_id String,
    user_id String,
    key_type String,
    country String,
    ip_country String,
    outcome String,
    reason String,
    quantity Nullable(Int64),
    amount Nullable(Decimal(38, 9)),
    currency String,
    payload String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (game_id, type, occurred_at, event_id);
