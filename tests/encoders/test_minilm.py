"""The NumPy MiniLM encoder reproduces sentence-transformers' all-MiniLM-L6-v2 embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from populace.embedding import encoders
from populace.encoders.minilm import read_safetensors


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    return encoders.get("minilm")()


def test_matches_the_reference_similarities(encoder) -> None:  # type: ignore[no-untyped-def]
    # the similarity matrix sentence-transformers documents for all-MiniLM-L6-v2
    vectors = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = vectors @ vectors.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=2e-3)
    assert sims[0, 2] == pytest.approx(0.1046, abs=2e-3)
    assert sims[1, 2] == pytest.approx(0.1411, abs=2e-3)


def test_semantic_neighbours_are_closer(encoder) -> None:  # type: ignore[no-untyped-def]
    v = encoder.encode(["cat", "kitten", "stock", "a photo of a cat", "stock market news"])
    assert v.shape == (5, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert v[3] @ v[4] < 0.1


def test_batching_and_order_do_not_change_vectors(encoder) -> None:  # type: ignore[no-untyped-def]
    texts = ["short", "a much longer sentence about the price of bread in winter", "", "cats and dogs"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_reads_safetensors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import struct

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}).encode()
    (tmp_path / "t.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + a.tobytes())
    assert np.array_equal(read_safetensors(tmp_path / "t.safetensors")["a"], a)
