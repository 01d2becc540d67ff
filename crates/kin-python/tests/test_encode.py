"""kin.SentenceTransformer.encode against sentence-transformers: vectors, shapes, dtypes and
arguments."""

from __future__ import annotations

import numpy as np
import pytest

import kin
from conftest import cosines

MIN_COSINE = 0.99999


def test_golden_vectors_match_sentence_transformers(minilm, golden_texts, golden_minilm):
    got = minilm.encode(golden_texts)
    assert got.shape == golden_minilm.shape
    assert got.dtype == golden_minilm.dtype == np.float32
    c = cosines(got, golden_minilm)
    assert c.min() >= MIN_COSINE, f"input {int(c.argmin())} {golden_texts[int(c.argmin())]!r}: cosine {c.min()}"
    # The model ends in a Normalize module, as its sentence-transformers folder says.
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_one_string_gives_one_dimensional_vector(minilm, golden_texts, golden_minilm):
    one = minilm.encode(golden_texts[0])
    assert one.shape == (384,) and one.dtype == np.float32
    assert cosines(one[None], golden_minilm[:1])[0] >= MIN_COSINE
    listed = minilm.encode([golden_texts[0]])
    assert listed.shape == (1, 384)


def test_batch_size_does_not_change_results(minilm, golden_texts):
    texts = golden_texts[:80]
    by_one = minilm.encode(texts, batch_size=1)
    by_many = minilm.encode(texts, batch_size=64)
    np.testing.assert_allclose(by_one, by_many, atol=2e-6)


def test_order_is_input_order(minilm, golden_texts):
    texts = golden_texts[:40]
    forward = minilm.encode(texts)
    backward = minilm.encode(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=2e-6)


def test_convert_to_numpy_false_gives_a_list_of_rows(minilm):
    rows = minilm.encode(["a", "b c"], convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 2
    assert all(r.shape == (384,) and r.dtype == np.float32 for r in rows)


def test_empty_list(minilm):
    assert minilm.encode([]).shape == (0, 384)


def test_prompt_is_put_before_each_text(minilm):
    with_prompt = minilm.encode(["the cat"], prompt="query: ")
    by_hand = minilm.encode(["query: the cat"])
    np.testing.assert_allclose(with_prompt, by_hand, atol=1e-6)
    named = kin.SentenceTransformer("all-MiniLM-L6-v2", prompts={"query": "query: "})
    np.testing.assert_allclose(named.encode_query(["the cat"]), by_hand, atol=1e-6)
    np.testing.assert_allclose(named.encode_document(["the cat"]), minilm.encode(["the cat"]), atol=1e-6)
    with pytest.raises(kin.InvalidInputError, match="prompt_name 'nope'"):
        named.encode(["x"], prompt_name="nope")


def test_normalize_and_truncate(minilm):
    texts = ["one sentence", "and another, longer sentence"]
    full = minilm.encode(texts)
    cut = minilm.encode(texts, truncate_dim=64, normalize_embeddings=True)
    assert cut.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-6)
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(cut, expected, atol=1e-6)


def test_precisions(minilm, golden_texts):
    texts = golden_texts[:50]
    floats = minilm.encode(texts)
    ubinary = minilm.encode(texts, precision="ubinary")
    assert ubinary.dtype == np.uint8 and ubinary.shape == (50, 48)
    np.testing.assert_array_equal(np.unpackbits(ubinary, axis=1).astype(bool), floats > 0)
    binary = minilm.encode(texts, precision="binary")
    assert binary.dtype == np.int8
    np.testing.assert_array_equal(binary.astype(np.int16) + 128, ubinary)
    uint8 = minilm.encode(texts, precision="uint8")
    assert uint8.dtype == np.uint8 and uint8.shape == floats.shape
    # Each dimension spans 0..255 over the batch (its own calibration range).
    assert (uint8.min(axis=0) == 0).all() and (uint8.max(axis=0) >= 254).all()
    int8 = minilm.encode(texts, precision="int8")
    assert int8.dtype == np.int8 and (int8.min(axis=0) == -128).all()
    with pytest.raises(kin.InvalidInputError, match="precision 'float16'"):
        minilm.encode(texts, precision="float16")


def test_similarity(minilm):
    a = minilm.encode(["a cat sits on the mat", "stock markets fell"])
    b = minilm.encode(["a kitten on a rug", "shares dropped sharply", "the weather"])
    sims = minilm.similarity(a, b)
    assert sims.shape == (2, 3) and sims.dtype == np.float32
    np.testing.assert_allclose(sims, a @ b.T, atol=1e-5)  # unit vectors: cosine is the dot product
    assert sims[0].argmax() == 0 and sims[1].argmax() == 1
    np.testing.assert_allclose(minilm.similarity(a[0], a[0]), [[1.0]], atol=1e-5)
    np.testing.assert_allclose(minilm.similarity_pairwise(a, b[:2]), np.diag(sims[:, :2]), atol=1e-6)
    with pytest.raises(kin.InvalidInputError, match="384 and 3 dimensions"):
        minilm.similarity(a, np.ones((1, 3)))


def test_dimensions_and_limits(minilm):
    assert minilm.get_embedding_dimension() == 384
    assert minilm.get_sentence_embedding_dimension() == 384
    assert minilm.max_seq_length == 256
    ids = minilm.tokenize(["hello world"])
    assert len(ids) == 1 and len(ids[0]) == 4  # [CLS] hello world [SEP]
    long = minilm.tokenize(["word " * 1000])
    assert len(long[0]) == 256


def test_bad_input_raises_kins_errors(minilm):
    with pytest.raises(kin.InvalidInputError, match=r"sentences\[1\]: expected a string, got int") as e:
        minilm.encode(["fine", 3])
    assert isinstance(e.value, ValueError) and isinstance(e.value, kin.KinError)
    with pytest.raises(ValueError, match="batch_size 0"):
        minilm.encode(["x"], batch_size=0)
    with pytest.raises(ValueError, match="output_value 'token_embeddings'"):
        minilm.encode(["x"], output_value="token_embeddings")


def test_unknown_model():
    with pytest.raises(kin.ModelNotFoundError, match="no-such-model-xyz") as e:
        kin.SentenceTransformer("no-such-model-xyz")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, OSError)
    with pytest.raises(FileNotFoundError, match="no such directory"):
        kin.Embedder("/nonexistent/model/folder")


def test_text_model_refuses_images(minilm):
    with pytest.raises(kin.InvalidInputError, match="does not embed image"):
        minilm.encode_image([b"\x89PNG\r\n\x1a\n"])


def test_progress_bar_counts_batches(minilm, capfd):
    calls = []
    vectors = minilm._model.embed_text(["a", "b", "c", "d", "e"], 2, calls.append)
    assert vectors.shape == (5, 384) and calls == [2, 4, 5]
    minilm.encode(["a", "b", "c"], batch_size=2, show_progress_bar=True)
    err = capfd.readouterr().err
    assert "2/2" in err  # tqdm's bar or kin's own line: two batches of two and one


def test_convert_to_tensor(minilm):
    try:
        import torch
    except ImportError:
        with pytest.raises(kin.InvalidInputError, match="needs torch"):
            minilm.encode(["x"], convert_to_tensor=True)
        return
    tensor = minilm.encode(["x", "y"], convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tuple(tensor.shape) == (2, 384)
