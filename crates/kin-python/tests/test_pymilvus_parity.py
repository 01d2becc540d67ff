"""One script written for pymilvus' MilvusClient, run unchanged on pymilvus with Milvus Lite and
on kin.MilvusClient: every result must be the same (floats to float32 precision)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import kin

DIM = 16


def scenario(client) -> list:
    """What a pymilvus user's script does, each result kept for comparison."""
    out = []
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(80, DIM)).astype(np.float32)
    topics = ["history", "biology", "physics", "art"]
    rows = [
        {"id": i, "vector": vectors[i].tolist(), "text": f"document {i}", "subject": topics[i % 4],
         "year": 1990 + i % 30, "score": float(i) / 7}
        for i in range(80)
    ]
    for name in ("demo", "demo_ip", "demo_l2", "demo_filters"):  # what an earlier run left on a server
        if client.has_collection(name):
            client.drop_collection(name)
    client.create_collection(collection_name="demo", dimension=DIM)
    out.append(("has", client.has_collection("demo"), client.has_collection("absent")))
    out.append(("list", [n for n in client.list_collections() if n.startswith("demo")]))
    out.append(("insert", client.insert(collection_name="demo", data=rows)))
    out.append(("upsert", client.upsert("demo", [dict(rows[10], text="rewritten", subject="art")])))
    queries = [vectors[3].tolist(), (vectors[7] + 0.1).tolist()]
    out.append(("search", client.search("demo", data=queries, limit=5)))
    out.append(("search fields", client.search("demo", data=queries, limit=3, output_fields=["text", "year"])))
    out.append(("search filter", client.search(
        "demo", data=[vectors[0].tolist()], filter='subject == "biology" and year >= 2000', limit=4,
        output_fields=["subject", "year"])))
    out.append(("search in", client.search("demo", data=[vectors[0].tolist()], filter="id in [1, 2, 3, 50]",
                                           limit=10, output_fields=["text"])))
    out.append(("query", client.query("demo", filter="subject == 'art'", output_fields=["text", "subject"])))
    out.append(("query all", client.query("demo", filter="year == 1995")))
    out.append(("query ids", client.query("demo", ids=[4, 2, 77], output_fields=["year"])))
    out.append(("get", client.get("demo", ids=[5, 6])))
    out.append(("count", client.query("demo", filter="", output_fields=["count(*)"])))
    out.append(("count filter", client.query("demo", filter="score > 5.0", output_fields=["count(*)"])))
    out.append(("delete ids", list(client.delete("demo", ids=[0, 1]))))
    out.append(("delete filter", sorted(client.delete("demo", filter="subject == 'physics'"))))
    out.append(("stats", client.get_collection_stats("demo")))
    out.append(("after delete", client.search("demo", data=[vectors[0].tolist()], limit=3, output_fields=["text"])))

    for metric in ("IP", "L2"):
        name = f"demo_{metric.lower()}"
        if client.has_collection(name):
            client.drop_collection(name)
        client.create_collection(name, dimension=DIM, metric_type=metric, id_type="string", max_length=32)
        named = [{"id": f"doc-{i}", "vector": vectors[i].tolist(), "n": i} for i in range(40)]
        out.append((metric, "insert", client.insert(name, named)))
        out.append((metric, "search", client.search(name, data=[vectors[9].tolist()], limit=4, output_fields=["n"])))
        out.append((metric, "query", client.query(name, filter="n < 3", output_fields=["n"])))
    # Milvus's filter forms: like, JSON keys and array indexes, the array functions, && || and
    # upper-case keywords, over dynamic fields holding objects and lists.
    client.create_collection("demo_filters", dimension=DIM)
    tagged = [
        {"id": i, "vector": vectors[i].tolist(), "text": f"document {i}", "meta": {"tag": "xy"[i % 2], "n": i},
         "tags": [["red", "blue"], ["green"], ["red"]][i % 3]}
        for i in range(24)
    ]
    client.insert("demo_filters", tagged)
    for expr in ['text like "document 1%"', 'text like "%ent 3"', 'text like "document _"',
                 'not (text like "document 1%")', 'meta["tag"] == "x"', 'meta["n"] > 20', 'tags[0] == "green"',
                 'array_contains(tags, "red")', 'json_contains(tags, "blue")',
                 'array_contains_any(tags, ["green", "blue"])', 'array_contains_all(tags, ["red", "blue"])',
                 'array_length(tags) == 2', 'meta["tag"] == "y" && id > 15 || id == 0', 'NOT meta["n"] < 20 AND id != 22']:
        found = client.query("demo_filters", filter=expr, output_fields=["id"])
        out.append(("filter", expr, sorted(r["id"] for r in found)))
    out.append(("filter search", client.search(
        "demo_filters", data=[vectors[2].tolist()], filter='text like "document 1%" and array_contains(tags, "red")',
        limit=3, output_fields=["meta", "tags"])))
    described = client.describe_collection("demo_l2")
    out.append(("describe", {k: described[k] for k in ("collection_name", "auto_id", "enable_dynamic_field")},
                [(f["name"], int(f["type"]), f.get("params"), f.get("is_primary", False)) for f in described["fields"]]))
    client.drop_collection("demo_ip")
    out.append(("list after drop", sorted(n for n in client.list_collections() if n.startswith("demo"))))
    return out


def plain(value):
    """pymilvus' result classes (lists and dicts underneath) as plain lists and dicts."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        return {k: plain(value[k]) for k in value.keys()}
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    return value


def same(a, b, path="") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), f"{path}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys {list(a)} != {list(b) if isinstance(b, dict) else b!r}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_a_pymilvus_script_gives_the_same_results(tmp_path):
    pymilvus = pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    reference = plain(scenario(pymilvus.MilvusClient(str(tmp_path / "milvus.db"))))
    ours = plain(scenario(kin.MilvusClient(str(tmp_path / "kin.db"))))
    assert len(ours) == len(reference)
    for want, got in zip(reference, ours):
        same(want, got, str(want[0]) if isinstance(want, list) and want else "")


def test_the_same_script_through_kin_on_a_milvus_server(tmp_path):
    """kin.MilvusClient("http://HOST:PORT") keeps the rows in a Milvus server (kin-milvus);
    scripts/test.sh starts one and names it in KIN_TEST_MILVUS."""
    address = os.environ.get("KIN_TEST_MILVUS")
    if not address:
        pytest.skip("KIN_TEST_MILVUS names no Milvus server")
    pymilvus = pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    reference = plain(scenario(pymilvus.MilvusClient(str(tmp_path / "milvus.db"))))
    client = kin.MilvusClient(f"http://{address}")
    ours = plain(scenario(client))
    for name in ("demo", "demo_l2", "demo_filters"):
        client.drop_collection(name)
    for want, got in zip(reference, ours):
        same(want, got, str(want[0]) if isinstance(want, list) and want else "")
    assert len(ours) == len(reference)


def test_write_order_on_a_server_holds_across_clients():
    """A client that starts later (a new process) on a server goes on with the write order, not
    from zero."""
    address = os.environ.get("KIN_TEST_MILVUS")
    if not address:
        pytest.skip("KIN_TEST_MILVUS names no Milvus server")
    import kin.milvus_client as mc

    first = kin.MilvusClient(f"http://{address}")
    if first.has_collection("order"):
        first.drop_collection("order")
    first.create_collection("order", dimension=4)
    first.insert("order", [{"id": 10, "vector": [1.0, 0.0, 0.0, 0.0]}, {"id": 5, "vector": [0.0, 1.0, 0.0, 0.0]}])
    first.close()
    mc._open_dbs.clear()  # as a new process would be: nothing of the first client remembered
    second = kin.MilvusClient(f"http://{address}")
    second.insert("order", [{"id": 7, "vector": [0.0, 0.0, 1.0, 0.0]}])
    assert [r["id"] for r in second.query("order", filter="id > 0", output_fields=["id"])] == [10, 5, 7]
    second.drop_collection("order")
