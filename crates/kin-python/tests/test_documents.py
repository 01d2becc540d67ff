"""kin's own calls on MilvusClient: a collection of a model, files added through the ingestion
pipeline, and search by query text (dense, BM25, hybrid; documents or chunks)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import kin
from kin.exceptions import (
    CollectionNotFoundError,
    FilterError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
)

DOCS = {
    "volcano.md": "# Volcanoes\n\nMagma rises through the crust and erupts as lava from a volcano. "
    "Basalt forms when lava cools quickly.",
    "bread.txt": "To bake sourdough bread, feed the starter, mix flour and water, and let the dough rise "
    "overnight before baking it in a hot oven.",
    "chess.txt": "In chess the knight moves in an L shape, and castling moves the king two squares "
    "towards a rook.",
    "notes/tides.md": "Tides are caused by the gravity of the moon and the sun pulling on the oceans.",
}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for name, text in DOCS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture()
def client(tmp_path: Path):
    c = kin.MilvusClient(str(tmp_path / "kin.db"))
    c.create_collection("docs", model="all-MiniLM-L6-v2")
    yield c
    c.close()


def test_a_collection_of_a_model_takes_files_and_skips_unchanged_ones(client, corpus: Path) -> None:
    info = client.describe_collection("docs")
    assert info["collection_name"] == "docs"
    summary = client.add("docs", corpus)
    assert summary["added"] == len(DOCS), summary
    assert summary["failed"] == [] and summary["skipped"] == []
    assert summary["count"] == summary["items"] >= len(DOCS)
    again = client.add("docs", [corpus])
    assert again["added"] == 0 and again["unchanged"] == len(DOCS), again
    assert again["count"] == summary["count"]

    (corpus / "bread.txt").write_text("Rye bread needs a long, slow proof.", encoding="utf-8")
    changed = client.add("docs", corpus / "bread.txt")
    assert changed["added"] == 1 and changed["count"] == summary["count"]


@pytest.mark.parametrize("mode", ["dense", "text", "hybrid"])
def test_each_mode_finds_the_document_that_answers(client, corpus: Path, mode: str) -> None:
    client.add("docs", corpus)
    [hits] = client.search_text("docs", "how does lava form basalt", limit=3, mode=mode)
    assert hits, mode
    assert hits[0]["doc"].endswith("volcano.md"), hits
    assert "lava" in hits[0]["payload"]["text"]
    assert set(hits[0]) == {"id", "doc", "score", "chunks", "found", "space", "payload"}
    assert hits[0]["space"] is None
    if mode == "hybrid":
        assert set(hits[0]["found"]) <= {"dense", "text"} and hits[0]["found"]
    else:
        assert set(hits[0]["found"]) == {mode}
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_weighted_fusion_and_chunks_and_several_queries(client, corpus: Path) -> None:
    client.add("docs", corpus)
    both = client.search_text("docs", ["knight moves in chess", "why are there tides"], limit=2, alpha=0.7)
    assert [q[0]["doc"].rsplit("/", 1)[-1] for q in both] == ["chess.txt", "tides.md"]
    chunks = client.search_text("docs", "sourdough starter", limit=10, mode="text", documents=False)[0]
    assert chunks and all(h["chunks"] == 1 for h in chunks)


def test_milvus_search_takes_query_texts(client, corpus: Path) -> None:
    client.add("docs", corpus)
    [hits] = client.search("docs", data=["the moon pulls the oceans"], limit=2, output_fields=["text", "doc"])
    assert set(hits[0]) == {"id", "distance", "entity"}
    assert hits[0]["entity"]["doc"].endswith("tides.md"), hits
    assert set(hits[0]["entity"]) == {"text", "doc"}
    [text_hits] = client.search("docs", data="castling king rook", limit=1, search_mode="text")
    assert "castling" in text_hits[0]["entity"]["text"]


def test_filters_apply_to_text_search(client, corpus: Path) -> None:
    client.add("docs", corpus)
    [doc] = [h["doc"] for h in client.search_text("docs", "bread", limit=1, mode="text")[0]]
    [hits] = client.search_text("docs", "bread lava chess", limit=5, filter=f'doc != "{doc}"', mode="text")
    assert hits and all(h["doc"] != doc for h in hits)
    with pytest.raises(FilterError):
        client.search_text("docs", "bread", filter="doc ==")


def test_bad_calls_name_what_is_wrong(client, corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        client.add("docs", tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        client.add("docs", tmp_path / "nope")
    with pytest.raises(CollectionNotFoundError):
        client.add("missing", corpus)
    with pytest.raises(InvalidInputError, match="mode"):
        client.search_text("docs", "x", mode="sparse")
    with pytest.raises(InvalidInputError, match="alpha"):
        client.search_text("docs", "x", alpha=2.0)
    with pytest.raises(InvalidInputError, match="strings"):
        client.search_text("docs", [1, 2])
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        client.create_collection("other", model="no-such-model")
    with pytest.raises(InvalidInputError, match="768"):
        client.create_collection("other", dimension=768, model="all-MiniLM-L6-v2")

    client.create_collection("bare", dimension=4)
    with pytest.raises(InvalidInputError, match="no model"):
        client.add("bare", corpus)
    with pytest.raises(InvalidInputError, match="no model"):
        client.search_text("bare", "x", mode="dense")

    client.create_collection("plain", model="all-MiniLM-L6-v2", text_index=False)
    client.add("plain", corpus)
    assert client.search_text("plain", "lava", mode="dense")[0][0]["doc"].endswith("volcano.md")
    with pytest.raises(InvalidInputError, match="text index"):
        client.search_text("plain", "lava", mode="text")


@pytest.mark.parametrize("where", ["embedded", "milvus server"])
def test_a_mixed_collection_routes_files_and_answers_text_from_its_text_space(
    tmp_path: Path, corpus: Path, where: str
) -> None:
    """On the embedded store, and through kin-milvus on a Milvus server (one Milvus collection
    with a vector field per space), which scripts/test.sh starts and names in KIN_TEST_MILVUS."""
    name = "media"
    if where == "embedded":
        client = kin.MilvusClient(str(tmp_path / "mixed.db"))
    else:
        address = os.environ.get("KIN_TEST_MILVUS")
        if not address:
            pytest.skip("KIN_TEST_MILVUS names no Milvus server")
        client = kin.MilvusClient(f"http://{address}")
        name = f"media_{os.getpid()}_{time.time_ns() % 1_000_000_000}"
    client.create_collection(name, spaces={"text": "all-MiniLM-L6-v2", "audio": "whisper-base"})
    summary = client.add(name, corpus)
    assert summary["added"] == len(DOCS) and summary["failed"] == [], summary
    modes = ("dense", "text", "hybrid")
    for mode in modes:
        [hits] = client.search_text(name, "knight and castling", limit=2, mode=mode)
        assert hits[0]["doc"].endswith("chess.txt") and hits[0]["space"] == "text", (mode, hits)
    [one] = client.search_text(name, "knight and castling", limit=2, space="text", space_weights={"text": 2.0})
    assert one[0]["doc"].endswith("chess.txt")
    with pytest.raises(InvalidInputError, match="does not read text"):
        client.search_text(name, "knight", space="audio")
    with pytest.raises(InvalidInputError, match="no such space"):
        client.search_text(name, "knight", space_weights={"photos": 1.0})
    with pytest.raises(InvalidInputError, match="not both"):
        client.create_collection("both", model="all-MiniLM-L6-v2", spaces={"text": "all-MiniLM-L6-v2"})
    with pytest.raises(InvalidInputError, match="nope"):
        client.search_text(name, "x", space="nope")
    if where != "embedded":
        client.drop_collection(name)
    client.close()
