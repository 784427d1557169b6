"""Whisper's fixed numbers, defined once (openai/whisper audio.py and model dimensions shared by every size)."""

SAMPLE_RATE = 16000  # Hz, what Whisper's front end expects
N_FFT = 400  # 25 ms window
HOP_LENGTH = 160  # 10 ms hop
CHUNK_LENGTH = 30  # seconds per encoder window
N_MELS = 80  # the default; large-v3 has 128 (a checkpoint's own count is in ModelDimensions.n_mels)
N_SAMPLES = CHUNK_LENGTH * SAMPLE_RATE  # 480000 samples in a window
N_FRAMES = N_SAMPLES // HOP_LENGTH  # 3000 mel frames in a window
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100 mel frames per second
N_SAMPLES_PER_TOKEN = HOP_LENGTH * 2  # 320: the encoder's second conv has stride 2
TOKENS_PER_SECOND = SAMPLE_RATE // N_SAMPLES_PER_TOKEN  # 50 encoder positions (audio tokens) per second
TIME_PRECISION = 1 / TOKENS_PER_SECOND  # 0.02 s per timestamp token / encoder position
MAX_LENGTH = 448  # decoder context (n_text_ctx), CTranslate2's default max_length
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>
