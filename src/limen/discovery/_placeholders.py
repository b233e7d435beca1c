"""Tell placeholders, test values and code from real credential values.

Two strengths: every rule drops values that are *documented* stand-ins (``…EXAMPLE``,
``xxxxxxxx``, ``<your-key>``, ``${TOKEN}``); generic rules (``password = "…"``) also drop
values that read like words, code, paths or file names, because after a suspicious name
almost anything can follow and most of it is not a secret.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from typing import Final

__all__ = ["entropy", "is_placeholder", "looks_like_code"]

_STRICT: Final = re.compile(
    r"(?i:example)|xxxx|XXXX|\*\*\*\*|\.\.\.|<[A-Za-z_ -]+>|\$\{|\$\[|\{\{|%\(|\$\("
)
# Long runs of one character mark a filler (``00000000``) in a short value; inside a long
# encoded blob (an OpenSSH key is full of ``AAAAAAAA``) they are just zero bytes.
_RUN: Final = re.compile(r"(.)\1{7,}")
_SEQUENCES: Final = ("0123456789", "1234567890", "abcdefghij", "abcdef0123")

_WORDS_LIST: Final = (
    "sample",
    "dummy",
    "fake",
    "test",
    "changeme",
    "change_me",
    "changeit",
    "placeholder",
    "your",
    "redact",
    "secret",
    "passw",
    "todo",
    "fixme",
    "foo",
    "lorem",
    "insert",
    "replace",
    "null",
    "none",
    "undefined",
    "default",
    "demo",
    "mock",
    "invalid",
    "notreal",
    "not_a_",
    "hunter2",
    "letmein",
    "qwerty",
    "admin",
    "here",
    "value",
    "token",
    "apikey",
    "api_key",
    "required",
    "optional",
    "enter",
    "string",
    "tiger",
)
# Each word in lower, UPPER and Capitalised form only: case-insensitive matching would
# find "fOO" or "TeSt" inside random credentials far too often.
_WORDS: Final = re.compile(
    "|".join(
        re.escape(form) for word in _WORDS_LIST for form in {word, word.upper(), word.capitalize()}
    )
    + "|^(?i:true|false)$|(?i:p[a@4][s5$]{2}w[o0]rd)"
)

# Values published in specifications and vendor documentation as examples. They look
# exactly like live credentials, appear in thousands of codebases, and are never valid.
# Kept as truncated SHA-256 digests so this file holds nothing that looks like a secret.
_DOCUMENTED: Final = frozenset(
    {
        # AWS documentation (IAM user guide)
        "1a5d44a2dca19669d72edf4c4f1c27c4",
        "78314b11be2e581549ac1c4f616563fa",
        # Azurite / Azure Storage Emulator well-known account key
        "0011cc25eb4320717494d2703e8cba85",
        # RFC 6749 §4 examples (client credentials, access and refresh tokens)
        "ca7459e2b26776de081b9a07e40227fd",
        "6c96130f130ab0d6d158397e24d2bcc1",
        "00cf4c781dc37003f7c7dd7d4c9a6ef1",
        "a35b81a7d7927b70ec99270dd2362b88",
        "b8e148545b13c78bc74da2f1a7275dd7",
        # RFC 5849 §1.2 examples (OAuth 1.0 tokens)
        "2ff8b0fb93aca981c78f1e94355c298c",
        "4c20e6f5cc11b93731e74cbe20739821",
        "bb9b1163338b2a51495834ad5c654204",
        "5435a2f13f1e85e32fed9f30d49e0971",
        # RFC 6238 appendix B test seed ("12345678901234567890"), base32
        "549c9390539efcfa01d2744e82e7da34",
        # jwt.io's default example token signature
        "051d093c4bdedbf23f905ad01d9c6111",
    }
)
_LOWER: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_UPPER: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS: Final = frozenset("0123456789")
_ALNUM: Final = _LOWER | _UPPER | _DIGITS
_LOWER_NAME: Final = re.compile(r"[a-z_][a-z_]+")
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_DOTTED_NAME: Final = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_$@][\w$@-]*(?:(?:\.|::|->)[A-Za-z_$][\w$-]*)*(?:\(.*\))?")
_ENV_REF: Final = re.compile(r"^\$\w+|^%\w+%$|os\.environ|process\.env|getenv|ENV\[")
_FILE_EXT: Final = re.compile(
    r"\.(?:py|txt|json|ya?ml|toml|ini|cfg|conf|pem|key|crt|cer|der|p12|pfx|jks|html?|js|ts|"
    r"md|rst|csv|log|sh|env|xml|db|sqlite|png|jpe?g|gif|svg)$",
    re.IGNORECASE,
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


_C_LOG_C: Final = [0.0, *(c * math.log2(c) for c in range(1, 4097))]


def entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character.

    Computed as log2(n) - sum(c·log2 c)/n with a table of c·log2 c, because the scanner
    evaluates it for every candidate and a per-character float division adds up.
    """
    n = len(value)
    if n == 0:
        return 0.0
    table = _C_LOG_C
    total = 0.0
    for c in Counter(value).values():
        total += table[c] if c < 4097 else c * math.log2(c)
    return max(0.0, math.log2(n) - total / n)


def is_placeholder(value: str, *, generic: bool) -> bool:
    """Tell whether ``value`` is a stand-in rather than a credential."""
    if _STRICT.search(value) or _digest(value) in _DOCUMENTED:
        return True
    if len(value) <= 64 and _RUN.search(value):
        return True
    lowered = value.lower()
    if any(seq in lowered for seq in _SEQUENCES):
        return True
    return generic and _WORDS.search(value) is not None


def looks_like_code(value: str) -> bool:
    """Tell whether a generic assignment's value is code, a path or a name, not a secret."""
    if _ENV_REF.search(value) or _FILE_EXT.search(value):
        return True
    if _DOTTED_NAME.fullmatch(value) and any(
        _LOWER_NAME.fullmatch(part) for part in value.split(".")
    ):
        # settings.DB_PASSWORD, self.token, os.environ: attribute paths have a lowercase
        # module or object name somewhere; a random password with a dot does not.
        return True
    if _UUID.fullmatch(value):
        # Named "token" or "key", a bare UUID is nearly always an identifier; providers
        # whose keys are UUIDs have their own rules, anchored on the provider's name.
        return True
    if len(value) < 32 and _HEX.fullmatch(value):
        # Short hex strings are hashes, ids and checksums far more often than secrets.
        return True
    if value.startswith(("./", "../", "~/", "http://", "https://", "file:")):
        return True
    if value.startswith("/") and (value.count("/") > 1 or len(value) < 20):
        # A path, unless it is base64 that happens to start with a slash: those mix
        # cases throughout, paths are mostly lowercase.
        uppers = sum(ch.isupper() for ch in value)
        if uppers < len(value) / 5:
            return True
    if any(ch in value for ch in "{}()[]<>\\;,|`") or "%s" in value or "%d" in value:
        return True
    if _IDENTIFIER.fullmatch(value) and not any(ch.isdigit() for ch in value):
        # Names are words: snake_case, dotted, or camelCase with few capitals. Random
        # letters without a digit mix cases throughout and are kept.
        uppers = sum(ch.isupper() for ch in value)
        if "_" in value or "." in value or uppers < len(value) * 0.3 or value.isupper():
            return True
    chars = set(value)
    classes = (
        bool(chars & _LOWER) + bool(chars & _UPPER) + bool(chars & _DIGITS) + bool(chars - _ALNUM)
    )
    # A random credential mixes character classes; prose, names and numbers do not.
    return classes < 2
