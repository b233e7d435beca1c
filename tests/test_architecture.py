"""Layering rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

import limen

SRC = Path(limen.__file__).parent
SHELLS = ("limen.api", "limen.cli", "limen.web")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, with `from a import b` counted as both a and a.b.

    `from limen import api` and `from .. import cli` name a shell as surely as
    `import limen.api` does, so relative imports are resolved and imported names are
    treated as possible submodules.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_domain_packages_never_import_the_shells() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in {"api", "cli", "web", "__main__.py"}:
            continue
        for name in _imports(path):
            if ".".join(name.split(".")[:2]) in SHELLS:
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


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    """Names a package door imports under ``if typing.TYPE_CHECKING:``, and from where."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for inner in node.body:
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    for alias in inner.names:
                        found[alias.asname or alias.name] = inner.module
    return found


def test_lazy_package_doors_load_what_they_declare() -> None:
    """A door that loads names on first use (`_LAZY` and `__getattr__`) declares the same
    names, from the same modules, for readers and type checkers, and lists them all."""
    import importlib

    wrong = []
    for init in SRC.rglob("__init__.py"):
        module = importlib.import_module(_module_name(init))
        lazy = getattr(module, "_LAZY", None)
        if lazy is None:
            continue
        declared = _type_checking_imports(ast.parse(init.read_text(encoding="utf-8")))
        for name, source in declared.items():
            loaded = lazy.get(name)
            if loaded not in (source, f"{source}.{name}"):
                wrong.append(f"{module.__name__}.{name}: from {source}, loaded from {loaded}")
        if set(lazy) != set(declared) or set(lazy) != set(module.__all__):
            wrong.append(f"{module.__name__}: _LAZY, TYPE_CHECKING imports and __all__ differ")
    assert wrong == []


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
    # Commands skip Alembic when the database is at the newest numbered file.
    from limen.store.db import newest_migration

    assert script.get_current_head() == newest_migration()


def test_every_exported_name_exists() -> None:
    """`from limen.x import *` and documented imports fail late when `__all__` lies."""
    import importlib

    broken = []
    for init in SRC.rglob("__init__.py"):
        module = importlib.import_module(_module_name(init))
        for name in getattr(module, "__all__", ()):
            try:
                getattr(module, name)
            except AttributeError:
                broken.append(f"{module.__name__}.{name}")
    assert broken == []


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


def test_wire_models_live_in_api_schemas() -> None:
    # A reviewer looking for what a route accepts or answers opens api/schemas/: no
    # router defines a pydantic model of its own.
    import importlib

    from pydantic import BaseModel

    offenders = []
    for path in sorted((SRC / "api").rglob("*.py")):
        name = _module_name(path)
        if name.startswith("limen.api.schemas"):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == name
            ):
                offenders.append(f"{name}.{value.__name__}")
    assert offenders == []


def test_no_module_keeps_objects_keyed_by_weak_references() -> None:
    # Everything a process needs is built once, in Services (limen/services.py), and
    # handed to what uses it: no module keeps a registry of objects per database or per
    # app on the side, where two installations in one process would share them unseen.
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute | ast.Name):
                called = value.func.attr if isinstance(value.func, ast.Attribute) else value.func.id
                if called in {"WeakKeyDictionary", "WeakValueDictionary"}:
                    offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def test_only_services_builds_its_parts() -> None:
    # A part of Services is a typed attribute of it; a router or command that hung its
    # own lazily built object on it (`services.__dict__["x"] = …`) would be a part nobody
    # can find in limen/services.py.
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative == Path("services.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "__dict__":
                owner = node.value
                named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if named == "services":
                    offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def test_the_log_neither_judges_nor_acts_and_the_detector_only_reads() -> None:
    """``audit`` never imports ``detect`` or ``respond``; ``detect`` never imports
    ``respond`` (playbooks are handed to the live detector by the composition root)."""
    rules = {"audit": {"limen.detect", "limen.respond"}, "detect": {"limen.respond"}}
    offenders = []
    for package, forbidden in rules.items():
        for path in (SRC / package).rglob("*.py"):
            for name in _imports(path):
                if ".".join(name.split(".")[:2]) in forbidden:
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []
