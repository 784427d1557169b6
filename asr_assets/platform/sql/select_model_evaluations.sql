select language, dataset, wer, reference_words
from asr_raw.model_evaluations
where model_version = %(model_version)s
