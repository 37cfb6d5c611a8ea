"""The dependency rules: dialogue never imports a chat platform or the adapters; knowledge is data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dialogue

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("bots", "slack_bolt", "slack_sdk", "telegram")


def imports_of(path: Path) -> set[str]:
    return top_level_imports(path.read_text())


def top_level_imports(source: str) -> set[str]:
    """The top-level packages a module's source imports (relative imports aside)."""
    tree = ast.parse(source)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_dialogue_imports_no_platform_and_no_adapter() -> None:
    for path in (ROOT / "dialogue").rglob("*.py"):
        assert not imports_of(path) & set(FORBIDDEN), path


def imported_modules(path: Path) -> set[str]:
    """Full module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


PLATFORM_SDKS = {"slack": ("slack_bolt", "slack_sdk", "waitress"), "telegram": ("telegram",)}


def test_each_platform_sdk_is_imported_by_its_adapter_only_and_adapters_never_import_each_other() -> None:
    for path in (ROOT / "bots").rglob("*.py"):
        modules = imported_modules(path)
        tops = {m.split(".")[0] for m in modules}
        own = path.relative_to(ROOT / "bots").parts[0] if len(path.relative_to(ROOT / "bots").parts) > 1 else None
        for platform, sdks in PLATFORM_SDKS.items():
            if platform != own:
                assert not tops & set(sdks), f"{path} imports {platform}'s SDK"
                if own in PLATFORM_SDKS:
                    assert not any(m.startswith(f"bots.{platform}") for m in modules), f"{path} imports bots.{platform}"


#: Everything a platform adapter may import that bots/common may not: it is shared by all adapters.
CHAT_SDKS = {sdk for sdks in PLATFORM_SDKS.values() for sdk in sdks}


def test_bots_common_imports_no_chat_sdk_and_no_adapter() -> None:
    paths = sorted((ROOT / "bots" / "common").rglob("*.py"))
    assert {"delivery", "env", "lifecycle", "locks", "serial"} <= {p.stem for p in paths}  # the walk sees the modules
    for path in paths:
        assert not imports_of(path) & CHAT_SDKS, f"{path} imports a chat SDK"
        assert not any(m.startswith(tuple(f"bots.{p}" for p in PLATFORM_SDKS)) for m in imported_modules(path)), path


@pytest.mark.parametrize("line", ["import slack_bolt", "from slack_sdk.errors import SlackApiError", "import waitress",
                                  "from telegram.ext import Application", "import telegram.error as errors"])
def test_the_bots_common_rule_refuses_every_chat_sdk(line: str) -> None:
    assert top_level_imports(line) & CHAT_SDKS


def test_knowledge_is_data_only() -> None:
    assert not list((ROOT / "knowledge").rglob("*.py"))


def test_public_api_is_sorted_and_complete() -> None:
    assert list(dialogue.__all__) == sorted(dialogue.__all__)
    assert all(hasattr(dialogue, name) for name in dialogue.__all__)


def test_the_cli_loads_a_platform_sdk_only_for_its_own_command() -> None:
    """``mbcbot chat`` and the rest (``mbcbot slack manifest`` too) work without the platform extras installed."""
    import subprocess
    import sys

    probe = ("import sys, bots.cli, bots.slack.manifest; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'slack_bolt', 'slack_sdk', 'waitress')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_every_python_package_is_in_the_wheel() -> None:
    """pyproject lists packages one by one: a new sub-package (dialogue.understanding) must be listed too."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("dialogue", "bots") for p in (ROOT / top).rglob("*.py")}
    assert found <= listed, f"not in [tool.setuptools] packages: {sorted(found - listed)}"
