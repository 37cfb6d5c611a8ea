"""The dependency rules: dialogue never imports a chat platform or the adapters; knowledge is data."""

from __future__ import annotations

import ast
from pathlib import Path

import dialogue

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("bots", "slack_bolt", "slack_sdk", "telegram")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
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


def test_knowledge_is_data_only() -> None:
    assert not list((ROOT / "knowledge").rglob("*.py"))


def test_public_api_is_sorted_and_complete() -> None:
    assert list(dialogue.__all__) == sorted(dialogue.__all__)
    assert all(hasattr(dialogue, name) for name in dialogue.__all__)


def test_the_cli_loads_a_platform_sdk_only_for_its_own_command() -> None:
    """``mbcbot chat`` and the rest work without the platform extras installed."""
    import subprocess
    import sys

    probe = "import sys, bots.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'slack_bolt')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
