insert into asr_raw.model_evaluations (
    model_version, language, dataset, model_name, files, reference_words, wer, audio_s, transcribe_s, decoding,
    run_id
) values (
    %(model_version)s, %(language)s, %(dataset)s, %(model_name)s, %(files)s, %(reference_words)s, %(wer)s,
    %(audio_s)s, %(transcribe_s)s, %(decoding)s, %(run_id)s
)
on conflict (model_version, language, dataset) do update set
    model_name = excluded.model_name,
    files = excluded.files,
    reference_words = excluded.reference_words,
    wer = excluded.wer,
    audio_s = excluded.audio_s,
    transcribe_s = excluded.transcribe_s,
    decoding = excluded.decoding,
    run_id = excluded.run_id,
    evaluated_at = now()
