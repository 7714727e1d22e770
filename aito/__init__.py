"""AITO: an autonomous AI organization as code, governed through pull requests."""

__version__ = "0.1.0"
