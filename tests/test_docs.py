"""Documentation stays in step with the code: settings, public modules, exports."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import strongroom
from strongroom.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(strongroom.__path__, "strongroom."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


class TestDocs:
    @pytest.mark.parametrize("name", sorted(Settings.model_fields))
    def test_every_setting_is_documented(self, name: str) -> None:
        assert f"`{name}`" in (DOCS / "configuration.md").read_text()

    @pytest.mark.parametrize("name", _modules())
    def test_every_module_has_a_docstring(self, name: str) -> None:
        mod = importlib.import_module(name)
        assert mod.__doc__ and mod.__doc__.strip(), name

    @pytest.mark.parametrize(
        "name", [m for m in _modules() if not m.rsplit(".", 1)[-1].startswith("_")]
    )
    def test_public_modules_declare_all(self, name: str) -> None:
        mod = importlib.import_module(name)
        if name.startswith("strongroom.api.routes") and name.endswith("__init__"):
            return
        exported = getattr(mod, "__all__", None)
        if exported is None:
            assert name == "strongroom.api.routes", name
            return
        for item in exported:
            assert hasattr(mod, item), (name, item)

    def test_top_level_surface(self) -> None:
        assert strongroom.__all__ == ["Settings", "StrongroomError", "__version__"]

    def test_readme_links_resolve(self) -> None:
        text = (ROOT / "README.md").read_text()
        for target in (
            "docs/getting-started.md",
            "docs/cli.md",
            "docs/api.md",
            "docs/policies.md",
            "docs/keys.md",
            "docs/configuration.md",
            "docs/performance.md",
        ):
            assert target in text
            assert (ROOT / target).exists(), target
