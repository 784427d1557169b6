"""Benchmarks of the TensorFlow engine against faster-whisper / CTranslate2: not part of the product.

Kept outside `asr_assets` (as faster-whisper keeps `benchmark/` outside its package) because they need the dev
dependencies (faster-whisper, ctranslate2), which the image does not install. Run them with
`python -m benchmarks bench DIR` and `python -m benchmarks profile FILE`; see benchmarks/README.md, and
BENCHMARKS.md for the results.
"""
