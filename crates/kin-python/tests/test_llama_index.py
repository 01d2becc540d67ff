"""The LlamaIndex adapter: LlamaIndex's embedding calls give kin's vectors."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from kin.llama_index import KinEmbedding  # noqa: E402


def test_llama_index_embeddings_are_kins(minilm):
    model = KinEmbedding("all-MiniLM-L6-v2", embed_batch_size=2)
    texts = ["a cat on a mat", "markets fell", "the weather today", "kin embeds text"]
    batch = model.get_text_embedding_batch(texts)
    np.testing.assert_allclose(np.array(batch), minilm.encode(texts), atol=1e-6)
    np.testing.assert_allclose(model.get_query_embedding("a cat"), minilm.encode("a cat"), atol=1e-6)
    np.testing.assert_allclose(model.get_text_embedding("a cat"), minilm.encode("a cat"), atol=1e-6)
    np.testing.assert_allclose(asyncio.run(model.aget_query_embedding("a cat")), minilm.encode("a cat"), atol=1e-6)
    assert model.class_name() == "KinEmbedding" and model.model_name == "all-MiniLM-L6-v2"
    assert model.similarity(batch[0], batch[0]) == pytest.approx(1.0, abs=1e-5)
