insert into asr_raw.models (
    model_version, model_name, location, format, multilingual, languages, size_bytes, source
) values (
    %(model_version)s, %(model_name)s, %(location)s, %(format)s, %(multilingual)s, %(languages)s,
    %(size_bytes)s, %(source)s
)
on conflict (model_version) do update set
    model_name = excluded.model_name,
    location = excluded.location,
    source = excluded.source
