"""Every Python code block of the documentation (the site's pages and the README) runs as
written, and the site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

from tests.support import REPO_ROOT, new_stack, user_function

PAGES = [*sorted((REPO_ROOT / "docs").rglob("*.md")), REPO_ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
ASSET = re.compile(r"""from_asset\(\s*["']([^"']+)["']""")


def blocks() -> list[Any]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for number, match in enumerate(BLOCK.finditer(text), start=1):
            line = text[: match.start()].count("\n") + 2
            name = f"{page.relative_to(REPO_ROOT)}:{line}"
            found.append(pytest.param(match.group(1), id=f"{name}#{number}"))
    return found


def test_every_construct_page_and_the_readme_have_an_example() -> None:
    pages = {str(block.id).split(":")[0] for block in blocks()}
    constructs = {
        str(page.relative_to(REPO_ROOT))
        for page in (REPO_ROOT / "docs" / "constructs").glob("*.md")
        if page.name != "index.md"
    }
    assert constructs | {"README.md", "docs/getting-started.md"} <= pages


@pytest.mark.parametrize("code", blocks())
def test_code_block_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the block in a fresh project folder (its asset folders exist, and CDK, whose
    Node.js process keeps the first working directory, is shown them there). A construct
    example is the body of a stack's ``__init__``: ``self`` (and ``stack``) is a stack, with a
    ``handler`` at hand. Then every Stack class the block defines is built in an app of its
    own and synthesized."""
    monkeypatch.chdir(tmp_path)
    for folder in ASSET.findall(code):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "app.py").write_text("def handler(event, context):\n    return {}\n")
    code = ASSET.sub(lambda match: f'from_asset("{tmp_path / match.group(1)}"', code)
    namespace = _run(code)
    defined = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, cdk.Stack)
        and value is not cdk.Stack
        and value.__module__ == "docs_block"
    ]
    for stack_class in defined:
        app = cdk.App()
        stack_class(app, stack_class.__name__)
        assert app.synth().get_stack_by_name(stack_class.__name__).template


def _run(code: str) -> dict[str, Any]:
    """Execute ``code`` with the names a construct example leaves to its reader (the
    overview page says which): ``self`` is a stack; ``..._role`` and ``order_api`` are
    roles, ``..._topic`` topics, any other missing name a function of the reader's."""
    missing: list[str] = []
    for _ in range(12):
        stack = new_stack()
        namespace: dict[str, Any] = {"__name__": "docs_block", "self": stack, "stack": stack}
        for name in ["handler", *missing]:
            namespace[name] = _reader_object(stack, name)
        try:
            exec(compile(code, "<docs>", "exec"), namespace)
        except NameError as error:
            if error.name in missing or error.name is None:
                raise
            missing.append(error.name)
            continue
        return namespace
    raise AssertionError(f"too many names left to the reader: {missing}")


def _reader_object(stack: cdk.Stack, name: str) -> Any:
    if name.endswith("_role") or name == "order_api":
        return iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal())
    if name.endswith("_topic"):
        return sns.Topic(stack, name)
    return user_function(stack, name)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reference" / "index.html").exists()
