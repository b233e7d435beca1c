"""Layering rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

import limen

SRC = Path(limen.__file__).parent
SHELLS = ("limen.api", "limen.cli", "limen.web")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_packages_never_import_the_shells() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in {"api", "cli", "web", "__main__.py"}:
            continue
        for name in _imports(path):
            if name.startswith(SHELLS):
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_public_packages_list_what_they_export() -> None:
    missing = []
    for init in SRC.rglob("__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        exported = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                exported = {ast.literal_eval(e) for e in node.value.elts}  # type: ignore[attr-defined]
        imported = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        unlisted = {name for name in imported - exported if not name.startswith("_")}
        unlisted.discard("annotations")
        if unlisted:
            missing.append(f"{init.relative_to(SRC)}: {sorted(unlisted)}")
    assert missing == []


def test_migrations_form_one_history_named_after_their_revisions() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(SRC / "store" / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    misnamed = [
        f"{Path(rev.path).name} holds {rev.revision}"
        for rev in script.walk_revisions()
        if Path(rev.path).stem != rev.revision
    ]
    assert misnamed == []


_DATABASES = {"sqlite", "postgresql"}


def test_only_the_store_knows_which_database_it_runs_on() -> None:
    # Outside store/, code asks the store's Dialect for a capability or an SQL fragment
    # (limen.store.dialect); it never reads a `.backend` nor compares anything with a
    # database's name.
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "backend":
                offenders.append(f"{relative}:{node.lineno} reads .backend")
            elif isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                for operand in operands:
                    values = operand.elts if isinstance(operand, ast.Tuple | ast.Set) else [operand]
                    if any(isinstance(v, ast.Constant) and v.value in _DATABASES for v in values):
                        offenders.append(f"{relative}:{node.lineno} compares with a database name")
    assert offenders == []
