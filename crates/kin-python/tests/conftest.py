"""Fixtures shared by the Python suite: the golden inputs and vectors of kin-embed's tests
(sentence-transformers' own output, made by scripts/golden/make_text_golden.py) and the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
GOLDEN = REPO / "crates" / "kin-embed" / "tests" / "golden"


@pytest.fixture(scope="session")
def golden_texts() -> list:
    with open(GOLDEN / "inputs.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def golden_minilm() -> np.ndarray:
    return np.load(GOLDEN / "all-minilm-l6-v2.npy")


@pytest.fixture(scope="session")
def minilm():
    import kin

    return kin.SentenceTransformer("all-MiniLM-L6-v2")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))
