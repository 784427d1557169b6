-- Each call's language (where it came from, how sure the identification was), the model and decoding options
-- that produced its transcript, and the signs of a hallucinated transcript found when it was made.
-- Rows loaded before this migration have no language (null) and no recorded options: re-materialising their
-- batch (a backfill of `transcripts`) fills them.
alter table asr_raw.calls
    add column language text,  -- Whisper code, e.g. en, fr, es
    -- sidecar | folder | default | detected | detected_uncertain (defs/languages.py)
    add column language_source text,
    add column language_probability double precision,  -- identification only
    add column model_name text,  -- catalog name or folder, e.g. tiny.en, base
    add column decoding jsonb,  -- mode, engine, compute type, beam size, language, VAD (WhisperModelResource)
    -- reason codes (asr/hallucination.py): compression_ratio, repetition_loop, words_in_silence,
    -- text_on_silent_channel, language_uncertain; empty = nothing suspect found
    add column suspect_reasons text[] not null default '{}';
create index calls_language_idx on asr_raw.calls (language);
