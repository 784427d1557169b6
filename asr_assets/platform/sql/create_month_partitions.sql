-- The batch's month partitions of asr_raw.words and asr_raw.segments (migration 0008): created by the month's first
-- load, a catalog lookup afterwards.
select asr_raw.create_month_partitions(%(partition_key)s)
