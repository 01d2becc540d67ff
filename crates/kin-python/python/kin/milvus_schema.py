"""What Milvus knows of a collection and kin's store does not: field names, the id type,
``auto_id``, and the metric and index settings a pymilvus ``CollectionSchema`` and
``IndexParams`` carry."""

from __future__ import annotations

import enum
from typing import Any, Dict, Optional

import numpy as np

from .exceptions import InvalidInputError


_METRICS = {"COSINE": "cosine", "IP": "dot", "L2": "l2"}


class DataType(enum.IntEnum):
    """The field types of pymilvus' ``DataType`` that kin's collections have, with its values."""

    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    FLOAT_VECTOR = 101


class _Schema:
    """What Milvus knows of a collection and kin's store does not."""

    def __init__(self, primary_field: str = "id", vector_field: str = "vector", id_type: str = "int",
                 auto_id: bool = False, max_length: Optional[int] = None, description: str = "",
                 next_id: int = 1, next_seq: int = 0) -> None:
        self.primary_field = primary_field
        self.vector_field = vector_field
        self.id_type = id_type
        self.auto_id = auto_id
        self.max_length = max_length
        self.description = description
        self.next_id = next_id
        # Rows come back from query in the order they were first written, as in Milvus Lite;
        # each row keeps its number in the payload (an upsert keeps it).
        self.next_seq = next_seq

    def to_json(self) -> Dict[str, Any]:
        return dict(vars(self))


def _metric(milvus_metric: Any) -> str:
    metric = _METRICS.get(str(milvus_metric).upper())
    if metric is None:
        raise InvalidInputError(f"metric_type {milvus_metric!r}: expected COSINE, IP or L2")
    return metric


def _milvus_metric(kin_metric: str) -> str:
    return {v: k for k, v in _METRICS.items()}[kin_metric]


def _from_schema(schema: Any) -> tuple:
    """Names and types from a pymilvus ``CollectionSchema``: one primary key, one float vector."""
    primary, vector, others = None, None, []
    for field in getattr(schema, "fields", []):
        dtype = int(getattr(field, "dtype", 0))
        if getattr(field, "is_primary", False):
            primary = field
        elif dtype == DataType.FLOAT_VECTOR:
            if vector is not None:
                raise InvalidInputError("kin's collections hold one vector field")
            vector = field
        elif dtype > 100:
            raise InvalidInputError(f"field {field.name!r}: kin stores float vectors only")
        else:
            others.append(field)
    if primary is None or vector is None:
        raise InvalidInputError("the schema needs a primary key field and a FLOAT_VECTOR field")
    params = getattr(primary, "params", {}) or {}
    id_type = "string" if int(primary.dtype) == DataType.VARCHAR else "int"
    if id_type == "int" and int(primary.dtype) != DataType.INT64:
        raise InvalidInputError(f"primary key {primary.name!r}: expected INT64 or VARCHAR")
    auto_id = bool(getattr(primary, "auto_id", False) or getattr(schema, "auto_id", False))
    dim = (getattr(vector, "params", {}) or {}).get("dim")
    return primary.name, vector.name, id_type, auto_id, int(dim) if dim is not None else None, params.get("max_length")


def _from_index_params(index_params: Any, vector_field: str, metric: str) -> tuple:
    """Metric, index kind and HNSW settings from a pymilvus ``IndexParams`` (or a list of dicts
    in its ``to_dict`` form) for the vector field."""
    index, m, ef_construction = "hnsw", 16, 200
    for entry in index_params:
        config = dict(entry.to_dict() if hasattr(entry, "to_dict") else entry)
        config.update(config.pop("params", None) or {})
        if config.get("field_name", vector_field) != vector_field:
            continue
        metric = config.get("metric_type") or metric
        index = "flat" if str(config.get("index_type") or "").upper() == "FLAT" else "hnsw"
        m = int(config.get("M", m))
        ef_construction = int(config.get("efConstruction", ef_construction))
    return metric, index, m, ef_construction


def _check_pk(schema: _Schema, pk: Any, index: int) -> None:
    if schema.id_type == "int":
        if isinstance(pk, (bool, float)) or not isinstance(pk, (int, np.integer)):
            raise InvalidInputError(f"data[{index}]: primary key {pk!r} is not an int (the collection's ids are INT64)")
    elif not isinstance(pk, str):
        raise InvalidInputError(f"data[{index}]: primary key {pk!r} is not a string (the collection's ids are VARCHAR)")
    elif schema.max_length is not None and len(pk.encode("utf-8")) > schema.max_length:
        raise InvalidInputError(f"data[{index}]: primary key {pk!r} is longer than max_length {schema.max_length}")
