#!/usr/bin/env python3
"""Golden files for kin-audio: decoding, resampling and Whisper's log-mel features.

Clips (written to crates/kin-audio/tests/golden/clips/):
  speech_a.flac     espeak-ng, voice en-us, 16 kHz
  speech_b.wav      espeak-ng, voice en-gb, slower, 16 kHz 16-bit PCM
  tones.wav         a 440 Hz tone, then a 200→6000 Hz chirp, 16 kHz float32 WAV
  silence.wav       1 s of digital silence
  long.flac         45 s: speech, tones and silence (two 30-second windows)
  stereo_44k.wav    stereo 44.1 kHz: speech on the left, a tone on the right
  speech_a.mp3, speech_a.ogg   lossy copies of speech_a (ffmpeg), for the decoders
The reference for each (golden.json + <clip>.<window>.f32): transformers' WhisperFeatureExtractor
on the 16 kHz samples, window by window (30 s each), stored sparsely: the values at 4,000 positions
`(k · 104729) mod (80 · 3000)` for k < 4000, plus the sum of every mel row. For stereo_44k the
16 kHz reference samples come from scipy's polyphase resampler (a different, equally valid
low-pass), so that clip's tolerance is looser and documented in the test.

Needs espeak-ng and ffmpeg (Debian packages) and the venv with torch, transformers, scipy.
Usage: python make_audio_golden.py
"""

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly
from transformers import WhisperFeatureExtractor

OUT = Path(__file__).resolve().parents[2] / "crates/kin-audio/tests/golden"
CLIPS = OUT / "clips"
POSITIONS = 4000


def espeak(text, voice, speed):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", f.name, text], check=True)
        return read_wav(f.name)


def read_wav(path):
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    return rate, x.reshape(-1, channels)


def to16k(rate, x):
    """espeak speaks at 22,050 Hz; the fixtures are made at 16 kHz with scipy, then quantised."""
    y = resample_poly(x, 16000, rate, axis=0) if rate != 16000 else x
    return np.clip(y, -1, 1 - 1 / 32768)


def write_pcm16(path, rate, x):
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    q = np.round(x * 32768).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(q.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(q.tobytes())
    out = q.astype(np.float32) / 32768.0
    return out[:, 0] if out.shape[1] == 1 else out


def write_float_wav(path, rate, x):
    """A WAVE_FORMAT_IEEE_FLOAT mono file (the stdlib writes PCM only)."""
    data = np.asarray(x, dtype="<f4").tobytes()
    fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little") \
        + (rate * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return np.asarray(x, dtype=np.float32)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *map(str, args)], check=True)


def main():
    CLIPS.mkdir(parents=True, exist_ok=True)
    fe = WhisperFeatureExtractor()
    samples = {}

    rate, a = espeak("the quick brown fox jumps over the lazy dog", "en-us", 170)
    a16 = write_pcm16(CLIPS / "speech_a.wav", 16000, to16k(rate, a[:, 0]))
    ffmpeg("-i", CLIPS / "speech_a.wav", "-c:a", "flac", CLIPS / "speech_a.flac")
    ffmpeg("-i", CLIPS / "speech_a.wav", "-c:a", "libmp3lame", "-b:a", "48k", CLIPS / "speech_a.mp3")
    ffmpeg("-i", CLIPS / "speech_a.wav", "-c:a", "libvorbis", "-q:a", "2", CLIPS / "speech_a.ogg")
    (CLIPS / "speech_a.wav").unlink()
    samples["speech_a.flac"] = a16

    rate, b = espeak("please turn off the lights in the kitchen", "en-gb", 130)
    samples["speech_b.wav"] = write_pcm16(CLIPS / "speech_b.wav", 16000, to16k(rate, b[:, 0]))

    t = np.arange(16000 * 2) / 16000
    tone = 0.4 * np.sin(2 * np.pi * 440 * t[:8000])
    chirp_t = t[:24000]
    chirp = 0.3 * np.sin(2 * np.pi * (200 * chirp_t + (6000 - 200) / (2 * 1.5) * chirp_t**2))
    samples["tones.wav"] = write_float_wav(CLIPS / "tones.wav", 16000, np.concatenate([tone, chirp]))

    samples["silence.wav"] = write_pcm16(CLIPS / "silence.wav", 16000, np.zeros(16000))

    parts = [a16, np.zeros(16000 * 8), samples["speech_b.wav"], np.zeros(16000 * 10), 0.3 * np.sin(2 * np.pi * 660 * np.arange(16000 * 5) / 16000)]
    long = np.concatenate(parts)
    long = np.concatenate([long, np.zeros(16000 * 45 - len(long))])[: 16000 * 45]
    long16 = write_pcm16(CLIPS / "long.wav", 16000, long)
    ffmpeg("-i", CLIPS / "long.wav", "-c:a", "flac", CLIPS / "long.flac")
    (CLIPS / "long.wav").unlink()
    samples["long.flac"] = long16

    rate, c = espeak("the mountain is covered in snow", "en-us", 160)
    left = resample_poly(c[:, 0], 44100, rate)
    right = 0.2 * np.sin(2 * np.pi * 300 * np.arange(len(left)) / 44100)
    stereo = write_pcm16(CLIPS / "stereo_44k.wav", 44100, np.stack([left, right], axis=1).clip(-1, 1 - 1 / 32768))
    samples["stereo_44k.wav"] = resample_poly(stereo.mean(axis=1), 16000, 44100).astype(np.float32)

    manifest = {"positions": POSITIONS, "clips": {}}
    for name, x in samples.items():
        windows = []
        for w, start in enumerate(range(0, max(len(x), 1), 480000)):
            chunk = np.asarray(x[start:start + 480000], dtype=np.float32)
            mel = fe(chunk, sampling_rate=16000, return_tensors="np").input_features[0]
            idx = (np.arange(POSITIONS, dtype=np.int64) * 104729) % mel.size
            mel.flatten()[idx].astype("<f4").tofile(OUT / f"{name}.{w}.f32")
            windows.append({"samples": len(chunk), "row_sums": mel.sum(axis=1).tolist()})
        manifest["clips"][name] = {"samples": len(x), "windows": windows}
    (OUT / "golden.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{OUT}: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
