"""Known-answer vectors in JSON, loaded like pyca/cryptography's ``json_parametrize``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors"

F = TypeVar("F", bound=Callable[..., Any])


def load_vectors(name: str) -> list[dict[str, Any]]:
    """Return the ``vectors`` list of ``tests/vectors/<name>``."""
    with (VECTORS_DIR / name).open(encoding="utf-8") as f:
        data = json.load(f)
    vectors: list[dict[str, Any]] = data["vectors"]
    return vectors


def json_parametrize(name: str, *, kind: str | None = None) -> Callable[[F], F]:
    """Parametrize a test with one ``vector`` argument per entry of ``tests/vectors/<name>``.

    With ``kind``, only the vectors whose ``"kind"`` equals it are used.
    """
    vectors = [v for v in load_vectors(name) if kind is None or v.get("kind") == kind]
    if not vectors:
        raise ValueError(f"no vectors of kind {kind!r} in {name}")
    ids = [v.get("description", str(i)) for i, v in enumerate(vectors)]
    mark: Callable[[F], F] = pytest.mark.parametrize("vector", vectors, ids=ids)
    return mark
