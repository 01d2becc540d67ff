"""Media files through the same path as `kin embed` and `kin add`: judged by content, audio cut
into windows whose vectors are averaged."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import kin


def write_wav(path, seconds, make):
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    samples = np.clip(make(t), -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_a_text_model_names_what_it_cannot_read(minilm, tmp_path):
    wav = write_wav(tmp_path / "tone.wav", 1.0, lambda t: 0.5 * np.sin(2 * np.pi * 440 * t))
    with pytest.raises(kin.InvalidInputError, match="tone.wav: audio content"):
        minilm.encode_file(wav)
    with pytest.raises(kin.NotFoundError, match="missing.wav") as e:
        minilm.encode_file([tmp_path / "missing.wav", wav])
    assert isinstance(e.value, FileNotFoundError)


@pytest.fixture(scope="module")
def whisper():
    try:
        return kin.Embedder("whisper-base")
    except kin.ModelNotFoundError as e:  # fetched from PyPI by kin's CLI tests; offline, say
        pytest.skip(f"whisper-base is not available: {e}")


def test_audio_files_embed_with_whisper(whisper, tmp_path):
    tone = write_wav(tmp_path / "tone.wav", 3.0, lambda t: 0.5 * np.sin(2 * np.pi * 440 * t))
    rng = np.random.default_rng(0)
    noise = write_wav(tmp_path / "noise.wav", 3.0, lambda t: 0.3 * rng.standard_normal(t.shape))
    long = write_wav(tmp_path / "long.wav", 40.0, lambda t: 0.5 * np.sin(2 * np.pi * 440 * t))
    one = whisper.encode_file(tone)
    assert one.shape == (whisper.get_embedding_dimension(),) and one.dtype == np.float32
    assert np.isfinite(one).all()
    both = whisper.encode_file([tone, noise])
    assert both.shape == (2, one.shape[0])
    np.testing.assert_allclose(both[0], one, atol=1e-5)
    cosine = both[0] @ both[1] / np.linalg.norm(both[0]) / np.linalg.norm(both[1])
    assert cosine < 0.999
    # Forty seconds are two windows, averaged into one vector.
    assert whisper.encode_file(long).shape == one.shape
