"""Detection rules as data: load, check and expand the TOML rule files.

Each file under ``discovery/rules/`` holds one provider family as a list of ``[[rule]]``
tables::

    [[rule]]
    id = "github-pat-classic"
    provider = "GitHub"
    description = "GitHub personal access token (classic)"
    pattern = '''\\b(?P<secret>ghp_[A-Za-z0-9]{36})\\b'''
    keywords = ["ghp_"]
    entropy = 3.5                     # Shannon bits per character of the secret, floor
    validator = "github-checksum"     # optional, see validators.py
    examples = ["token: ghp_$[github-token]"]
    negative_examples = ["token: ghp_$[base62:36]"]

Most provider keys without a distinctive prefix are only recognisable by the name they are
assigned to; such rules give ``name`` (a regex for the variable or key name) and ``value``
(a regex for the credential) instead of ``pattern``, and :data:`ASSIGNMENT` builds the
pattern, so ``MISTRAL_API_KEY=…``, ``"mistral_key": "…"`` and ``mistral.token: …`` all match.

``pattern`` is a Python regular expression (applied to bytes); the text captured by the
named group ``secret`` (or the whole match) is the credential. The same pattern is handed
to Hyperscan in prefilter mode, so it must stay within the syntax both engines accept.

Examples are *templates*: ``$[kind:length]`` placeholders are replaced by fresh random
text when the examples are expanded (by the test suite and the benchmark), so no rule file
ever contains a literal that looks like a live credential and trips push protection or
other scanners. :data:`GENERATORS` lists the kinds.
"""

from __future__ import annotations

import base64
import json
import os
import re
import string
import tomllib
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random, SystemRandom
from typing import Final

from limen.discovery.errors import RuleError
from limen.discovery.validators import VALIDATORS

__all__ = [
    "ASSIGNMENT",
    "GENERATORS",
    "Rule",
    "expand_example",
    "load_rules",
    "rules_digest",
]

_BUNDLED: Final = Path(__file__).parent / "rules"
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")
_TEMPLATE = re.compile(r"\$\[([a-z0-9-]+)(?::(\d+))?\]")

ASSIGNMENT: Final = (
    r"""(?i:{name})[\w.\-]{{0,32}}["']?\s*(?:=|:=|:|=>|,)\s*["']?"""
    r"(?P<secret>{value})(?![A-Za-z0-9_\-+/=])"
)
"""Pattern template for ``name``/``value`` rules: a name, an assignment, then the value."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One credential type: how to find it and how to tell it from look-alikes."""

    id: str
    provider: str
    description: str
    pattern: str
    keywords: tuple[str, ...]
    family: str
    entropy: float = 0.0
    validator: str | None = None
    # Generic rules (``password = "…"``) match any value after a suspicious name, so they
    # get the stricter placeholder and code-expression filtering in the engine.
    generic: bool = False
    examples: tuple[str, ...] = field(default=(), repr=False)
    negative_examples: tuple[str, ...] = field(default=(), repr=False)

    @property
    def compiled(self) -> re.Pattern[bytes]:
        """The confirming Python pattern, compiled for bytes."""
        return _compile_cached(self.pattern)


_PATTERN_CACHE: dict[str, re.Pattern[bytes]] = {}


def _compile_cached(pattern: str) -> re.Pattern[bytes]:
    compiled = _PATTERN_CACHE.get(pattern)
    if compiled is None:
        compiled = re.compile(pattern.encode("utf-8"))
        _PATTERN_CACHE[pattern] = compiled
    return compiled


def load_rules(paths: Iterable[Path] | None = None, *, cache_dir: Path | None = None) -> list[Rule]:
    """Load and check rule files: the bundled ones, or the TOML files in ``paths``.

    With ``cache_dir``, the bundled rules are kept there as JSON keyed by a digest of the
    TOML text: parsing TOML is a fifth of a small scan's start-up, reading JSON is not
    (``benchmarks/startup.py``). Any cache problem falls back to parsing.

    Raises :class:`RuleError` naming the file and rule when anything is malformed.
    """
    sources: list[tuple[str, str]] = []
    if paths is None:
        # Package data sits next to this module in every supported install; reading it
        # directly avoids importlib.resources, whose import alone costs a CLI start-up.
        for entry in sorted(_BUNDLED.glob("*.toml")):
            sources.append((entry.name, entry.read_text(encoding="utf-8")))
        if cache_dir is not None:
            return _cached(sources, Path(cache_dir))
    else:
        for path in paths:
            try:
                sources.append((str(path), Path(path).read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleError(f"cannot read rule file {path}: {exc.__class__.__name__}") from None
    return _check_all(sources, check_patterns=paths is not None)


def _check_all(sources: list[tuple[str, str]], *, check_patterns: bool) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for name, text in sources:
        # Bundled patterns are compiled by the test suite; user files are checked now.
        for rule in _parse_file(name, text, check_patterns=check_patterns):
            if rule.id in seen:
                raise RuleError(f"{name}: rule id {rule.id!r} is defined twice")
            seen.add(rule.id)
            rules.append(rule)
    if not rules:
        raise RuleError("no rules loaded")
    return rules


def _cached(sources: list[tuple[str, str]], cache_dir: Path) -> list[Rule]:
    digest = zlib.crc32("\0".join(f"{n}\1{t}" for n, t in sources).encode())
    path = cache_dir / f"rules-{digest:08x}-{len(sources)}.json"
    try:
        return [_from_dict(entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    rules = _check_all(sources, check_patterns=False)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([_to_dict(r) for r in rules]), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time
    return rules


def _to_dict(rule: Rule) -> dict[str, object]:
    return {f: getattr(rule, f) for f in Rule.__dataclass_fields__}


def _from_dict(entry: dict[str, object]) -> Rule:
    values = dict(entry)
    for name in ("keywords", "examples", "negative_examples"):
        values[name] = tuple(values[name])  # type: ignore[arg-type]
    return Rule(**values)  # type: ignore[arg-type]


def _parse_file(name: str, text: str, *, check_patterns: bool) -> list[Rule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{name}: not valid TOML ({exc})") from None
    family = Path(name).stem
    tables = data.get("rule")
    if not isinstance(tables, list):
        raise RuleError(f"{name}: expected [[rule]] tables")
    return [_parse_rule(name, family, table, check_patterns=check_patterns) for table in tables]


_KNOWN_KEYS: Final = frozenset(
    {
        "id",
        "provider",
        "description",
        "pattern",
        "name",
        "value",
        "keywords",
        "entropy",
        "validator",
        "generic",
        "examples",
        "negative_examples",
    }
)


def _parse_rule(name: str, family: str, table: object, *, check_patterns: bool) -> Rule:
    if not isinstance(table, dict):
        raise RuleError(f"{name}: every [[rule]] must be a table")
    rid = table.get("id")
    where = f"{name}: rule {rid!r}"
    if not isinstance(rid, str) or not _RULE_ID.fullmatch(rid):
        raise RuleError(f"{where}: id must be lowercase letters, digits and dashes")
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
    if "pattern" not in table and "name" in table and "value" in table:
        table = {**table, "pattern": ASSIGNMENT.format(name=table["name"], value=table["value"])}
    for key in ("provider", "description", "pattern"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise RuleError(f"{where}: {key} must be a non-empty string")
    pattern: str = table["pattern"]
    if check_patterns:
        try:
            compiled = _compile_cached(pattern)
        except re.error as exc:
            raise RuleError(f"{where}: pattern does not compile ({exc})") from None
        if "secret" not in compiled.groupindex and compiled.groups:
            # Unnamed groups would silently change what counts as the secret.
            raise RuleError(f"{where}: use (?P<secret>...) and non-capturing groups (?:...)")
    keywords = _str_list(table.get("keywords"), where, "keywords")
    if not keywords or any(k != k.lower() for k in keywords):
        raise RuleError(f"{where}: keywords must be a non-empty list of lowercase strings")
    validator = table.get("validator")
    if validator is not None and validator not in VALIDATORS:
        raise RuleError(f"{where}: unknown validator {validator!r}")
    entropy = table.get("entropy", 0.0)
    if not isinstance(entropy, int | float) or not 0 <= entropy <= 8:
        raise RuleError(f"{where}: entropy must be a number between 0 and 8")
    examples = _str_list(table.get("examples"), where, "examples")
    if not examples:
        raise RuleError(f"{where}: at least one positive example is required")
    negatives = _str_list(table.get("negative_examples", []), where, "negative_examples")
    for template in (*examples, *negatives):
        for match in _TEMPLATE.finditer(template):
            if match.group(1) not in GENERATORS:
                raise RuleError(f"{where}: unknown example generator {match.group(1)!r}")
    return Rule(
        id=rid,
        provider=table["provider"],
        description=table["description"],
        pattern=pattern,
        keywords=tuple(keywords),
        family=family,
        entropy=float(entropy),
        validator=validator,
        generic=bool(table.get("generic", False)),
        examples=tuple(examples),
        negative_examples=tuple(negatives),
    )


def _str_list(value: object, where: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where}: {key} must be a list of strings")
    return list(value)


# --- example generators -------------------------------------------------------------------

_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALPHABETS: Final = {
    "base62": _BASE62,
    "hex": "0123456789abcdef",
    "hexup": "0123456789ABCDEF",
    "lower": string.ascii_lowercase + string.digits,
    "upper": string.ascii_uppercase + string.digits,
    "alpha": string.ascii_letters,
    "digits": string.digits,
    "base64": string.ascii_letters + string.digits + "+/",
    "base32": string.ascii_uppercase + "234567",
    "base64url": string.ascii_letters + string.digits + "-_",
    "password": string.ascii_letters + string.digits + "!*+-.=?^_~",
    "bech32": "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper(),
}


def _alphabet(kind: str) -> Callable[[Random, int], str]:
    alphabet = _ALPHABETS[kind]

    def generate(rng: Random, length: int) -> str:
        if kind == "password":
            # Real passwords mix classes; guarantee it so entropy floors are meaningful.
            core = "".join(rng.choice(alphabet) for _ in range(max(length - 3, 1)))
            return core + rng.choice(string.ascii_uppercase) + rng.choice("0123456789") + "!"
        return "".join(rng.choice(alphabet) for _ in range(length))

    return generate


def _github_token(rng: Random, length: int) -> str:
    """30 random base62 characters followed by their CRC32 in 6 base62 digits."""
    body = "".join(rng.choice(_BASE62) for _ in range(30))
    from limen.discovery.validators import github_checksum

    return body + github_checksum(body)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(rng: Random, length: int) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": str(rng.randrange(10**8)), "iat": 1_700_000_000 + rng.randrange(10**6)}
    payload = _b64url(json.dumps(claims).encode())
    signature = _b64url(bytes(rng.randrange(256) for _ in range(32)))
    return f"{header}.{payload}.{signature}"


def _pem(rng: Random, length: int) -> str:
    # A real, parseable key: the PEM validator loads it, so a fake body would not do.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def _pem_openssh(rng: Random, length: int) -> str:
    """An Ed25519 key in OpenSSH's own format, as ``ssh-keygen`` writes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def _pem_json(rng: Random, length: int) -> str:
    """A PKCS#8 PEM key with newlines escaped, as it appears inside a JSON string."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return pem.replace("\n", "\\n")


def _uuid(rng: Random, length: int) -> str:
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


GENERATORS: Final[dict[str, Callable[[Random, int], str]]] = {
    **{kind: _alphabet(kind) for kind in _ALPHABETS},
    "github-token": _github_token,
    "jwt": _jwt,
    "pem": _pem,
    "pem-json": _pem_json,
    "pem-openssh": _pem_openssh,
    "uuid": _uuid,
}
"""Example generators, used as ``$[kind:length]`` in rule examples."""


def expand_example(template: str, rng: Random | None = None) -> str:
    """Replace every ``$[kind:length]`` in ``template`` with fresh random text."""
    rand = rng if rng is not None else SystemRandom()

    def substitute(match: re.Match[str]) -> str:
        length = int(match.group(2) or 32)
        return GENERATORS[match.group(1)](rand, length)

    return _TEMPLATE.sub(substitute, template)


def rules_digest(rules: Sequence[Rule]) -> str:
    """A short digest of the rule set, used to key the compiled-database cache."""
    text = "\0".join(f"{r.id}\1{r.pattern}" for r in rules)
    return f"{zlib.crc32(text.encode()):08x}{len(rules):04x}"
