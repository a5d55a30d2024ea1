"""The public surface of strongroom.crypto and the fences around raw primitives."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import strongroom.crypto
from strongroom.crypto import _primitives

PACKAGE_DIR = Path(strongroom.crypto.__file__).parent
MODULES = [
    importlib.import_module(f"strongroom.crypto.{info.name}")
    for info in sorted(pkgutil.iter_modules([str(PACKAGE_DIR)]), key=lambda i: i.name)
]
ALL_MODULES: list[ModuleType] = [strongroom.crypto, *MODULES]

EXPECTED = {
    "DEFAULT_ROTATE_AFTER",
    "KEK",
    "NIST_GCM_RANDOM_NONCE_LIMIT",
    "TOKEN_PREFIX",
    "Argon2Params",
    "BackupKey",
    "BlindIndex",
    "DataKey",
    "EncryptionCounter",
    "KeyPurpose",
    "Keyring",
    "RecordContext",
    "RootKey",
    "SealedRecord",
    "SecretToken",
    "ShareInfo",
    "SigningKey",
    "SubjectKey",
    "VerifyKey",
    "WrappingKey",
    "combine",
    "generate_accessor",
    "generate_token",
    "inspect_share",
    "looks_like_token",
    "normalise",
    "open",
    "protect",
    "recover",
    "rewrap",
    "rewrap_many",
    "seal",
    "seal_signing_key",
    "split",
    "token_hash",
    "unseal_signing_key",
    "wrapped_kek_version",
    "SIGNATURE_HEADER",
    "sign_webhook",
    "verify_webhook",
}


def _imports(module: ModuleType) -> set[str]:
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


class TestPublicSurface:
    def test_all_is_exact(self) -> None:
        assert set(strongroom.crypto.__all__) == EXPECTED
        for name in EXPECTED:
            assert getattr(strongroom.crypto, name) is not None

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_public_names_documented(self, name: str) -> None:
        obj = getattr(strongroom.crypto, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and (
                    inspect.isfunction(member) or isinstance(member, (property, classmethod))
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
    def test_only_primitives_imports_raw_crypto(self, module: ModuleType) -> None:
        raw = _imports(module) & {"cryptography", "argon2", "hmac", "hashlib"}
        if module is _primitives:
            assert "cryptography" in raw
        else:
            assert raw == set(), module.__name__

    @pytest.mark.parametrize("module", ALL_MODULES, ids=lambda m: m.__name__)
    def test_no_random_module(self, module: ModuleType) -> None:
        assert "random" not in _imports(module)
