"""Rows between Milvus's shape and kin's items: each row one item, its primary key the item id
(and again in the payload, so that filters can name it), its vector the item vector, every other
field in the payload; and back, as the entities pymilvus shows."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

from .exceptions import InvalidInputError
from .milvus_schema import _Schema


# The payload key that keeps a cosine row's length (kin stores cosine vectors at unit length;
# Milvus gives back the vector as inserted). Not a plain name, so no filter can name it by accident.
_NORM = "$norm"
# The payload key that keeps the order rows were first written in.
_SEQ = "$seq"

class CountResult(dict):
    """pymilvus' answer to a write: a dict with ``cost`` 0, which printing leaves out."""

    def __str__(self) -> str:
        return str({k: v for k, v in self.items() if v or k.endswith("_count")})

    def __repr__(self) -> str:
        return str(dict(self))


class DeleteResult(list):
    """The primary keys ``delete`` removed, as Milvus Lite answers; ``result["delete_count"]``
    (the answer of a Milvus server) works too."""

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if key == "delete_count":
            return len(self)
        return super().__getitem__(key)


def _rows(data: Any) -> List[Dict[str, Any]]:
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise InvalidInputError(f"wrong type of argument 'data': expected a dict or a list of dicts, got {type(data).__name__}")
    return data


def _as_list(ids: Any) -> List[Any]:
    if isinstance(ids, (int, str)):
        return [ids]
    if isinstance(ids, np.ndarray):
        return ids.tolist()
    return list(ids)


def _norm(vector: Any, index: int) -> float:
    try:
        values = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"data[{index}]: the vector is not a list of numbers ({e})") from None
    norm = float(np.linalg.norm(values.astype(np.float64)))
    return norm if math.isfinite(norm) and norm > 0 else 1.0


def _written(item: Any) -> Any:
    payload = item[2] if isinstance(item[2], dict) else {}
    return payload.get(_SEQ, -1)


def _key(pk: Any) -> Any:
    return (type(pk).__name__, pk)


def _wants(field: str, output_fields: Optional[List[str]]) -> bool:
    return not output_fields or "*" in output_fields or field in output_fields


def _vector_of(item: Any, payload: Dict[str, Any]) -> List[float]:
    vector = item[1]
    norm = payload.get(_NORM)
    if norm is not None:
        vector = vector * np.float32(norm)
    return vector.tolist()


def _entity(schema: _Schema, payload: Any, item: Any, output_fields: Optional[List[str]],
            with_pk: bool) -> Dict[str, Any]:
    """A row's fields as Milvus shows them: the primary key (for query), the vector, then the
    other fields; all of them, or those of ``output_fields`` in its order."""
    payload = payload if isinstance(payload, dict) else {}
    fields = {k: v for k, v in payload.items() if k not in (_NORM, _SEQ, schema.primary_field)}
    out: Dict[str, Any] = {}
    if with_pk:
        out[schema.primary_field] = payload.get(schema.primary_field)
    if not output_fields or "*" in output_fields:
        if item is not None:
            out[schema.vector_field] = _vector_of(item, payload)
        out.update(sorted(fields.items()))
        return out
    for name in output_fields:
        if name == schema.vector_field:
            if item is not None:
                out[name] = _vector_of(item, payload)
        elif name == schema.primary_field:
            out[name] = payload.get(schema.primary_field)
        elif name in fields:
            out[name] = fields[name]
    return out


def _row(schema: _Schema, item: Any, output_fields: Optional[List[str]]) -> Dict[str, Any]:
    pk, _, payload = item
    payload = dict(payload) if isinstance(payload, dict) else {}
    payload[schema.primary_field] = pk
    return _entity(schema, payload, item, output_fields, with_pk=True)


def _in_range(metric: str, score: float, radius: Optional[float], range_filter: Optional[float]) -> bool:
    """Milvus's range search: for cosine and IP, ``radius < score <= range_filter``; for L2,
    ``range_filter <= score < radius``."""
    if radius is None and range_filter is None:
        return True
    if metric == "l2":
        return (radius is None or score < radius) and (range_filter is None or score >= range_filter)
    return (radius is None or score > radius) and (range_filter is None or score <= range_filter)
