"""kin: local embeddings and vector search, computed in Rust.

- ``kin.SentenceTransformer(name)`` / ``kin.Embedder(name)``: sentence-transformers' ``encode``.
- ``kin.MilvusClient("./kin.db")``: pymilvus' ``MilvusClient`` over kin's embedded store.
- ``kin.exceptions``: ``KinError`` and its kinds, each also the matching built-in exception.

kin computes on a rayon thread pool (``RAYON_NUM_THREADS`` sizes it). A process forked after kin
has computed must not compute with kin in the child: use the ``spawn`` or ``forkserver`` start
method of ``multiprocessing`` (see the README's Python section).
"""

from . import _kin
from .embedder import Embedder, SentenceTransformer, quantize_embeddings
from .exceptions import (
    CollectionExistsError,
    CollectionNotFoundError,
    FilterError,
    InvalidInputError,
    KinError,
    ModelError,
    ModelNotFoundError,
    NotFoundError,
    StoreError,
)
from .milvus_client import DataType, MilvusClient

__version__: str = _kin.__version__

__all__ = [
    "Embedder",
    "SentenceTransformer",
    "quantize_embeddings",
    "MilvusClient",
    "DataType",
    "KinError",
    "InvalidInputError",
    "FilterError",
    "NotFoundError",
    "ModelNotFoundError",
    "ModelError",
    "CollectionNotFoundError",
    "CollectionExistsError",
    "StoreError",
    "threads",
]


def threads() -> int:
    """Threads kin computes on (rayon's pool)."""
    return _kin.threads()


def _register_fork_handler() -> None:
    import os

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_kin.after_fork_in_child)


_register_fork_handler()
