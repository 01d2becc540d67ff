"""kin's own calls on ``kin.MilvusClient``, beyond pymilvus': files and documents in, documents out.

A collection made with ``create_collection(name, model="all-MiniLM-L6-v2")`` knows its model:
``add`` takes files and folders through kin's ingestion pipeline (documents cut into chunks with
the model's tokenizer, JSONL/CSV records, images, audio and video where the model reads them),
``search`` takes query texts as well as vectors, and ``search_text`` answers with documents,
by dense, BM25 or hybrid retrieval. ``create_collection(name, spaces={...})`` makes a mixed
collection. Collections made by ``kin collection create --model`` or ``--preset`` are the same.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Union

from .exceptions import InvalidInputError

PathLike = Union[str, "os.PathLike[str]"]


class _Documents:
    """Mixed into ``MilvusClient``; ``self._store`` is the native store."""

    _store: Any

    def add(self, collection_name: str, paths: Union[PathLike, Sequence[PathLike]], *,
            batch_size: int = 0, chunk_tokens: Optional[int] = None,
            chunk_overlap: Optional[int] = None, max_file_mb: Optional[int] = None) -> Dict[str, Any]:
        """Adds files and folders (walked) as ``kin add`` does: each document cut into chunks of
        ``chunk_tokens`` with ``chunk_overlap`` (the model card's by default), a file already
        added unchanged is skipped by its hash, a changed one replaces its chunks. A mixed
        collection's spaces each take the content they read.

        Returns ``{"added", "unchanged", "items", "skipped", "failed", "count"}``: ``skipped``
        and ``failed`` list ``(path, reason)``; ``count`` is the items now stored. Ctrl-C stops
        between groups of files, keeping what was written."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        listed = [os.fspath(p) for p in paths]
        if not listed:
            raise InvalidInputError("add: no paths given")
        return self._store.add(collection_name, listed, batch_size=batch_size, chunk_tokens=chunk_tokens,
                               chunk_overlap=chunk_overlap, max_file_mb=max_file_mb)

    def search_text(self, collection_name: str, queries: Union[str, Sequence[str]], limit: int = 10, *,
                    mode: str = "hybrid", filter: str = "", documents: bool = True,
                    alpha: Optional[float] = None, rrf_k: float = 60.0, ef: Optional[int] = None,
                    space: Optional[str] = None,
                    space_weights: Optional[Dict[str, float]] = None) -> List[List[Dict[str, Any]]]:
        """The ``limit`` best documents for each query text (one query: still a list of one).

        ``mode``: ``"dense"`` embeds the query with the collection's model, ``"text"`` ranks by
        BM25 on the collection's text index, ``"hybrid"`` fuses both by reciprocal rank
        (``rrf_k``) or, given ``alpha``, by min-max normalised scores with weight ``alpha`` on
        dense. ``documents=False`` returns chunks instead of each document's best chunk. A mixed
        collection answers from one ``space``, or from every space whose model reads text (text
        and hybrid modes where the space has a text index, dense elsewhere), their lists fused by
        reciprocal rank with ``space_weights`` (1 each unless given).

        Each hit: ``{"id", "doc", "score", "chunks", "found", "space", "payload"}``: the best
        chunk's id, its document, the score, how many of the document's chunks matched, each
        retriever's ``{"rank", "score"}``, the space that found it (``None`` outside mixed
        collections) and the chunk's payload (its ``text`` among them)."""
        texts = [queries] if isinstance(queries, str) else list(queries)
        if not all(isinstance(t, str) for t in texts):
            raise InvalidInputError("search_text: queries must be strings")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit {limit!r}: expected a positive int")
        return self._store.find(collection_name, texts, k=limit, mode=mode, filter=filter or None, ef=ef,
                                documents=documents, alpha=alpha, rrf_k=rrf_k, space=space,
                                space_weights=space_weights)


def _text_queries(data: Any) -> Optional[List[str]]:
    """``data`` as query texts when it is one string or a list of strings, else ``None``."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, str) for d in data):
        return list(data)
    return None
