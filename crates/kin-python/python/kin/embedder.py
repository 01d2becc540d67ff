"""Embeddings the way sentence-transformers gives them, computed by kin.

``kin.SentenceTransformer("all-MiniLM-L6-v2").encode(texts)`` takes the arguments of
``sentence_transformers.SentenceTransformer.encode`` with the same defaults and returns the same
shapes (1-D for one string, 2-D for a list) and the same vectors. ``kin.Embedder`` is the same
class for every model kin runs, images included.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Literal, Optional, Sequence, Union

import numpy as np

from . import _kin
from .exceptions import InvalidInputError

__all__ = ["Embedder", "SentenceTransformer", "quantize_embeddings"]

logger = logging.getLogger("kin")

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
SimilarityName = Literal["cosine", "dot", "euclidean", "manhattan"]
ImageInput = Union[bytes, bytearray, "os.PathLike[str]"]


class Embedder:
    """Any model kin runs, by registry name, alias, Hugging Face id, local folder or ``openai:MODEL``.

    Weights are found where ``kin models pull`` puts them (or fetched and cached on first use).
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        prompts: Optional[Dict[str, str]] = None,
        default_prompt_name: Optional[str] = None,
        similarity_fn_name: Optional[SimilarityName] = None,
        truncate_dim: Optional[int] = None,
        device: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model_name_or_path, (str, os.PathLike)):
            raise InvalidInputError(
                f"model_name_or_path: expected a name or a path, got {type(model_name_or_path).__name__}"
            )
        if device not in (None, "cpu"):
            raise InvalidInputError(f"device {device!r}: kin runs on the CPU (device='cpu' or None)")
        self._model = _kin.Model(os.fspath(model_name_or_path))
        self.prompts: Dict[str, str] = dict(prompts or {})
        if default_prompt_name is not None and default_prompt_name not in self.prompts:
            raise InvalidInputError(
                f"default_prompt_name {default_prompt_name!r} is not one of the prompts {sorted(self.prompts)}"
            )
        self.default_prompt_name = default_prompt_name
        self.similarity_fn_name: SimilarityName = similarity_fn_name or "cosine"
        if self.similarity_fn_name not in _SIMILARITIES:
            raise InvalidInputError(
                f"similarity_fn_name {self.similarity_fn_name!r}: expected one of {sorted(_SIMILARITIES)}"
            )
        self.truncate_dim = truncate_dim
        self.device = "cpu"

    # What the model is.

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def modalities(self) -> List[str]:
        return self._model.modalities

    @property
    def max_seq_length(self) -> Optional[int]:
        """Tokens a text is cut to, special tokens included."""
        return self._model.max_seq_length

    def get_max_seq_length(self) -> Optional[int]:
        return self._model.max_seq_length

    def get_embedding_dimension(self) -> int:
        """Length of the vectors ``encode`` returns (after ``truncate_dim``)."""
        dim = self._model.dim
        return min(dim, self.truncate_dim) if self.truncate_dim else dim

    get_sentence_embedding_dimension = get_embedding_dimension

    def tokenize(self, texts: Sequence[str]) -> List[List[int]]:
        """Token ids of each text as the model reads them (special tokens added, truncated)."""
        return self._model.tokenize(_texts(texts))

    # Encoding.

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        precision: Precision = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
        **kwargs: Any,
    ) -> Any:
        """Embeds one text (a 1-D array back) or a list of texts (2-D, one row each, in order).

        The arguments are sentence-transformers': ``prompt`` (or ``prompt_name``, a key of
        ``prompts``) is put before every text; ``normalize_embeddings`` scales rows to unit
        length; ``precision`` quantizes as ``quantize_embeddings`` does; ``convert_to_numpy=False``
        gives a list of 1-D arrays; ``convert_to_tensor`` a torch tensor (torch must be installed).
        """
        if output_value != "sentence_embedding":
            raise InvalidInputError(
                f"output_value {output_value!r}: kin returns sentence embeddings only ('sentence_embedding')"
            )
        if device not in (None, "cpu"):
            raise InvalidInputError(f"device {device!r}: kin runs on the CPU (device='cpu' or None)")
        _check_batch_size(batch_size)
        single = isinstance(sentences, str) or not hasattr(sentences, "__len__")
        texts = _texts([sentences] if single else sentences)
        prefix = self._prompt(prompt_name, prompt)
        if prefix:
            texts = [prefix + t for t in texts]
        with _progress(show_progress_bar, len(texts), batch_size) as on_batch:
            vectors = self._model.embed_text(texts, batch_size, on_batch)
        return self._finish(vectors, single, precision, convert_to_numpy, convert_to_tensor,
                            normalize_embeddings, truncate_dim)

    def encode_query(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> Any:
        """``encode`` with the ``"query"`` prompt when the model has one."""
        if "prompt_name" not in kwargs and "prompt" not in kwargs and "query" in self.prompts:
            kwargs["prompt_name"] = "query"
        return self.encode(sentences, **kwargs)

    def encode_document(self, sentences: Union[str, Sequence[str]], **kwargs: Any) -> Any:
        """``encode`` with the ``"document"`` prompt when the model has one."""
        if "prompt_name" not in kwargs and "prompt" not in kwargs:
            for name in ("document", "passage", "corpus"):
                if name in self.prompts:
                    kwargs["prompt_name"] = name
                    break
        return self.encode(sentences, **kwargs)

    def encode_image(
        self,
        images: Union[ImageInput, Sequence[ImageInput]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        precision: Precision = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
    ) -> Any:
        """Embeds images given by path or as their bytes (the format is read from the content);
        PIL images are taken too. One image gives a 1-D array, a list a 2-D one."""
        _check_batch_size(batch_size)
        single = _is_image(images)
        items = [_image(images)] if single else [_image(i) for i in images]  # type: ignore[union-attr]
        with _progress(show_progress_bar, len(items), batch_size) as on_batch:
            vectors = self._model.embed_images(items, batch_size, on_batch)
        return self._finish(vectors, single, precision, convert_to_numpy, convert_to_tensor,
                            normalize_embeddings, truncate_dim)

    def encode_file(
        self,
        paths: Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]],
        show_progress_bar: Optional[bool] = None,
        precision: Precision = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
    ) -> Any:
        """One vector per media file, judged by its content, as ``kin embed`` and ``kin add``
        embed files: an image, or an audio or video file (Whisper, CLIP frames, the Perceiver)
        cut into segments whose vectors are averaged by duration. One path gives a 1-D array."""
        if isinstance(paths, (str, os.PathLike)):
            single, items = True, [os.fspath(paths)]
        else:
            single, items = False, [os.fspath(p) for p in paths]
        with _progress(show_progress_bar, len(items), 1) as on_batch:
            vectors = self._model.embed_files(items, on_batch)
        return self._finish(vectors, single, precision, convert_to_numpy, convert_to_tensor,
                            normalize_embeddings, truncate_dim)

    # Comparing.

    def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """Every row of ``embeddings1`` against every row of ``embeddings2`` by
        ``similarity_fn_name`` (cosine unless set): a 2-D float32 array.
        sentence-transformers returns a torch tensor of the same values."""
        a, b = _matrix(embeddings1, "embeddings1"), _matrix(embeddings2, "embeddings2")
        if a.shape[1] != b.shape[1]:
            raise InvalidInputError(f"embeddings of {a.shape[1]} and {b.shape[1]} dimensions cannot be compared")
        return _SIMILARITIES[self.similarity_fn_name](a, b)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """Row i of ``embeddings1`` against row i of ``embeddings2``: a 1-D float32 array."""
        a, b = _matrix(embeddings1, "embeddings1"), _matrix(embeddings2, "embeddings2")
        if a.shape != b.shape:
            raise InvalidInputError(f"pairwise similarity needs equal shapes, got {a.shape} and {b.shape}")
        return np.array([_SIMILARITIES[self.similarity_fn_name](x[None], y[None])[0, 0] for x, y in zip(a, b)],
                        dtype=np.float32)

    # Helpers.

    def _prompt(self, prompt_name: Optional[str], prompt: Optional[str]) -> Optional[str]:
        if prompt is not None:
            return prompt
        name = prompt_name if prompt_name is not None else self.default_prompt_name
        if name is None:
            return None
        if name not in self.prompts:
            raise InvalidInputError(f"prompt_name {name!r} is not one of the prompts {sorted(self.prompts)}")
        return self.prompts[name]

    def _finish(self, vectors: np.ndarray, single: bool, precision: Precision, convert_to_numpy: bool,
                convert_to_tensor: bool, normalize: bool, truncate_dim: Optional[int]) -> Any:
        dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        if dim is not None:
            if not isinstance(dim, int) or dim < 1:
                raise InvalidInputError(f"truncate_dim {dim!r}: expected a positive int")
            vectors = vectors[:, :dim]
        if normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        if precision != "float32":
            vectors = quantize_embeddings(vectors, precision)
        if convert_to_tensor:
            try:
                import torch
            except ImportError as e:
                raise InvalidInputError("convert_to_tensor=True needs torch, which is not installed") from e
            tensor = torch.from_numpy(np.ascontiguousarray(vectors))
            return tensor[0] if single else tensor
        if single:
            return vectors[0]
        if not convert_to_numpy:
            return list(vectors)
        return vectors

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, dim={self._model.dim})"


@functools.lru_cache(maxsize=8)
def cached_embedder(name: str) -> Embedder:
    """One ``Embedder`` per model name in this process, for adapters that make many instances."""
    return Embedder(name)


class SentenceTransformer(Embedder):
    """A drop-in for ``sentence_transformers.SentenceTransformer``: same constructor argument,
    same ``encode``, computed by kin on the CPU with no torch."""


def quantize_embeddings(embeddings: np.ndarray, precision: Precision,
                        ranges: Optional[np.ndarray] = None,
                        calibration_embeddings: Optional[np.ndarray] = None) -> np.ndarray:
    """sentence-transformers' ``quantize_embeddings``: int8/uint8 by per-dimension ranges (from
    ``ranges``, ``calibration_embeddings`` or the embeddings themselves), binary/ubinary by sign,
    eight dimensions to a byte."""
    embeddings = np.asarray(embeddings)
    if embeddings.ndim == 1:
        embeddings = embeddings[None]
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision in ("int8", "uint8"):
        if ranges is None:
            source = calibration_embeddings if calibration_embeddings is not None else embeddings
            ranges = np.vstack((source.min(axis=0), source.max(axis=0)))
        starts = ranges[0, :]
        steps = (ranges[1, :] - ranges[0, :]) / 255
        if precision == "uint8":
            return ((embeddings - starts) / steps).astype(np.uint8)
        return ((embeddings - starts) / steps - 128).astype(np.int8)
    if precision == "binary":
        return (np.packbits(embeddings > 0).reshape(embeddings.shape[0], -1) - 128).astype(np.int8)
    if precision == "ubinary":
        return np.packbits(embeddings > 0).reshape(embeddings.shape[0], -1)
    raise InvalidInputError(
        f"precision {precision!r}: expected float32, int8, uint8, binary or ubinary"
    )


def _texts(items: Iterable[Any]) -> List[str]:
    texts = list(items)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"sentences[{i}]: expected a string, got {type(t).__name__}")
    return texts


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size {batch_size!r}: expected a positive int")


def _is_image(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray, str, os.PathLike)) or _is_pil(value)


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save")


def _image(value: Any) -> Any:
    if isinstance(value, bytearray):
        return bytes(value)
    if _is_pil(value):
        import io

        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return buffer.getvalue()
    return value


def _matrix(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise InvalidInputError(f"{what}: numeric vectors expected, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise InvalidInputError(f"{what}: expected a 1-D or 2-D array, got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a @ b.T).astype(np.float32)


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * (a @ b.T)
    return (-np.sqrt(np.maximum(d, 0))).astype(np.float32)


def _manhattan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (-np.abs(a[:, None, :] - b[None, :, :]).sum(-1)).astype(np.float32)


_SIMILARITIES: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": _cosine,
    "dot": lambda a, b: (a @ b.T).astype(np.float32),
    "euclidean": _euclidean,
    "manhattan": _manhattan,
}


class _progress:
    """A progress bar over batches (tqdm when installed, a line on stderr otherwise), shown when
    asked or, as sentence-transformers decides, when kin's logger is at INFO or DEBUG."""

    def __init__(self, show: Optional[bool], total: int, batch_size: int) -> None:
        if show is None:
            show = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        self.show = bool(show) and total > 0
        self.total, self.batch_size = total, batch_size
        self.bar: Any = None

    def __enter__(self) -> Optional[Callable[[int], None]]:
        if not self.show:
            return None
        batches = -(-self.total // self.batch_size)
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=batches, desc="Batches")
            return lambda done: self.bar.update(1)
        except ImportError:
            def line(done: int) -> None:
                sys.stderr.write(f"\rBatches: {-(-done // self.batch_size)}/{batches}")
                sys.stderr.flush()
            return line

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.show:
            sys.stderr.write("\n")
