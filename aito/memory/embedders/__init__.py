"""Implementations of :class:`aito.memory.embedding.Embedder`.

- :mod:`.offline`: all-MiniLM-L6-v2 on the CPU from an installed model file (the default)
- :mod:`.openai_compatible`: any OpenAI-compatible ``POST /embeddings`` endpoint
"""
