insert into asr_raw.model_promotions (language, model_name, model_version, wer, previous_version, run_id)
values (%(language)s, %(model_name)s, %(model_version)s, %(wer)s, %(previous_version)s, %(run_id)s)
