select language, model_name, model_version, wer
from asr_raw.promoted_models
