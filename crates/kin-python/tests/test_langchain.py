"""The LangChain adapters against the standard suites langchain-tests publishes, and kin's own
filters through them."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_tests")

from langchain_core.documents import Document  # noqa: E402
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, VectorStoreIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import EmbeddingsUnitTests  # noqa: E402

from kin.langchain import KinEmbeddings, KinVectorStore  # noqa: E402


class TestKinEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self):
        return KinEmbeddings

    @property
    def embedding_model_params(self):
        return {"model": "all-MiniLM-L6-v2"}


class TestKinEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return KinEmbeddings

    @property
    def embedding_model_params(self):
        return {"model": "all-MiniLM-L6-v2"}


class TestKinVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path):
        yield KinVectorStore(self.get_embeddings(), path=str(tmp_path / "kin.db"), collection_name="lc")


def test_embeddings_match_encode(minilm):
    texts = ["a cat on a mat", "markets fell"]
    lc = KinEmbeddings("all-MiniLM-L6-v2")
    assert lc.embed_documents(texts) == minilm.encode(texts).tolist()
    assert lc.embed_query(texts[0]) == minilm.encode(texts[0]).tolist()


def test_filters_by_metadata(tmp_path):
    store = KinVectorStore.from_texts(
        ["kin stores vectors", "kin embeds text", "unrelated words"],
        KinEmbeddings("all-MiniLM-L6-v2"),
        metadatas=[{"lang": "en", "n": 1}, {"lang": "de", "n": 2}, {"lang": "en", "n": 3}],
        ids=["a", "b", "c"],
        path=str(tmp_path / "kin.db"),
    )
    found = store.similarity_search("where are vectors kept", k=3, filter={"lang": "en"})
    assert [d.id for d in found] == ["a", "c"]
    assert found[0] == Document(id="a", page_content="kin stores vectors", metadata={"lang": "en", "n": 1})
    assert sorted(d.id for d in store.similarity_search("kin", k=3, filter="metadata.n >= 2")) == ["b", "c"]
    scored = store.similarity_search_with_relevance_scores("kin stores vectors", k=1)
    assert scored[0][0].id == "a" and 0.99 < scored[0][1] <= 1.0 + 1e-6
