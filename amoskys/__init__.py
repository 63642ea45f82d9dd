"""Amoskys: a local-first CI/CD engine that runs GitHub Actions workflows on your machine."""

__version__ = "0.1.0"
