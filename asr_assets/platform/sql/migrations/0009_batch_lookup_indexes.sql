-- The landing sensor's per-tick lookups of ingest_batches that no index served (found by the backlog test's
-- EXPLAIN, asr_assets_tests/defs/test_backlog.py): the zone's open batch (select_open_batch, close_due_batches) and
-- the given-up batches (select_given_up_batches) were a pass over every batch, ~10,000 more a year. Both indexes
-- are partial: they hold the few open or given-up batches, not the succeeded ones.
create index ingest_batches_open_idx on asr_raw.ingest_batches (batch_id) where closed_at is null;
create index ingest_batches_given_up_idx on asr_raw.ingest_batches (batch_id) where status = 'given_up';
