-- The marts sensor asks which batches loaded since a point in time the marts lack (platform/marts.py): by load
-- time, so the question costs the recent loads, not every batch ever loaded.
create index if not exists batch_loads_loaded_at_idx on asr_raw.batch_loads (loaded_at);
