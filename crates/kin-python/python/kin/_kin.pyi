"""Types of kin's native extension (crates/kin-python/src). Use the classes of ``kin`` instead."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

VectorsLike = Union[npt.NDArray[np.floating[Any]], Sequence[float], Sequence[Sequence[float]], Sequence[npt.NDArray[np.floating[Any]]]]
Id = Union[int, str]
Ids = Union[Id, Sequence[Id]]
Payload = Dict[str, Any]

def threads() -> int:
    """Threads kin computes on (its rayon pool)."""

def after_fork_in_child() -> None:
    """Forgets the parent's thread pool in a forked child (registered with os.register_at_fork)."""

class Model:
    """One of kin's embedders, loaded by name, alias, Hugging Face id, folder or ``openai:MODEL``."""

    def __init__(self, name_or_path: str) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def normalized(self) -> bool: ...
    @property
    def modalities(self) -> List[str]: ...
    @property
    def max_seq_length(self) -> Optional[int]: ...
    def tokenize(self, texts: Sequence[str]) -> List[List[int]]: ...
    def embed_text(
        self, texts: Sequence[str], batch_size: int = 32, on_batch: Optional[Callable[[int], None]] = None
    ) -> npt.NDArray[np.float32]: ...
    def embed_images(
        self,
        images: Sequence[Union[bytes, str, PathLike[str]]],
        batch_size: int = 32,
        on_batch: Optional[Callable[[int], None]] = None,
    ) -> npt.NDArray[np.float32]: ...

    def embed_files(
        self, paths: Sequence[Union[str, PathLike[str]]], on_batch: Optional[Callable[[int], None]] = None
    ) -> npt.NDArray[np.float32]: ...

class Store:
    """Collections of kin's embedded store in one folder; one process holds it at a time."""

    def __init__(self, path: Union[str, PathLike[str]]) -> None: ...
    @staticmethod
    def connect(url: str, retry_s: float = 30.0) -> "Store": ...
    def describe(self) -> str: ...
    def names(self) -> List[str]: ...
    def has(self, name: str) -> bool: ...
    def create(
        self,
        name: str,
        dim: Optional[int] = None,
        metric: str = "cosine",
        index: str = "hnsw",
        m: int = 16,
        ef_construction: int = 200,
        model: Optional[str] = None,
        text_index: Optional[bool] = None,
        spaces: Optional[Sequence[Tuple[str, str]]] = None,
        routes: Optional[Sequence[Tuple[str, str]]] = None,
    ) -> None: ...
    def add(
        self,
        name: str,
        paths: Sequence[Union[str, PathLike[str]]],
        batch_size: int = 0,
        chunk_tokens: Optional[int] = None,
        chunk_overlap: Optional[int] = None,
        max_file_mb: Optional[int] = None,
    ) -> Dict[str, Any]: ...
    def find(
        self,
        name: str,
        texts: Sequence[str],
        k: int = 10,
        mode: str = "dense",
        filter: Optional[str] = None,
        ef: Optional[int] = None,
        documents: bool = True,
        alpha: Optional[float] = None,
        rrf_k: float = 60.0,
        space: Optional[str] = None,
        space_weights: Optional[Dict[str, float]] = None,
    ) -> List[List[Dict[str, Any]]]: ...
    def drop(self, name: str) -> None: ...
    def config(self, name: str) -> Dict[str, Any]: ...
    def count(self, name: str) -> int: ...
    def upsert(self, name: str, ids: Sequence[Id], vectors: VectorsLike, payloads: Sequence[Payload]) -> int: ...
    def delete(self, name: str, ids: Ids) -> int: ...
    def get(self, name: str, ids: Ids) -> List[Tuple[Id, npt.NDArray[np.float32], Payload]]: ...
    def search(
        self,
        name: str,
        queries: VectorsLike,
        k: int = 10,
        filter: Optional[str] = None,
        ef: Optional[int] = None,
        exact: bool = False,
    ) -> List[List[Tuple[Id, float, Payload]]]: ...
    def scan(
        self, name: str, filter: Optional[str] = None, limit: Optional[int] = None, offset: int = 0
    ) -> List[Tuple[Id, npt.NDArray[np.float32], Payload]]: ...
