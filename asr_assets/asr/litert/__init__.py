"""Whisper on LiteRT (the TensorFlow Lite runtime, XNNPACK kernels): programs exported from the Keras model."""
