"""The public surface of strongroom.backup, its docs, and the fence around raw crypto."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import strongroom.backup

PACKAGE_DIR = Path(strongroom.backup.__file__).parent
MODULES = [
    importlib.import_module(f"strongroom.backup.{info.name}")
    for info in sorted(pkgutil.iter_modules([str(PACKAGE_DIR)]), key=lambda i: i.name)
]
ALL_MODULES: list[ModuleType] = [strongroom.backup, *MODULES]

EXPECTED = {
    "DEFAULT_AVG_SIZE",
    "DEFAULT_WORKERS",
    "KEY_FORMAT",
    "MANIFEST_FORMAT",
    "REPOSITORY_FORMAT",
    "ZSTD_LEVEL",
    "ChunkRecord",
    "ChunkSizes",
    "KeyEntry",
    "LocalTarget",
    "Manifest",
    "Problem",
    "ProblemKind",
    "Repository",
    "S3Target",
    "SnapshotStats",
    "StreamRecord",
    "Target",
    "VerifyResult",
    "chunk",
    "open_target",
    "validate_name",
}


def _imports(module: ModuleType) -> set[str]:
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


class TestPublicSurface:
    def test_all_is_exact_and_sorted(self) -> None:
        assert set(strongroom.backup.__all__) == EXPECTED
        assert strongroom.backup.__all__ == sorted(
            strongroom.backup.__all__, key=lambda n: (not n.isupper(), n)
        )

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_public_names_documented(self, name: str) -> None:
        obj = getattr(strongroom.backup, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and (
                    inspect.isfunction(member)
                    or isinstance(member, (property, classmethod, staticmethod))
                ):
                    assert inspect.getdoc(member), f"{name}.{attr}"

    @pytest.mark.parametrize("module", ALL_MODULES, ids=lambda m: m.__name__)
    def test_module_docstring_has_example(self, module: ModuleType) -> None:
        assert module.__doc__
        assert ">>>" in module.__doc__

    @pytest.mark.parametrize("module", ALL_MODULES, ids=lambda m: m.__name__)
    def test_module_examples_run(self, module: ModuleType) -> None:
        result = doctest.testmod(module, verbose=False, report=False)
        assert result.failed == 0
        assert result.attempted > 0


class TestFences:
    @pytest.mark.parametrize("module", ALL_MODULES, ids=lambda m: m.__name__)
    def test_no_raw_crypto_and_no_upper_layers(self, module: ModuleType) -> None:
        imported = _imports(module)
        roots = {name.split(".")[0] for name in imported}
        assert not roots & {"cryptography", "argon2", "hmac", "random"}, module.__name__
        for name in imported:
            assert not name.startswith(
                ("strongroom.api", "strongroom.cli", "strongroom.vault", "strongroom.crypto.")
            ), (module.__name__, name)
