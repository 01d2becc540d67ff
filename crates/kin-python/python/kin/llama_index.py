"""LlamaIndex adapter: ``KinEmbedding``, a ``BaseEmbedding`` over any text model kin runs.
Importing this module imports ``llama_index.core``; ``import kin`` alone never does.

    from kin.llama_index import KinEmbedding
    Settings.embed_model = KinEmbedding("all-MiniLM-L6-v2")
"""

from __future__ import annotations

from typing import Any, List

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .embedder import cached_embedder

__all__ = ["KinEmbedding"]


class KinEmbedding(BaseEmbedding):
    """kin's text models as LlamaIndex embeddings (queries and documents with the model's
    prompts, batches of ``embed_batch_size``)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", embed_batch_size: int = 32, **kwargs: Any) -> None:
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size, **kwargs)
        self._embedder = cached_embedder(model_name)

    @classmethod
    def class_name(cls) -> str:
        return "KinEmbedding"

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._embedder.encode_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._embedder.encode_document(text).tolist()

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._embedder.encode_document(texts, batch_size=self.embed_batch_size).tolist()
