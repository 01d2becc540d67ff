"""kin.MilvusClient over the embedded store: pymilvus' calls, arguments and result shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kin

DIM = 8


@pytest.fixture
def client(tmp_path):
    c = kin.MilvusClient(str(tmp_path / "kin.db"))
    yield c
    c.close()


@pytest.fixture
def rows():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(60, DIM)).astype(np.float32)
    subjects = ["history", "biology", "math"]
    return [
        {"id": i, "vector": vectors[i].tolist(), "text": f"doc {i}", "subject": subjects[i % 3], "year": 2000 + i}
        for i in range(60)
    ]


def exact(rows, query, metric, keep=lambda r: True):
    """The ranking by brute force, as Milvus scores it."""
    q = np.asarray(query, dtype=np.float64)
    scored = []
    for r in rows:
        if not keep(r):
            continue
        v = np.asarray(r["vector"], dtype=np.float64)
        if metric == "COSINE":
            s = v @ q / (np.linalg.norm(v) * np.linalg.norm(q))
        elif metric == "IP":
            s = v @ q
        else:
            s = ((v - q) ** 2).sum()
        scored.append((s, r["id"]))
    scored.sort(key=lambda t: t[0], reverse=metric != "L2")
    return scored


def test_quick_setup_collection(client):
    assert client.list_collections() == []
    client.create_collection("demo", dimension=DIM)
    assert client.has_collection("demo") and not client.has_collection("other")
    assert client.list_collections() == ["demo"]
    desc = client.describe_collection("demo")
    assert desc["collection_name"] == "demo" and desc["auto_id"] is False
    assert desc["enable_dynamic_field"] is True
    pk, vector = desc["fields"]
    assert (pk["name"], pk["type"], pk["is_primary"]) == ("id", kin.DataType.INT64, True)
    assert (vector["name"], vector["type"], vector["params"]) == ("vector", kin.DataType.FLOAT_VECTOR, {"dim": DIM})
    with pytest.raises(kin.CollectionExistsError, match="already exists"):
        client.create_collection("demo", dimension=DIM)
    client.drop_collection("demo")
    assert not client.has_collection("demo")
    client.drop_collection("demo")  # dropping what is not there is no error, as in Milvus


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_insert_and_search_rank_as_milvus(client, rows, metric):
    client.create_collection("docs", dimension=DIM, metric_type=metric)
    res = client.insert("docs", rows)
    assert res == {"insert_count": 60, "ids": list(range(60)), "cost": 0}
    assert str(res) == str({"insert_count": 60, "ids": list(range(60))})  # as pymilvus prints it
    query = rows[5]["vector"]
    hits = client.search("docs", data=[query], limit=5, search_params={"params": {"ef": 100}})
    assert len(hits) == 1 and len(hits[0]) == 5
    want = exact(rows, query, metric)[:5]
    assert [h["id"] for h in hits[0]] == [i for _, i in want]
    for hit, (score, _) in zip(hits[0], want):
        assert set(hit) == {"id", "distance", "entity"}
        assert math.isclose(hit["distance"], score, rel_tol=1e-4, abs_tol=1e-4)
        # No output_fields: every field, the vector as inserted among them.
        row = rows[hit["id"]]
        assert hit["entity"]["text"] == row["text"] and hit["entity"]["year"] == row["year"]
        np.testing.assert_allclose(hit["entity"]["vector"], row["vector"], rtol=1e-5, atol=1e-6)
        assert "id" not in hit["entity"]


def test_search_with_filter_and_output_fields(client, rows):
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", rows)
    queries = np.asarray([rows[0]["vector"], rows[1]["vector"]], dtype=np.float32)
    hits = client.search("docs", data=queries, filter="subject == 'biology' and year >= 2010", limit=4,
                         output_fields=["text", "subject"])
    assert len(hits) == 2
    for q, query_hits in zip(queries, hits):
        keep = lambda r: r["subject"] == "biology" and r["year"] >= 2010
        assert [h["id"] for h in query_hits] == [i for _, i in exact(rows, q, "COSINE", keep)[:4]]
        for h in query_hits:
            assert list(h["entity"]) == ["text", "subject"]
            assert h["entity"]["subject"] == "biology"
    by_id = client.search("docs", data=[rows[0]["vector"]], filter="id in [3, 4, 5]", limit=10)
    assert sorted(h["id"] for h in by_id[0]) == [3, 4, 5]


def test_query_get_and_count(client, rows):
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", rows[:10])
    got = client.query("docs", filter="subject == 'math'", output_fields=["text"])
    assert got == [{"id": i, "text": f"doc {i}"} for i in (2, 5, 8)]
    full = client.query("docs", filter="id == 4")
    assert list(full[0]) == ["id", "vector", "subject", "text", "year"]
    np.testing.assert_allclose(full[0]["vector"], rows[4]["vector"], rtol=1e-5, atol=1e-6)
    assert [r["id"] for r in client.get("docs", ids=[7, 1, 99])] == [7, 1]
    assert client.get("docs", ids=3, output_fields=["year"]) == [{"id": 3, "year": 2003}]
    assert client.query("docs", filter="", output_fields=["count(*)"]) == [{"count(*)": 10}]
    assert client.query("docs", filter="year < 2004", output_fields=["count(*)"]) == [{"count(*)": 4}]
    assert [r["id"] for r in client.query("docs", filter="year >= 2000", limit=3, offset=2)] == [2, 3, 4]
    assert client.get_collection_stats("docs") == {"row_count": 10}


def test_upsert_and_delete(client, rows):
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", rows[:10])
    changed = dict(rows[3], text="changed")
    assert client.upsert("docs", [changed]) == {"upsert_count": 1, "cost": 0, "ids": [3]}
    assert client.get("docs", 3, output_fields=["text"]) == [{"id": 3, "text": "changed"}]
    # An upserted row keeps its place in query order.
    assert [r["id"] for r in client.query("docs", filter="id < 5", output_fields=["id"])] == [0, 1, 2, 3, 4]
    deleted = client.delete("docs", ids=[0, 1, 42])
    assert deleted == [0, 1, 42] and deleted["delete_count"] == 3  # the keys asked for, as Milvus answers
    deleted = client.delete("docs", filter="subject == 'math'")
    assert sorted(deleted) == [2, 5, 8]
    assert client.get_collection_stats("docs") == {"row_count": 5}
    with pytest.raises(ValueError, match="ids or a filter, not both"):
        client.delete("docs", ids=[4], filter="id == 4")


def test_string_ids_auto_ids_and_reopening(tmp_path, rows):
    path = str(tmp_path / "kin.db")
    client = kin.MilvusClient(path)
    client.create_collection("named", dimension=DIM, id_type="string", max_length=16, metric_type="L2")
    assert client.insert("named", [{"id": "a", "vector": rows[0]["vector"]}])["ids"] == ["a"]
    with pytest.raises(kin.InvalidInputError, match="not a string"):
        client.insert("named", [{"id": 5, "vector": rows[0]["vector"]}])
    client.create_collection("auto", dimension=DIM, auto_id=True)
    first = client.insert("auto", [{"vector": rows[0]["vector"], "n": 1}, {"vector": rows[1]["vector"], "n": 2}])
    assert first["insert_count"] == 2 and len(set(first["ids"])) == 2
    client.close()

    again = kin.MilvusClient(path)
    assert again.list_collections() == ["auto", "named"]
    assert again.describe_collection("named")["fields"][0]["type"] == kin.DataType.VARCHAR
    second = again.insert("auto", [{"vector": rows[2]["vector"], "n": 3}])
    assert second["ids"][0] not in first["ids"]
    assert [r["n"] for r in again.query("auto", filter="n >= 1", output_fields=["n"])] == [1, 2, 3]
    hits = again.search("named", data=[rows[0]["vector"]], limit=1)
    assert hits[0][0]["id"] == "a" and hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-5)


def test_schema_and_index_params_from_pymilvus(client, rows):
    pymilvus = pytest.importorskip("pymilvus")
    schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("doc_id", pymilvus.DataType.INT64, is_primary=True)
    schema.add_field("embedding", pymilvus.DataType.FLOAT_VECTOR, dim=DIM)
    index = pymilvus.MilvusClient.prepare_index_params()
    index.add_index(field_name="embedding", index_type="HNSW", metric_type="IP", params={"M": 8, "efConstruction": 64})
    client.create_collection("custom", schema=schema, index_params=index)
    data = [{"doc_id": r["id"], "embedding": r["vector"], "text": r["text"]} for r in rows]
    client.insert("custom", data)
    hits = client.search("custom", data=[rows[9]["vector"]], limit=3, output_fields=["text"],
                         search_params={"params": {"ef": 64}})
    assert [h["id"] for h in hits[0]] == [i for _, i in exact(rows, rows[9]["vector"], "IP")[:3]]
    desc = client.describe_collection("custom")
    assert [f["name"] for f in desc["fields"]] == ["doc_id", "embedding"]
    settings = client._store.config("custom")
    assert (settings["metric"], settings["m"], settings["ef_construction"]) == ("dot", 8, 64)


def test_bad_input_raises_kins_errors(client, rows):
    with pytest.raises(kin.CollectionNotFoundError, match="'missing'") as e:
        client.search("missing", data=[rows[0]["vector"]])
    assert isinstance(e.value, ValueError)
    client.create_collection("docs", dimension=DIM)
    client.insert("docs", rows[:5])
    with pytest.raises(kin.FilterError, match="subject = 'x'") as e:
        client.search("docs", data=[rows[0]["vector"]], filter="subject = 'x'")
    assert isinstance(e.value, ValueError)
    with pytest.raises(kin.InvalidInputError, match="8"):
        client.insert("docs", [{"id": 9, "vector": [1.0, 2.0]}])
    with pytest.raises(kin.InvalidInputError, match="NaN"):
        client.insert("docs", [{"id": 9, "vector": [float("nan")] + [0.0] * (DIM - 1)}])
    with pytest.raises(kin.InvalidInputError, match="query vector has 3 dimensions"):
        client.search("docs", data=[[1.0, 2.0, 3.0]])
    with pytest.raises(kin.InvalidInputError, match="dtype <U1 is not a float type"):
        client.search("docs", data=np.array([["a"] * DIM]))
    with pytest.raises(kin.InvalidInputError, match=r"1-D or 2-D array, got shape \[2, 2, 8\]"):
        client.search("docs", data=np.ones((2, 2, DIM), dtype=np.float32))
    with pytest.raises(kin.InvalidInputError, match="every vector needs the same length"):
        client.search("docs", data=[[0.5] * DIM, [0.5] * 3])
    with pytest.raises(kin.InvalidInputError, match="dtype int64 is not a float type"):
        client.search("docs", data=np.ones((1, DIM), dtype=np.int64))
    with pytest.raises(kin.InvalidInputError, match="vector field 'vector' is missing"):
        client.insert("docs", [{"id": 10}])
    with pytest.raises(kin.InvalidInputError, match="primary key 1.5 is not an int"):
        client.insert("docs", [{"id": 1.5, "vector": rows[0]["vector"]}])
    with pytest.raises(kin.InvalidInputError, match="cannot be stored"):
        client.insert("docs", [{"id": 11, "vector": rows[0]["vector"], "when": object()}])
    with pytest.raises(kin.InvalidInputError, match="metric_type 'HAMMING'"):
        client.create_collection("bad", dimension=DIM, metric_type="HAMMING")
    with pytest.raises(kin.InvalidInputError, match="dimension 0"):
        client.create_collection("bad", dimension=0)
    assert client.get_collection_stats("docs") == {"row_count": 5}


def test_a_second_client_in_the_process_shares_the_store(tmp_path, rows):
    path = str(tmp_path / "kin.db")
    a = kin.MilvusClient(path)
    b = kin.MilvusClient(path)
    a.create_collection("docs", dimension=DIM)
    a.insert("docs", rows[:3])
    assert b.get_collection_stats("docs") == {"row_count": 3}


def test_another_process_is_refused(tmp_path):
    import subprocess
    import sys

    path = str(tmp_path / "kin.db")
    holder = kin.MilvusClient(path)
    script = (
        "import kin, sys\n"
        "try:\n"
        f"    kin.MilvusClient({path!r})\n"
        "except kin.StoreError as e:\n"
        "    print(type(e).__name__, isinstance(e, OSError), e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("StoreError True") and "in use by another kin process" in out, out
    holder.close()
