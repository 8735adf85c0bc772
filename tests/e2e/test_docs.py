"""The docs site builds with --strict (no broken link or reference) and its API pages are real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(DOCS / "mkdocs.yml"),
         "-d", str(out)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def test_api_reference_renders_docstrings(site: Path) -> None:
    page = (site / "api" / "registry.html").read_text()
    assert 'id="nnx.registry.register_model"' in page
    assert "as a model named after the function" in page  # register_model's docstring


def test_every_documented_module_renders(site: Path) -> None:
    for source in sorted((DOCS / "pages" / "api").glob("*.md")):
        modules = re.findall(r"^::: ([\w.]+)", source.read_text(), flags=re.M)
        page = (site / "api" / source.with_suffix(".html").name).read_text()
        for module in modules:
            assert f'id="{module}"' in page, f"{module} missing from {source.name}"


def test_readme_links_into_docs_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#\s]+)", (ROOT / "README.md").read_text())
    assert links, "the README should point to the docs"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
