"""LangChain adapters: ``KinEmbeddings`` (an ``Embeddings``) and ``KinVectorStore`` (a
``VectorStore`` over kin's embedded store). Importing this module imports ``langchain_core``;
``import kin`` alone never does.

    from kin.langchain import KinEmbeddings, KinVectorStore
    store = KinVectorStore(KinEmbeddings("all-MiniLM-L6-v2"), path="./kin.db", collection_name="docs")
    store.add_texts(["kin stores vectors"], metadatas=[{"lang": "en"}])
    store.similarity_search("where are vectors kept?", k=1, filter={"lang": "en"})
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from .embedder import cached_embedder
from .exceptions import InvalidInputError

__all__ = ["KinEmbeddings", "KinVectorStore"]


class KinEmbeddings(Embeddings):
    """Any text model kin runs, as a LangChain ``Embeddings``."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 32,
                 normalize_embeddings: bool = False) -> None:
        self.model = model
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self._embedder = cached_embedder(model)

    def embed_documents(self, texts: List[str]) -> List[List[float]]:
        vectors = self._embedder.encode_document(list(texts), batch_size=self.batch_size,
                                                 normalize_embeddings=self.normalize_embeddings)
        return vectors.tolist()

    def embed_query(self, text: str) -> List[float]:
        vector = self._embedder.encode_query(text, normalize_embeddings=self.normalize_embeddings)
        return vector.tolist()


class KinVectorStore(VectorStore):
    """Documents in a collection of kin's embedded store: the id is the document id, the payload
    ``{"text": page_content, "metadata": {...}}``. The collection is created on the first write,
    with the embedding's dimension. ``filter`` is a kin filter string (``'metadata.lang == "en"'``)
    or a dict of metadata values that must all be equal."""

    def __init__(self, embedding: Embeddings, path: str = "./kin.db", collection_name: str = "langchain",
                 metric: str = "cosine") -> None:
        from .milvus_client import _db  # one store per folder in the process, shared

        self._embedding = embedding
        self._db = _db(path)
        self.collection_name = collection_name
        self.metric = metric

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def _store(self) -> Any:
        return self._db.store

    @classmethod
    def from_texts(cls, texts: List[str], embedding: Embeddings, metadatas: Optional[List[dict]] = None,
                   *, ids: Optional[List[str]] = None, **kwargs: Any) -> "KinVectorStore":
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas=metadatas, ids=ids)
        return store

    def add_texts(self, texts: Iterable[str], metadatas: Optional[List[dict]] = None, *,
                  ids: Optional[List[str]] = None, **kwargs: Any) -> List[str]:
        texts = list(texts)
        if not texts:
            return []
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        ids = [str(i) if i is not None else str(uuid.uuid4()) for i in ids] if ids else [str(uuid.uuid4()) for _ in texts]
        if not (len(metadatas) == len(ids) == len(texts)):
            raise InvalidInputError(f"{len(texts)} texts, {len(metadatas)} metadatas and {len(ids)} ids: one each")
        vectors = self._embedding.embed_documents(texts)
        self._ensure(len(vectors[0]))
        payloads = [{"text": t, "metadata": dict(m or {})} for t, m in zip(texts, metadatas)]
        self._store.upsert(self.collection_name, ids, vectors, payloads)
        return ids

    def add_documents(self, documents: List[Document], **kwargs: Any) -> List[str]:
        if "ids" not in kwargs and any(d.id for d in documents):
            kwargs["ids"] = [d.id for d in documents]
        return self.add_texts([d.page_content for d in documents], [d.metadata for d in documents], **kwargs)

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        if ids is None:
            raise InvalidInputError("delete needs the ids of the documents")
        if not self._store.has(self.collection_name):
            return True
        self._store.delete(self.collection_name, [str(i) for i in ids])
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        if not self._store.has(self.collection_name):
            return []
        return [_document(pk, payload) for pk, _, payload in self._store.get(self.collection_name, [str(i) for i in ids])]

    def similarity_search(self, query: str, k: int = 4, filter: Union[str, Dict[str, Any], None] = None,
                          **kwargs: Any) -> List[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter=filter, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4,
                                     filter: Union[str, Dict[str, Any], None] = None,
                                     **kwargs: Any) -> List[Tuple[Document, float]]:
        return self.similarity_search_by_vector_with_score(self._embedding.embed_query(query), k, filter=filter)

    def similarity_search_by_vector(self, embedding: List[float], k: int = 4,
                                    filter: Union[str, Dict[str, Any], None] = None,
                                    **kwargs: Any) -> List[Document]:
        return [doc for doc, _ in self.similarity_search_by_vector_with_score(embedding, k, filter=filter)]

    def similarity_search_by_vector_with_score(self, embedding: List[float], k: int = 4,
                                               filter: Union[str, Dict[str, Any], None] = None
                                               ) -> List[Tuple[Document, float]]:
        """Documents with their scores: cosine or inner product (higher is nearer), or squared L2."""
        if not self._store.has(self.collection_name):
            return []
        hits = self._store.search(self.collection_name, [embedding], k, _filter(filter))
        return [(_document(pk, payload), float(score)) for pk, score, payload in hits[0]]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        if self.metric == "l2":
            return lambda d: 1.0 / (1.0 + d)
        return lambda s: (s + 1.0) / 2.0 if self.metric == "cosine" else s

    def _ensure(self, dim: int) -> None:
        if not self._store.has(self.collection_name):
            self._store.create(self.collection_name, dim, self.metric)


def _document(pk: Any, payload: Any) -> Document:
    payload = payload if isinstance(payload, dict) else {}
    return Document(id=str(pk), page_content=payload.get("text", ""), metadata=payload.get("metadata") or {})


def _filter(filter: Union[str, Dict[str, Any], None]) -> Optional[str]:
    """A kin filter string; a dict of metadata values becomes their conjunction."""
    if filter is None or isinstance(filter, str):
        return filter or None
    if not isinstance(filter, dict):
        raise InvalidInputError(f"filter: expected a string or a dict, got {type(filter).__name__}")
    terms = []
    for key, value in filter.items():
        if not isinstance(value, (str, int, float, bool)) or value is None:
            raise InvalidInputError(f"filter {key!r}: only strings, numbers and booleans compare")
        literal = json.dumps(value)
        path = "metadata." + ".".join(f"`{part}`" for part in str(key).split("."))
        terms.append(f"{path} == {literal}")
    return " and ".join(terms) if terms else None
