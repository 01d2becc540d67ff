"""pymilvus' ``MilvusClient`` over kin's embedded store.

``kin.MilvusClient("./kin.db")`` takes the calls a script written for
``pymilvus.MilvusClient("./milvus.db")`` makes, with the same arguments, defaults and result
shapes: quick-setup collections of an ``"id"`` primary key and a ``"vector"`` field with every
other key of a row kept as a dynamic field, COSINE by default; ``insert`` answering
``{"insert_count": n, "ids": [...]}``; ``search`` a list per query of
``{"id", "distance", "entity"}`` dicts, best first; filters in kin's grammar, which takes
Milvus's boolean expressions (``subject == "history" AND year >= 2020``, ``id in [1, 2]``,
``title like "Intro%"``, ``meta["lang"] == "en"``, ``array_contains_any(tags, ["db", "ml"])``).

How rows are kept: each row is one kin item, its primary key the item id, its vector the item
vector, every other field (the primary key again, so that filters can name it) in the item's
payload (``milvus_rows.py``). Settings kin's store does not have (the field names, the id type,
``auto_id``: ``milvus_schema.py``) are in ``DIR/milvus/NAME.json`` beside the store's own files.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from typing import Any, Dict, List, Optional, Union

import numpy as np

from . import _kin
from .documents import _Documents, _text_queries
from .exceptions import CollectionNotFoundError, InvalidInputError
from .milvus_rows import (
    _NORM,
    _SEQ,
    CountResult,
    DeleteResult,
    _as_list,
    _entity,
    _in_range,
    _key,
    _norm,
    _row,
    _rows,
    _wants,
    _written,
)
from .milvus_schema import DataType, _check_pk, _from_index_params, _from_schema, _metric, _milvus_metric, _Schema

__all__ = ["MilvusClient", "DataType"]

class _Db:
    """One store folder open in this process: the native store and the Milvus settings of its
    collections, shared by every client on the folder."""

    def __init__(self, path: str, url: Optional[str] = None) -> None:
        if url is None:
            self.store = _kin.Store(path)
            self.schema_dir: Optional[str] = os.path.join(path, "milvus")
        else:
            # A server keeps kin's schema; the Milvus settings of this process's collections
            # stay in memory (others read as quick-setup collections).
            self.store = _kin.Store.connect(url)
            self.schema_dir = None
        self.schemas: Dict[str, "_Schema"] = {}
        self.lock = threading.Lock()


_open_dbs: "weakref.WeakValueDictionary[str, _Db]" = weakref.WeakValueDictionary()
_open_lock = threading.Lock()


def _db(path: str, url: Optional[str] = None) -> _Db:
    key = url if url is not None else os.path.realpath(path)
    with _open_lock:
        db = _open_dbs.get(key)
        if db is None:
            db = _Db(key, url)
            _open_dbs[key] = db
        return db


def _server_url(uri: str, user: str, password: str, db_name: str, token: str) -> str:
    """pymilvus' connection arguments as kin-milvus' URL."""
    scheme, rest = uri.split("://", 1)
    secure = scheme in ("https", "grpcs", "milvus+tls")
    host = rest.split("/", 1)[0].split("?", 1)[0]
    credentials = f"{user}:{password}@" if user else ""
    url = f"{'milvus+tls' if secure else 'milvus'}://{credentials}{host}"
    if db_name:
        url += f"/{db_name}"
    if token:
        url += f"?token={token}"
    return url


class MilvusClient(_Documents):
    """A store of collections with pymilvus' ``MilvusClient`` methods.

    ``uri`` is a folder of kin's embedded store (created when missing; ``"./kin.db"`` is a
    folder here, not a file; one process holds a folder at a time), or a Milvus server
    (``"http://localhost:19530"``, with ``user``/``password``, ``db_name`` or ``token``), reached
    through kin-milvus with kin's schema.
    """

    def __init__(self, uri: str = "./kin.db", user: str = "", password: str = "", db_name: str = "",
                 token: str = "", timeout: Optional[float] = None, **kwargs: Any) -> None:
        uri = os.fspath(uri)
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        self._path = uri
        if uri.startswith(("http://", "https://", "tcp://", "grpc://", "grpcs://", "milvus://", "milvus+tls://")):
            url = _server_url(uri, user, password, db_name, token)
            self._db: Optional[_Db] = _db(uri, url)
        else:
            self._db = _db(uri)

    # Collections.

    def create_collection(self, collection_name: str, dimension: Optional[int] = None,
                          primary_field_name: str = "id", id_type: str = "int",
                          vector_field_name: str = "vector", metric_type: str = "COSINE",
                          auto_id: bool = False, timeout: Optional[float] = None,
                          schema: Any = None, index_params: Any = None, **kwargs: Any) -> None:
        """A collection of ``dimension``-long vectors: quick setup (``"id"`` and ``"vector"``,
        other fields dynamic), or from a pymilvus ``CollectionSchema`` and ``IndexParams``.

        kin's own keywords: ``model="all-MiniLM-L6-v2"`` (any model kin runs; ``dimension`` is
        then the model's) makes a collection that ``add`` fills from files and that ``search``
        and ``search_text`` query by text; ``spaces={"text": "all-MiniLM-L6-v2", "image":
        "clip-vit-base-patch32"}`` (with ``routes={"video": "image"}`` where two models read one
        kind of content) makes a mixed collection, each file to the model that reads it;
        ``text_index`` (default: on for a model that reads text only) keeps a BM25 index for
        text and hybrid search."""
        index, m, ef_construction = "hnsw", 16, 200
        model, text_index, spaces = kwargs.get("model"), kwargs.get("text_index"), kwargs.get("spaces")
        max_length = kwargs.get("max_length")
        if schema is not None:
            primary_field_name, vector_field_name, id_type, auto_id, dimension, max_length = _from_schema(schema)
        if index_params is not None:
            metric_type, index, m, ef_construction = _from_index_params(index_params, vector_field_name, metric_type)
        if isinstance(dimension, bool) or not (isinstance(dimension, int) or (dimension is None and (model or spaces))):
            raise InvalidInputError(f"dimension {dimension!r}: expected an int")
        if id_type in ("int", DataType.INT64):
            id_type = "int"
        elif id_type in ("string", "str", DataType.VARCHAR):
            id_type = "string"
        else:
            raise InvalidInputError(f"id_type {id_type!r}: expected 'int' or 'string'")
        if id_type == "string" and auto_id:
            raise InvalidInputError("auto_id works with int primary keys only")
        routes = kwargs.get("routes")
        self._store.create(collection_name, dimension, _metric(metric_type), index, m, ef_construction,
                           model=model, text_index=text_index,
                           spaces=None if spaces is None else list(dict(spaces).items()),
                           routes=None if routes is None else list(dict(routes).items()))
        schema_obj = _Schema(primary_field_name, vector_field_name, id_type, bool(auto_id), max_length,
                             kwargs.get("description", ""), **self._counters())
        self._save_schema(collection_name, schema_obj)

    def list_collections(self, **kwargs: Any) -> List[str]:
        return self._store.names()

    def has_collection(self, collection_name: str, timeout: Optional[float] = None, **kwargs: Any) -> bool:
        return self._store.has(collection_name)

    def drop_collection(self, collection_name: str, timeout: Optional[float] = None, **kwargs: Any) -> None:
        """Drops the collection; one that does not exist is no error (as in Milvus)."""
        if not self._store.has(collection_name):
            return
        self._store.drop(collection_name)
        self._open().schemas.pop(collection_name, None)
        path = self._schema_path(collection_name)
        if path is not None and os.path.exists(path):
            os.remove(path)

    def describe_collection(self, collection_name: str, timeout: Optional[float] = None,
                            **kwargs: Any) -> Dict[str, Any]:
        config = self._store.config(collection_name)
        schema = self._schema(collection_name)
        pk_params: Dict[str, Any] = {}
        if schema.id_type == "string":
            pk_params["max_length"] = schema.max_length or 65535
        pk = {"field_id": 100, "name": schema.primary_field, "description": "",
              "type": DataType.INT64 if schema.id_type == "int" else DataType.VARCHAR,
              "params": pk_params, "is_primary": True}
        if schema.auto_id:
            pk["auto_id"] = True
        vector = {"field_id": 101, "name": schema.vector_field, "description": "",
                  "type": DataType.FLOAT_VECTOR, "params": {"dim": config["dim"]}}
        return {
            "collection_name": collection_name, "auto_id": schema.auto_id, "num_shards": 1,
            "description": schema.description, "fields": [pk, vector], "functions": [], "aliases": [],
            "collection_id": 0, "consistency_level": 0, "consistency_level_name": "Strong",
            "properties": {}, "num_partitions": 1, "enable_dynamic_field": True,
        }

    def get_collection_stats(self, collection_name: str, timeout: Optional[float] = None,
                             **kwargs: Any) -> Dict[str, int]:
        return {"row_count": self._store.count(collection_name)}

    # Milvus loads collections into memory and builds indexes on request; kin's collections
    # are searchable as soon as they exist. These calls check the collection and do nothing else.

    def load_collection(self, collection_name: str, timeout: Optional[float] = None, **kwargs: Any) -> None:
        self._require(collection_name)

    def release_collection(self, collection_name: str, timeout: Optional[float] = None, **kwargs: Any) -> None:
        self._require(collection_name)

    def get_load_state(self, collection_name: str, partition_name: str = "", **kwargs: Any) -> Dict[str, Any]:
        self._require(collection_name)
        return {"state": "Loaded"}

    def flush(self, collection_name: str, timeout: Optional[float] = None, **kwargs: Any) -> None:
        """Writes are durable when they return; nothing to flush."""
        self._require(collection_name)

    def list_indexes(self, collection_name: str, field_name: Optional[str] = "", **kwargs: Any) -> List[str]:
        return [self._schema(collection_name).vector_field]

    def close(self) -> None:
        """Lets go of the store (the folder is free once every client on it is closed)."""
        self._db = None

    @property
    def _store(self) -> Any:
        return self._open().store

    def _open(self) -> _Db:
        if self._db is None:
            raise InvalidInputError("the client is closed")
        return self._db

    # Rows.

    def insert(self, collection_name: str, data: Union[Dict[str, Any], List[Dict[str, Any]]],
               timeout: Optional[float] = None, partition_name: Optional[str] = "",
               **kwargs: Any) -> Dict[str, Any]:
        """Adds rows (dicts with the vector field, the primary key unless ``auto_id``, and any
        other fields); ``{"insert_count": n, "ids": [...]}``. A row with an id that exists
        replaces it (kin keeps one row per id)."""
        rows = _rows(data)
        if not rows:
            return {"insert_count": 0, "ids": []}
        ids = self._write(collection_name, rows, assign_ids=True)
        return CountResult(insert_count=len(ids), ids=ids, cost=0)

    def upsert(self, collection_name: str, data: Union[Dict[str, Any], List[Dict[str, Any]]],
               timeout: Optional[float] = None, partition_name: Optional[str] = "",
               **kwargs: Any) -> Dict[str, Any]:
        """Writes rows, replacing those with the same primary key; ``{"upsert_count": n, "ids": [...]}``."""
        if kwargs.get("partial_update"):
            raise InvalidInputError("partial_update is not supported: upsert whole rows")
        rows = _rows(data)
        if not rows:
            return {"upsert_count": 0, "ids": []}
        ids = self._write(collection_name, rows, assign_ids=False)
        return CountResult(upsert_count=len(ids), cost=0, ids=ids)

    def delete(self, collection_name: str, ids: Optional[Union[list, str, int]] = None,
               timeout: Optional[float] = None, filter: Optional[str] = None,
               partition_name: Optional[str] = None, **kwargs: Any) -> DeleteResult:
        """Deletes rows by primary key or by filter (not both); the keys asked for, or those the
        filter matched."""
        pks = list(_as_list(kwargs.get("pks", [])))
        if ids is not None:
            pks.extend(_as_list(ids))
        for pk in pks:
            if isinstance(pk, bool) or not isinstance(pk, (int, str)):
                raise InvalidInputError(f"ids: expected ints or strings, got {type(pk).__name__}")
        if filter and pks:
            raise InvalidInputError("delete takes ids or a filter, not both")
        self._schema(collection_name)
        if pks:
            self._store.delete(collection_name, pks)
            return DeleteResult(pks)  # Milvus answers with the keys asked for
        if not filter:
            raise InvalidInputError("delete needs ids or a filter")
        if not isinstance(filter, str):
            raise InvalidInputError(f"filter: expected a string, got {type(filter).__name__}")
        matching = [item[0] for item in sorted(self._store.scan(collection_name, filter), key=_written)]
        if matching:
            self._store.delete(collection_name, matching)
        return DeleteResult(matching)

    def get(self, collection_name: str, ids: Union[list, str, int],
            output_fields: Optional[List[str]] = None, timeout: Optional[float] = None,
            partition_names: Optional[List[str]] = None, **kwargs: Any) -> List[Dict[str, Any]]:
        """The rows with these primary keys (those that exist, in the order asked)."""
        pks = _as_list(ids)
        if not pks:
            return []
        schema = self._schema(collection_name)
        items = self._store.get(collection_name, pks)
        return [_row(schema, item, output_fields) for item in items]

    def query(self, collection_name: str, filter: str = "", output_fields: Optional[List[str]] = None,
              timeout: Optional[float] = None, ids: Optional[Union[list, str, int]] = None,
              partition_names: Optional[List[str]] = None, **kwargs: Any) -> List[Dict[str, Any]]:
        """Rows matching ``filter`` (or with these ``ids``), in the order they were written;
        ``limit`` and ``offset`` page; ``output_fields=["count(*)"]`` counts."""
        if filter and not isinstance(filter, str):
            raise InvalidInputError(f"filter: expected a string, got {type(filter).__name__}")
        if filter and ids is not None:
            raise InvalidInputError("query takes ids or a filter, not both")
        schema = self._schema(collection_name)
        limit, offset = kwargs.get("limit"), kwargs.get("offset", 0) or 0
        if output_fields and [f.strip() for f in output_fields] == ["count(*)"]:
            if ids is not None:
                return [{"count(*)": len(self._store.get(collection_name, _as_list(ids)))}]
            if not filter:
                return [{"count(*)": self._store.count(collection_name)}]
            return [{"count(*)": len(self._store.scan(collection_name, filter))}]
        if ids is not None:
            items = self._store.get(collection_name, _as_list(ids))
            items = items[offset:] if limit is None else items[offset:offset + limit]
        else:
            items = sorted(self._store.scan(collection_name, filter or None), key=_written)
            items = items[offset:] if limit is None else items[offset:offset + limit]
        return [_row(schema, item, output_fields) for item in items]

    def search(self, collection_name: str, data: Any = None, filter: str = "", limit: int = 10,
               output_fields: Optional[List[str]] = None, search_params: Optional[dict] = None,
               timeout: Optional[float] = None, partition_names: Optional[List[str]] = None,
               anns_field: Optional[str] = None, **kwargs: Any) -> List[List[Dict[str, Any]]]:
        """The ``limit`` nearest rows to each query vector in ``data``: per query a list of
        ``{"id", "distance", "entity"}``, best first. ``distance`` is Milvus's: the cosine or inner
        product (higher is nearer), or the squared L2 distance (lower is nearer).

        In a collection of a model, ``data`` may be query texts: embedded with the model, or with
        ``search_mode="text"`` or ``"hybrid"`` ranked by BM25 or both fused (the score is then
        the fused one)."""
        for unsupported in ("group_by_field", "ranker", "highlighter"):
            if kwargs.get(unsupported) is not None:
                raise InvalidInputError(f"search: {unsupported} is not supported by kin's store")
        schema = self._schema(collection_name)
        if anns_field and anns_field != schema.vector_field:
            raise InvalidInputError(f"anns_field {anns_field!r}: the collection's vector field is {schema.vector_field!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit {limit!r}: expected a positive int")
        params = dict(search_params or {})
        inner = dict(params.get("params") or {})
        metric = params.get("metric_type")
        config = self._store.config(collection_name)
        if metric and _metric(metric) != config["metric"]:
            raise InvalidInputError(
                f"metric_type {metric!r} does not match the collection's metric {_milvus_metric(config['metric'])!r}"
            )
        offset = int(kwargs.get("offset", params.get("offset", 0)) or 0)
        ef = inner.get("ef", kwargs.get("ef"))
        radius = inner.get("radius", kwargs.get("radius"))
        range_filter = inner.get("range_filter", kwargs.get("range_filter"))
        ef = None if ef is None else max(int(ef), limit + offset)
        texts = _text_queries(data)
        if texts is None:
            hits = self._store.search(collection_name, data, limit + offset, filter or None, ef)
        else:
            found = self._store.find(collection_name, texts, k=limit + offset, mode=kwargs.get("search_mode", "dense"),
                                     filter=filter or None, ef=ef, documents=False)
            hits = [[(h["id"], h["score"], h["payload"]) for h in row] for row in found]
        vectors = self._vectors_for(collection_name, schema, hits, output_fields)
        results = []
        for query_hits in hits:
            row = []
            for pk, score, payload in query_hits[offset:]:
                if not _in_range(config["metric"], score, radius, range_filter):
                    continue
                entity = _entity(schema, payload, vectors.get(_key(pk)), output_fields, with_pk=False)
                row.append({"id": pk, "distance": float(score), "entity": entity})
            results.append(row)
        return results

    # Helpers.

    def _write(self, name: str, rows: List[Dict[str, Any]], assign_ids: bool) -> List[Any]:
        db = self._open()
        with db.lock:
            schema = self._schema(name)
            ids, vectors, payloads = [], [], []
            cosine = self._store.config(name)["metric"] == "cosine"
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise InvalidInputError(f"data[{i}]: expected a dict, got {type(row).__name__}")
                if schema.vector_field not in row:
                    raise InvalidInputError(f"data[{i}]: the vector field {schema.vector_field!r} is missing")
                if schema.auto_id and assign_ids:
                    pk: Any = schema.next_id + i
                elif schema.primary_field in row:
                    pk = row[schema.primary_field]
                else:
                    raise InvalidInputError(f"data[{i}]: the primary key field {schema.primary_field!r} is missing")
                _check_pk(schema, pk, i)
                if isinstance(pk, np.integer):
                    pk = int(pk)
                payload = {k: v for k, v in row.items() if k != schema.vector_field}
                payload[schema.primary_field] = pk
                vector = row[schema.vector_field]
                if cosine:
                    norm = _norm(vector, i)
                    if norm != 1.0:
                        payload[_NORM] = norm
                ids.append(pk)
                vectors.append(vector)
                payloads.append(payload)
            seqs = {_key(item[0]): item[2].get(_SEQ) for item in self._store.get(name, ids)}
            for pk, payload in zip(ids, payloads):
                seq = seqs.get(_key(pk))
                if seq is None:
                    seq = seqs[_key(pk)] = schema.next_seq
                    schema.next_seq += 1
                payload[_SEQ] = seq
            self._store.upsert(name, ids, vectors, payloads)
            if schema.auto_id and assign_ids:
                schema.next_id += len(rows)
            self._save_schema(name, schema)
        return ids

    def _vectors_for(self, name: str, schema: _Schema, hits: List[List[Any]],
                     output_fields: Optional[List[str]]) -> Dict[Any, Any]:
        """The stored vectors of the hits, when the entity is to show them."""
        if not _wants(schema.vector_field, output_fields):
            return {}
        pks = list({_key(pk): pk for query_hits in hits for pk, _, _ in query_hits}.values())
        return {_key(item[0]): item for item in self._store.get(name, pks)} if pks else {}

    def _require(self, name: str) -> None:
        if not self._store.has(name):
            raise CollectionNotFoundError(f"collection {name!r} does not exist")

    def _schema_path(self, name: str) -> Optional[str]:
        schema_dir = self._open().schema_dir
        return None if schema_dir is None else os.path.join(schema_dir, f"{name}.json")

    def _schema(self, name: str) -> _Schema:
        schema = self._open().schemas.get(name)
        if schema is not None and self._store.has(name):
            return schema
        self._require(name)
        path = self._schema_path(name)
        try:
            if path is None:
                raise FileNotFoundError(name)
            with open(path, encoding="utf-8") as f:
                schema = _Schema(**json.load(f))
        except FileNotFoundError:
            # A collection made by kin's CLI or server, or one on a Milvus server: the
            # quick-setup names.
            schema = _Schema(**self._counters())
        self._open().schemas[name] = schema
        return schema

    def _counters(self) -> Dict[str, Any]:
        """Where automatic ids and the write order start. A folder keeps both in its settings file
        and starts them at 1 and 0, as Milvus Lite does; on a server, where they last only as
        long as the process, they start at the microseconds since 1970, so that another process
        (later) neither reuses an id nor writes rows before earlier ones."""
        if self._open().schema_dir is not None:
            return {"next_id": 1, "next_seq": 0}
        now = time.time_ns() // 1000
        return {"next_id": now, "next_seq": now}

    def _save_schema(self, name: str, schema: _Schema) -> None:
        self._open().schemas[name] = schema
        schema_dir = self._open().schema_dir
        if schema_dir is None:
            return
        os.makedirs(schema_dir, exist_ok=True)
        path = os.path.join(schema_dir, f"{name}.json")
        partial = path + ".partial"
        with open(partial, "w", encoding="utf-8") as f:
            json.dump(schema.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
