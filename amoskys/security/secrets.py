"""Hardcoded secrets in a project's files: provider token formats, key blocks and assignments.

Two entry points: :func:`scan_files` reads files under a root (the tracked files, say) and
:func:`scan_text` scans text the caller already has (the staged content, for a pre-commit
hook); :func:`scan_bytes` sits between them for raw blob content. Every finding is a
:class:`~amoskys.findings.model.Finding` of category ``SECRET``.

Rules (``Finding.rule``) and what each knows of its provider's documented format:

``aws-access-key-id``
    ``AKIA`` (long-lived), ``ASIA`` (STS temporary), ``ABIA``, ``ACCA`` + 16 base-32 characters
    (``A-Z2-7``). HIGH.
``aws-secret-access-key``
    40 characters of ``A-Za-z0-9/+`` assigned to a name such as ``aws_secret_access_key`` or
    ``secretAccessKey`` (the value alone has no marker). CRITICAL.
``github-token``
    ``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_`` + 36 base-62 characters, the last 6 of which are
    the CRC-32 of the other 30, base-62 encoded (``0-9A-Za-z``) and left-padded with ``0``; a
    string that fails the checksum was not issued by GitHub and stays quiet (unless
    ``verify_checksums`` is off). Longer ``gh?_`` tokens (GitHub reserved lengths up to 255) and
    fine-grained ``github_pat_`` tokens (22 + ``_`` + 59 characters, no public checksum) are
    reported without one. HIGH.
``gitlab-token``
    ``glpat-`` and the other ``gl*-`` prefixes of GitLab's token table (``gloas-`` ``gldt-``
    ``glrt-`` ``glrtr-`` ``glcbt-`` ``glptt-`` ``glft-`` ``glimt-`` ``glagent-`` ``glsoat-``
    ``glffct-``) + at least 20 characters, and legacy runner registration tokens ``GR1348941``.
    HIGH.
``slack-token``
    ``xoxb-`` ``xoxp-`` ``xoxa-`` ``xoxo-`` ``xoxs-`` ``xoxr-`` ``xoxe-`` (numeric team/user
    segments then a random part) and app-level ``xapp-`` tokens. HIGH.
``slack-webhook-url``
    ``https://hooks.slack.com/services/T…/B…/<24 characters>`` (and ``workflows``/``triggers``).
    HIGH.
``stripe-secret-key``
    ``sk_live_`` / ``rk_live_`` (secret and restricted live keys): CRITICAL; ``sk_test_`` /
    ``rk_test_``: MEDIUM (test mode moves no money, but the key still reads the account's test
    data). Publishable keys ``pk_live_`` / ``pk_test_`` are *not* reported: Stripe documents them
    as meant for client-side code.
``google-api-key``
    ``AIza`` + 35 characters of ``A-Za-z0-9_-``. HIGH.
``pypi-token``
    ``pypi-`` + a macaroon whose location is ``pypi.org`` / ``test.pypi.org`` (base64
    ``AgEIcHlwaS5vcmc`` / ``AgENdGVzdC5weXBpLm9yZw``). HIGH.
``private-key``
    ``-----BEGIN … PRIVATE KEY-----`` (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … BLOCK) followed by
    a base64 body; a marker with no body (a parser's ``startswith`` check, a docs stub) is quiet.
    CRITICAL.
``jwt``
    three base64url parts whose first decodes to a JSON object with an ``alg`` member (not
    ``none``: an unsigned token authenticates nothing). HIGH.
``database-url``
    ``postgres`` ``postgresql`` ``mysql`` ``mariadb`` ``mongodb`` ``mongodb+srv`` ``redis``
    ``rediss`` ``amqp`` ``amqps`` ``mssql`` ``sqlserver`` ``oracle`` ``cockroachdb`` URLs with
    ``user:password@host``, quiet when the password is a placeholder, a ``${VAR}`` / ``$VAR`` /
    ``{{ }}`` / ``%(x)s`` reference, a stock default (``postgres``, ``root``, ``guest`` …) or the
    user name again. HIGH.
``generic-secret``
    a high-entropy string assigned to a name with a word such as ``password`` ``passwd`` ``pwd``
    ``secret`` ``token`` ``api_key`` ``apikey`` ``access_key`` ``private_key`` ``client_secret``
    ``auth`` ``credential`` (split on ``_ - .`` and camelCase, so ``author`` and ``max_tokens`` do
    not count, and names ending in ``_url`` ``_file`` ``_path`` ``_name`` ``_id`` ``_type`` … are
    not values). Python, YAML, JSON, TOML, .env, INI and shell assignment forms. HIGH.

Quiet on purpose: git SHAs and other hex digests outside secret-named assignments, ``@<sha>``
in ``uses:``, UUIDs, lock-file hash lines (``sha256:``, ``--hash=``, ``integrity``), test
placeholders (``changeme``, ``password``, ``xxx``, ``<token>``, ``dummy``, ``example``,
``test``, ``fake``, ``your-…``, leetspeak of those, runs of one character), AWS's documented
example keys (they contain ``EXAMPLE``), Stripe's documented test key and jwt.io's example
token (known by their SHA-256, so the literals are not in this file), values read from
the environment or a template (``os.environ[...]``, ``${{ secrets.X }}``, ``$VAR``), empty
strings, identifiers, paths and URLs assigned to secret-looking names.

Entropy (the generic rule only). The Shannon entropy of the value, in bits per character, must
reach a threshold that depends on the charset, in full from a typical credential length on and
scaled by ``log2(len) / log2(full length)`` below it (a string of ``n`` characters cannot score
more than ``log2(n)`` bits, so short values need proportionally less):

* hex (``0-9a-f``, one case), at least 16 characters, full from 24: ``hex_entropy`` = 3.0 bits
  (of a maximum 4.0). Measured on 20,000 random strings each: 99 % of 24-character hex
  strings score >= 3.05 and 99.9 % of 32-character ones >= 3.10; at 16 characters the scaled
  threshold (2.62) still passes 99 %. Hex-looking filler scores far lower (``deadbeefdeadbeef``
  2.2).
* anything else (base64, base62, passwords with symbols), at least 12 characters, full from 20:
  ``base64_entropy`` = 3.5 bits (of a maximum 6.0). 99 % of random 20-character base64 strings
  score >= 3.65; at 12 characters the scaled threshold is 2.90 against a 1st percentile of
  3.02, so random 12–19 character passwords are kept, while ``hunter2hunter2`` (2.8 bits
  against 3.08) is not.

Entropy alone cannot tell ``password_confirmation`` (3.7 bits) from a random string of the same
length, so word-shaped values (identifiers, dotted module paths, ``kebab-case`` names, paths and
URLs) are quiet whatever their entropy; the thresholds then remove what is left of low-variety
filler. detect-secrets uses 4.5 (base64) and 3.0 (hex) without any name context; with a
secret-looking name in front, a lower base64 threshold is safe and finds shorter secrets.

Suppressing: ``amoskys: allow-secret`` in a comment on the line or on the line before;
``amoskys: allow-secrets-file`` in the first 5 lines of a file (used by the test corpus of this
project, whose whole point is to hold secret-shaped strings); :class:`SecretsConfig` with
``allow_patterns`` (regular expressions searched in the secret value and in the whole matched
text, e.g. ``@localhost[:/]`` for local database URLs) and ``allow_paths`` (``fnmatch`` globs
on the POSIX path relative to the root; ``*`` also crosses ``/``).

A finding never holds the secret: the message shows the provider's public type prefix (``AKIA``,
``ghp_``, ``sk_live_``), if any, and the last 2 characters (``AKIA…LE``); a value without a
prefix shows at most its first and last 2 characters, fewer when it is short. The fingerprint is
computed from the rule, the file and the line with the secret replaced by a hash of it, so it
survives line moves and stores nothing of the secret.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import fnmatch
import functools
import hashlib
import json
import math
import os
import re
import stat
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, Mapping, Protocol

from amoskys.errors import ConfigError
from amoskys.findings.model import Category, Finding, Severity, with_fingerprint

__all__ = [
    "BINARY_SNIFF_BYTES",
    "DEFAULT_CONFIG",
    "FILE_PRAGMA",
    "LINE_PRAGMA",
    "RULES",
    "SecretsConfig",
    "TOOL",
    "github_checksum_ok",
    "is_lock_file",
    "redact",
    "scan_bytes",
    "scan_files",
    "scan_text",
    "shannon_entropy",
]

TOOL = "secrets"
LINE_PRAGMA = "amoskys: allow-secret"
FILE_PRAGMA = "amoskys: allow-secrets-file"
FILE_PRAGMA_LINES = 5
BINARY_SNIFF_BYTES = 8192
ELLIPSIS = "\u2026"

_FIX = (
    "remove the secret from the file and revoke or rotate it if it was ever pushed; read it at "
    "run time from the environment or a secret store. For a false positive, add "
    "'amoskys: allow-secret' in a comment on the line or an allow pattern in the configuration"
)


@dataclass(frozen=True)
class SecretsConfig:
    """What to allow and how strict the generic rule is.

    ``allow_patterns`` are regular expressions searched in the secret value and in the whole
    matched text; ``allow_paths`` are ``fnmatch`` globs on the POSIX path relative to the root.
    ``hex_entropy`` / ``base64_entropy`` are the generic rule's thresholds in bits per character
    (see the module docstring for how they were chosen). Files larger than ``max_file_bytes``
    are skipped by :func:`scan_files` and :func:`scan_bytes`. ``verify_checksums`` drops
    GitHub-prefixed strings whose CRC-32 does not match (they cannot be real tokens).
    """

    allow_patterns: tuple[str, ...] = ()
    allow_paths: tuple[str, ...] = ()
    hex_entropy: float = 3.0
    base64_entropy: float = 3.5
    max_file_bytes: int = 2 * 1024 * 1024
    verify_checksums: bool = True

    def __post_init__(self) -> None:
        for pattern in self.allow_patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ConfigError(
                    f"secrets allow pattern {pattern!r} is not a valid regular expression: {err}",
                    hint="write a Python regular expression, e.g. '^sk_test_'",
                ) from None
        if not 0.0 <= self.hex_entropy <= 4.0:
            raise ConfigError(
                f"secrets hex-entropy must be between 0 and 4 bits, got {self.hex_entropy}",
                hint="the default is 3.0",
            )
        if not 0.0 <= self.base64_entropy <= 6.0:
            raise ConfigError(
                f"secrets base64-entropy must be between 0 and 6 bits, got {self.base64_entropy}",
                hint="the default is 3.5",
            )
        if self.max_file_bytes <= 0:
            raise ConfigError(
                f"secrets max-file-bytes must be positive, got {self.max_file_bytes}",
                hint="the default is 2097152 (2 MiB)",
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> SecretsConfig:
        """From a ``[tool.amoskys.secrets]`` table: ``allow-patterns``, ``allow-paths``,
        ``hex-entropy``, ``base64-entropy``, ``max-file-bytes``, ``verify-checksums``."""
        known = {
            "allow-patterns",
            "allow-paths",
            "hex-entropy",
            "base64-entropy",
            "max-file-bytes",
            "verify-checksums",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown key tool.amoskys.secrets.{unknown[0]}",
                hint="known keys: " + ", ".join(sorted(known)),
            )

        def strings(key: str) -> tuple[str, ...]:
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"tool.amoskys.secrets.{key} must be a list of strings",
                    hint=f'write {key} = ["..."]',
                )
            return tuple(value)

        def number(key: str, default: float) -> float:
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"tool.amoskys.secrets.{key} must be a number")
            return float(value)

        max_bytes = data.get("max-file-bytes", cls.max_file_bytes)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise ConfigError("tool.amoskys.secrets.max-file-bytes must be an integer")
        verify = data.get("verify-checksums", True)
        if not isinstance(verify, bool):
            raise ConfigError("tool.amoskys.secrets.verify-checksums must be true or false")
        return cls(
            allow_patterns=strings("allow-patterns"),
            allow_paths=strings("allow-paths"),
            hex_entropy=number("hex-entropy", cls.hex_entropy),
            base64_entropy=number("base64-entropy", cls.base64_entropy),
            max_file_bytes=max_bytes,
            verify_checksums=verify,
        )


DEFAULT_CONFIG = SecretsConfig()


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


# --------------------------------------------------------------------------- helpers


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value``'s characters, in bits per character (0 for "")."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _B62[rest] + digits
    return digits.rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """Whether a classic ``gh?_`` token's last 6 characters are the base-62 CRC-32 of the 30
    before them (the format GitHub introduced in 2021)."""
    body = token[4:]
    if len(body) != 36:
        return False
    return _base62(zlib.crc32(body[:30].encode("ascii")), 6) == body[30:]


def redact(value: str, prefix: int = 0) -> str:
    """``value`` with all but a public prefix and a few characters cut out.

    With a public type ``prefix`` (``AKIA``, ``ghp_``): the prefix and the last 2 characters.
    Without: first and last 2 characters from 16 characters on, first and last 1 from 8, and
    nothing below that. Never more than a quarter of the non-prefix characters.
    """
    head, body = value[:prefix], value[prefix:]
    if head:
        tail = body[-2:] if len(body) >= 8 else ""
        return f"{head}{ELLIPSIS}{tail}"
    if len(body) >= 16:
        return f"{body[:2]}{ELLIPSIS}{body[-2:]}"
    if len(body) >= 8:
        return f"{body[:1]}{ELLIPSIS}{body[-1:]}"
    return ELLIPSIS


def _scrub(text: str, value: str) -> str:
    """``text`` with every occurrence of ``value`` cut out (the never-print guarantee)."""
    if not value:
        return text
    while value in text:
        text = text.replace(value, ELLIPSIS)
    return text


_LOCK_NAMES = frozenset(
    {
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "pylock.toml",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lock",
        "cargo.lock",
        "composer.lock",
        "gemfile.lock",
        "go.sum",
        "conda-lock.yml",
        "flake.lock",
    }
)
_LOCK_HASH_LINE = re.compile(
    r"sha1|sha224|sha256|sha384|sha512|md5|blake2|--hash|integrity|checksum|\bhash\b|\bh1:"
    r"|narHash|\brev\b",
    re.IGNORECASE,
)


def is_lock_file(path: str) -> bool:
    """Whether ``path`` names a dependency lock file (whose hash lines are skipped)."""
    name = PurePosixPath(path).name.lower()
    if name in _LOCK_NAMES or name.endswith(".lock"):
        return True
    return name.startswith("requirements") and name.endswith((".txt", ".in"))


def _drop_lock_hash_lines(text: str) -> str:
    """The text with hash lines blanked (line numbers stay the same)."""
    if not _LOCK_HASH_LINE.search(text):
        return text
    return "\n".join("" if _LOCK_HASH_LINE.search(line) else line for line in text.split("\n"))


# --------------------------------------------------------------------------- value judgement

_PLACEHOLDER_EXACT = frozenset(
    {
        "changeme",
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "secrets",
        "token",
        "apikey",
        "api_key",
        "xxx",
        "dummy",
        "example",
        "test",
        "testing",
        "fake",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "todo",
        "tbd",
        "redacted",
        "hidden",
        "masked",
        "sample",
        "default",
        "root",
        "admin",
        "guest",
        "user",
        "postgres",
        "mysql",
        "redis",
        "rabbitmq",
        "mongo",
        "letmein",
        "qwerty",
    }
)
_PLACEHOLDER_WORDS = (
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "dummy",
    "fake",
    "xxxx",
    "redacted",
    "your",
    "sample",
    "test",
    "mock",
    "demo",
    "foobar",
    "lorem",
    "insert",
    "replace",
    "notreal",
    "not-a-real",
    "not_a_real",
    "123456",
    "abcdef",
    "secret",
    "password",
)
_LEET = str.maketrans("01345789@$!", "oieastbgasi")
_RUN = re.compile(r"(.)\1{5,}")
_TEMPLATE = re.compile(
    r"^\$|^%\(|^%s$|^<.*>$|^\{.*\}$|\$\{|\{\{|\}\}|\{%|^@@|^ENC\[|^vault:|^env:|^secret:"
    r"|^\*+$|environ|getenv|process\.env|^settings\.|^config\.|^ref\+",
    re.IGNORECASE,
)
_DOCUMENTED_EXAMPLES_SHA256 = frozenset(
    {
        # Stripe's documented test-mode secret key, printed in its API reference.
        "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",
        # jwt.io's default HS256 example token ({"sub": "1234567890", "name": "John Doe", ...}).
        "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",
    }
)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _is_placeholder(value: str, *, leet: bool = True) -> bool:
    """Values that stand in for a secret: example words, masks, templates, filler runs.

    ``leet`` also reads ``P@ssw0rd`` as ``password``; it is off for the random part of a
    provider token, where digit-for-letter readings would turn up by chance (about 1 in 3,000
    random 36-character bodies reads as "test" that way).
    """
    if not value.strip():
        return True
    low = value.lower()
    read = low.translate(_LEET) if leet else low
    if low in _PLACEHOLDER_EXACT or read in _PLACEHOLDER_EXACT or _TEMPLATE.search(value):
        return True
    if any(word in low or word in read for word in _PLACEHOLDER_WORDS):
        return True
    if _RUN.search(value) or len(set(value)) <= 3:
        return True
    return _sha256(value) in _DOCUMENTED_EXAMPLES_SHA256


def _is_fake_token(body: str) -> bool:
    """:func:`_is_placeholder` for the random part of a provider token."""
    return _is_placeholder(body, leet=False)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_PREFIX = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5|blake2[bs]?|h1)[:-]", re.I)
_HEX = re.compile(r"^(?:[0-9a-f]+|[0-9A-F]+)$")
_WORD_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_VOWELS = frozenset("aeiouyAEIOUY")
_SEPARATORS = frozenset("_-. /:@+,")


def _looks_like_words(value: str) -> bool:
    """Identifiers, dotted paths, kebab names, sentences: letters in word-sized pieces.

    Random strings break into many short consonant clusters; ``password_confirmation`` and
    ``django.contrib.auth.backends.ModelBackend`` into words with vowels.
    """
    if any(not (ch.isalnum() or ch in _SEPARATORS) for ch in value):
        return False
    parts = _WORD_PART.findall(value)
    letters = sum(len(p) for p in parts if p.isalpha())
    digits = sum(len(p) for p in parts if p.isdigit())
    if letters == 0 or digits > 4 or sum(1 for p in parts if p.isdigit()) > 2:
        return False
    wordy = sum(len(p) for p in parts if p.isalpha() and len(p) >= 2 and _VOWELS & set(p))
    return wordy >= 0.85 * letters and letters / max(1, len(parts)) >= 3.0


def _looks_like_path(value: str) -> bool:
    if value.startswith(("/", "~/", "./", "../")) or re.match(r"^[A-Za-z]:\\", value):
        return all(_looks_like_words(p) or not p for p in re.split(r"[/\\]", value.lstrip("~")))
    if "/" in value and re.search(r"\.[A-Za-z]{1,5}$", value):
        return all(_looks_like_words(p) or not p for p in value.split("/"))
    return False


_FULL_THRESHOLD_FROM = {"hex": 24, "base64": 20}
"""Lengths from which the whole entropy threshold applies (see the module docstring)."""


def _entropy_ok(value: str, config: SecretsConfig) -> tuple[bool, float]:
    """Whether ``value`` is random-looking enough for the generic rule, and its entropy.

    A string of ``n`` characters cannot score more than ``log2(n)`` bits, so below the full
    length the threshold scales down by ``log2(n) / log2(full)``.
    """
    entropy = shannon_entropy(value)
    size = len(value)
    if _HEX.match(value):
        charset, threshold, floor = "hex", config.hex_entropy, 16
    else:
        charset, threshold, floor = "base64", config.base64_entropy, 12
    if size < floor:
        return False, entropy
    scale = min(1.0, math.log2(size) / math.log2(_FULL_THRESHOLD_FROM[charset]))
    return entropy >= threshold * scale, entropy


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Hit:
    """One secret a rule found: where the value is, and how to show it."""

    value: str
    start: int
    end: int
    severity: Severity
    message: str
    prefix: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)
    at: int | None = None  # where to report it, when not at the value (a key block's BEGIN)


_Check = Callable[[re.Match[str], str, SecretsConfig], _Hit | None]


@dataclass(frozen=True)
class _Rule:
    id: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...]  # lower-case substrings; if any, the regex runs only when one is
    # present (for regexes that Python's engine cannot skip through fast by a literal prefix)
    check: _Check
    on_lower: bool = False  # match the lower-cased text (same offsets); checks read ``text``


def _bounded(text: str, start: int, end: int, inner: str) -> bool:
    """No ``inner`` character right before ``start`` or right after ``end``."""
    if start > 0 and text[start - 1] in inner:
        return False
    return not (end < len(text) and text[end] in inner)


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _aws_key_id(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM) or _is_fake_token(value[4:]):
        return None
    kind = "temporary (STS) " if value.startswith("ASIA") else ""
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.HIGH,
        f"AWS {kind}access key id {redact(value, 4)}",
        prefix=4,
    )


def _aws_secret(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    start, end = m.span("value")
    value = text[start:end]
    if not _bounded(text, start, end, _ALNUM + "/+="):
        return None
    if _is_placeholder(value) or shannon_entropy(value) < config.base64_entropy:
        return None
    return _Hit(
        value,
        start,
        end,
        Severity.CRITICAL,
        f"AWS secret access key assigned to '{text[m.start('key'):m.end('key')]}' "
        f"({redact(value)})",
    )


def _github_classic(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM + "_"):
        return None
    extra: dict[str, object] = {}
    if len(value) == 40:
        valid = github_checksum_ok(value)
        if not valid and config.verify_checksums:
            return None
        extra["checksum"] = "valid" if valid else "invalid"
        if not valid and _is_fake_token(value[4:]):
            return None
    elif _is_fake_token(value[4:]):
        return None
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.HIGH,
        f"GitHub token {redact(value, 4)}",
        prefix=4,
        extra=extra,
    )


def _github_pat(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM + "_") or _is_fake_token(value[11:]):
        return None
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.HIGH,
        f"GitHub fine-grained personal access token {redact(value, 11)}",
        prefix=11,
    )


def _prefixed(
    name: str, severity: Severity, inner: str = _ALNUM + "_-", min_entropy: float = 3.0
) -> _Check:
    """A check for ``<prefix><random>`` tokens whose prefix is the ``prefix`` group."""

    def check(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
        value = m.group(0).rstrip(".-_")
        end = m.start() + len(value)
        if not _bounded(text, m.start(), m.end(), inner):
            return None
        cut = len(m.group("prefix"))
        body = value[cut:]
        if _is_fake_token(body) or shannon_entropy(body) < min_entropy:
            return None
        return _Hit(
            value,
            m.start(),
            end,
            severity,
            f"{name} {redact(value, cut)}",
            prefix=cut,
        )

    return check


def _stripe(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM + "_"):
        return None
    cut = len(m.group("prefix"))
    if _is_fake_token(value[cut:]) or _sha256(value) in _DOCUMENTED_EXAMPLES_SHA256:
        return None
    live = "_live_" in m.group("prefix")
    kind = "secret" if value.startswith("sk_") else "restricted"
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.CRITICAL if live else Severity.MEDIUM,
        f"Stripe {'live' if live else 'test-mode'} {kind} key {redact(value, cut)}",
        prefix=cut,
    )


def _publishable(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    return None  # claimed so that the generic rule leaves it alone, never reported


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}")
_KEY_END = "-----END"


def _private_key(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    window_end = min(len(text), m.end() + 800)
    stop = text.find(_KEY_END, m.end(), window_end)
    window = text[m.end() : stop if stop >= 0 else window_end]
    # Headers of encrypted PEM / PGP armour come first; the body is the first long run.
    body = _BASE64_RUN.search(window)
    if body is None or _is_fake_token(body.group(0)):
        return None
    start = m.end() + body.start()
    kind = m.group("kind").strip() or "PKCS#8"
    return _Hit(
        body.group(0),
        start,
        start + len(body.group(0)),
        Severity.CRITICAL,
        f"private key block ({kind}) {redact(body.group(0))}",
        extra={"marker": m.group(0)},
        at=m.start(),
    )


def _b64url_json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _jwt(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM + "_-"):
        return None
    header = _b64url_json(value.split(".", 1)[0])
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return None
    if header["alg"].lower() == "none" or _sha256(value) in _DOCUMENTED_EXAMPLES_SHA256:
        return None
    signature = value.rsplit(".", 1)[1]
    if _is_fake_token(signature):
        return None
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.HIGH,
        f"JSON Web Token (alg {header['alg'][:10]}) {redact(value, 3)}",
        prefix=3,
        extra={"alg": header["alg"][:10]},
    )


_DB_SCHEME = re.compile(
    r"(?:^|[^A-Za-z0-9+.\-])(?P<scheme>postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?"
    r"|amqps?|mssql|sqlserver|oracle|cockroachdb)(?:\+[A-Za-z0-9_]+)?$",
    re.IGNORECASE,
)


def _database_url(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    # The pattern starts at "://" (a literal the regex engine finds fast); the scheme is
    # looked up behind it.
    scheme_match = _DB_SCHEME.search(text, max(0, m.start() - 40), m.start())
    if scheme_match is None:
        return None
    password = m.group("password")
    user = m.group("user")
    if _is_placeholder(password) or password.lower() == user.lower():
        return None
    start, end = m.span("password")
    scheme = scheme_match.group("scheme").lower()
    return _Hit(
        password,
        start,
        end,
        Severity.HIGH,
        f"{scheme} URL with a password for user '{user[:40]}' ({redact(password)})",
        extra={"scheme": scheme},
    )


def _slack(m: re.Match[str], text: str, config: SecretsConfig) -> _Hit | None:
    value = m.group(0)
    if not _bounded(text, m.start(), m.end(), _ALNUM + "_-"):
        return None
    cut = len(m.group("prefix") or m.group("app"))
    if _is_fake_token(value[cut:]):
        return None
    return _Hit(
        value,
        m.start(),
        m.end(),
        Severity.HIGH,
        f"Slack token {redact(value, cut)}",
        prefix=cut,
    )


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        re.compile(r"-----BEGIN[ ](?P<kind>(?:[A-Z0-9]+[ ])*?)PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"),
        (),
        _private_key,
    ),
    _Rule(
        "aws-access-key-id",
        re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
        (),
        _aws_key_id,
    ),
    _Rule(
        "aws-secret-access-key",
        re.compile(
            r"(?P<key>secret[_.\-]?access[_.\-]?key|aws[_.\-]?secret(?:[_.\-]?key)?)"
            r"[\"'\]]*[ \t]*(?::=|=>|=|:)[ \t]*[\"']?(?P<value>[a-z0-9/+]{40})"
        ),
        ("secret",),
        _aws_secret,
        on_lower=True,
    ),
    _Rule(
        "github-token",
        re.compile(r"gh[pousr]_[A-Za-z0-9]{36,251}"),
        (),
        _github_classic,
    ),
    _Rule(
        "github-token",
        re.compile(r"github_pat_[A-Za-z0-9_]{50,240}"),
        (),
        _github_pat,
    ),
    _Rule(
        "gitlab-token",
        re.compile(
            r"(?P<prefix>(?:glpat|gloas|gldt|glrtr|glrt|glcbt|glptt|glft|glimt|glagent|glsoat"
            r"|glffct)-|GR1348941)[0-9A-Za-z_.\-]{20,}"
        ),
        ("glpat-", "gloas-", "gldt-", "glrt", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-")
        + ("glsoat-", "glffct-", "gr1348941"),
        _prefixed("GitLab token", Severity.HIGH, _ALNUM + "_.-"),
    ),
    _Rule(
        "slack-token",
        re.compile(
            r"(?P<prefix>xox(?:e\.xox[bp]|[abposre])-)\d{1,16}-[0-9A-Za-z][0-9A-Za-z\-]{7,}"
            r"|(?P<app>xapp-)\d-[A-Z0-9]{6,}-\d{6,}-[A-Za-z0-9]{24,}"
        ),
        ("xox", "xapp-"),
        _slack,
    ),
    _Rule(
        "slack-webhook-url",
        re.compile(
            r"(?P<prefix>https://hooks\.slack\.com/(?:services|workflows|triggers)/)"
            r"[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]+/[A-Za-z0-9_/\-]{8,}"
        ),
        (),
        _prefixed("Slack webhook URL", Severity.HIGH, _ALNUM + "_-/"),
    ),
    _Rule(
        "stripe-secret-key",
        re.compile(r"(?P<prefix>(?:sk|rk)_(?:live|test)_)[0-9A-Za-z]{16,247}"),
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
        _stripe,
    ),
    _Rule(
        "stripe-publishable-key",
        re.compile(r"pk_(?:live|test)_[0-9A-Za-z]{16,247}"),
        (),
        _publishable,
    ),
    _Rule(
        "google-api-key",
        re.compile(r"(?P<prefix>AIza)[0-9A-Za-z_\-]{35}"),
        (),
        _prefixed("Google API key", Severity.HIGH, _ALNUM + "_-"),
    ),
    _Rule(
        "pypi-token",
        re.compile(
            r"(?P<prefix>pypi-)(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,}"
        ),
        ("pypi-",),
        _prefixed("PyPI API token", Severity.HIGH, _ALNUM + "_-"),
    ),
    _Rule(
        "jwt",
        re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}"),
        (),
        _jwt,
    ),
    _Rule(
        "database-url",
        re.compile(r"://(?P<user>[^\s:/@'\"`]*):(?P<password>[^\s@/'\"`]*)@[^\s/'\"`?#@]+"),
        (),
        _database_url,
    ),
)


RULES: tuple[str, ...] = tuple(
    dict.fromkeys(r.id for r in _RULES if r.id != "stripe-publishable-key")
) + ("generic-secret",)
"""The rule ids this scanner reports."""


# --------------------------------------------------------------------------- generic rule

_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "privatekey",
        "accesskey",
        "secretkey",
        "clientsecret",
        "authtoken",
        "accesstoken",
    }
)
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("client", "secret"),
        ("signing", "key"),
        ("encryption", "key"),
        ("master", "key"),
    }
)
_NOT_A_VALUE = frozenset(
    {
        "url",
        "uri",
        "urls",
        "endpoint",
        "host",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "name",
        "names",
        "type",
        "types",
        "kind",
        "field",
        "fields",
        "env",
        "var",
        "variable",
        "header",
        "len",
        "length",
        "count",
        "size",
        "format",
        "pattern",
        "regex",
        "re",
        "prefix",
        "suffix",
        "cmd",
        "command",
        "mode",
        "method",
        "label",
        "id",
        "ids",
        "sha",
        "hash",
        "digest",
        "checksum",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "timeout",
        "lifetime",
        "age",
        "version",
        "enabled",
        "required",
        "policy",
        "backend",
        "class",
        "handler",
        "provider",
        "service",
        "manager",
        "generator",
        "rotation",
        "placeholder",
        "hint",
        "help",
        "prompt",
        "message",
        "error",
        "description",
        "index",
        "position",
        "scope",
        "scopes",
        "algorithm",
        "alg",
        "color",
        "colour",
        "reset",
        "strength",
        "min",
        "max",
        "validator",
        "validators",
        "schema",
    }
)
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential")
"""Lower-case substrings every secret-looking name contains (``api_key`` and ``access_key``
by way of ``key``); found with ``str.find``, which is much faster than a regex alternation."""
_KEY_MAX = 100
_ASSIGNS = re.compile(r"[\"'`\]]{0,3}[ \t]*[:=]")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_TAIL = re.compile(
    r"""(?P<close>["'`]?\]?["']?)[ \t]*
        (?::[ \t]*[A-Za-z_][\w\[\]., |]*?[ \t]*(?==(?!=)[ \t]*\S))?  # an annotation, then '='
        (?P<op>:=|=>|==|=|:)[ \t]*
        (?:(?i:bearer|basic|token|bot|digest)[ \t]+(?=[^\s"'`]))?     # an HTTP auth scheme
        (?:(?P<sp>[rRbBuUfF]{0,2})(?P<quoted>"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*'
                                              |`[^`\r\n]*`)
          |(?P<bare>[^\s"'`,;&]+))""",
    re.VERBOSE,
)
_CODE_SUFFIXES = frozenset(
    {
        ".py",
        ".pyi",
        ".pyx",
        ".js",
        ".jsx",
        ".mjs",
        ".cjs",
        ".ts",
        ".tsx",
        ".go",
        ".rb",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".cs",
        ".php",
        ".rs",
        ".swift",
        ".c",
        ".cc",
        ".cpp",
        ".h",
        ".hpp",
        ".m",
        ".lua",
        ".pl",
        ".r",
        ".dart",
        ".groovy",
        ".ex",
        ".exs",
        ".clj",
        ".vue",
        ".svelte",
    }
)
_AUTH_SCHEME = re.compile(r"^(?:bearer|basic|token|bot|digest)\s+", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _key_is_secret(key: str) -> bool:
    words = [w.lower() for w in _KEY_WORDS.findall(key)]
    if not words or words[-1] in _NOT_A_VALUE:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}")


def _generic_value_ok(value: str) -> bool:
    """Shape checks before entropy: what a secret-named assignment holds that is no secret."""
    if _is_placeholder(value) or any(ch.isspace() for ch in value):
        return False
    if "://" in value or _UUID.match(value) or _HASH_PREFIX.match(value):
        return False
    if value.isdigit() or re.fullmatch(r"[\d.]+|[+-]?\d+(?:\.\d+)?[a-z]{0,2}", value):
        return False
    if "(" in value or _COLOUR.fullmatch(value):
        return False  # a call, a colour
    if value[0] in "*&!" and _looks_like_words(value[1:]):
        return False  # a YAML alias, anchor or tag
    return not (_looks_like_words(value) or _looks_like_path(value))


def _keyword_hits(lower: str) -> list[int]:
    hits: list[int] = []
    for word in _KEYWORDS:
        at = lower.find(word)
        while at >= 0:
            hits.append(at)
            at = lower.find(word, at + 1)
    hits.sort()
    return hits


def _generic(
    text: str, lower: str, path: str, claimed: list[tuple[int, int]], config: SecretsConfig
) -> Iterator[_Hit]:
    code = PurePosixPath(path).suffix.lower() in _CODE_SUFFIXES
    seen: set[int] = set()
    for hit in _keyword_hits(lower):
        start = hit
        floor = max(0, hit - _KEY_MAX)
        while start > floor and text[start - 1] in _KEY_CHARS:
            start -= 1
        while start < hit and not text[start].isalpha() and text[start] != "_":
            start += 1
        if start in seen:
            continue
        seen.add(start)
        stop = hit
        ceiling = min(len(text), start + _KEY_MAX)
        while stop < ceiling and text[stop] in _KEY_CHARS:
            stop += 1
        key = text[start:stop].rstrip(".-")
        if len(key) >= _KEY_MAX or not _ASSIGNS.match(text, start + len(key)):
            continue  # cheap first: most keyword hits are not followed by ':' or '='
        if not _key_is_secret(key):
            continue
        window = min(len(text), stop + 2048)
        line_end = text.find("\n", stop, window)
        tail = _TAIL.match(text, start + len(key), window if line_end < 0 else line_end)
        if tail is None:
            continue
        if tail.group("quoted") is not None:
            vstart, vend = tail.span("quoted")
            vstart, vend = vstart + 1, vend - 1
            if "f" in tail.group("sp").lower() and "{" in text[vstart:vend]:
                continue
        else:
            vstart, vend = tail.span("bare")
            if code and not (start > 0 and text[start - 1] in "?&"):
                continue  # a name or expression in code, not a literal
            while vend > vstart and text[vend - 1] in ")]}>.":
                vend -= 1
        raw = text[vstart:vend]
        scheme = _AUTH_SCHEME.match(raw)
        if scheme:
            vstart += scheme.end()
        value = text[vstart:vend]
        if len(value) < 12 or any(s < vend and vstart < e for s, e in claimed):
            continue
        if not _generic_value_ok(value):
            continue
        ok, entropy = _entropy_ok(value, config)
        if not ok:
            continue
        yield _Hit(
            value,
            vstart,
            vend,
            Severity.HIGH,
            f"high-entropy value assigned to '{key[:60]}' ({redact(value)}, "
            f"{len(value)} characters, {entropy:.2f} bits/character)",
            extra={"key": key[:60], "entropy": round(entropy, 2)},
        )


# --------------------------------------------------------------------------- scanning

_LINE_PRAGMA = re.compile(r"amoskys:[ \t]*allow-secret\b(?!s)")
_FILE_PRAGMA = re.compile(r"amoskys:[ \t]*allow-secrets-file\b")


def _path_allowed(path: str, config: SecretsConfig) -> bool:
    return any(fnmatch.fnmatchcase(path, glob) for glob in config.allow_paths)


def _has_file_pragma(text: str) -> bool:
    head = text.split("\n", FILE_PRAGMA_LINES)[:FILE_PRAGMA_LINES]
    return any(_FILE_PRAGMA.search(line) for line in head)


def _lower(text: str) -> str:
    """``text.lower()`` with the same offsets (a few characters, like U+0130, lower-case to
    two code points; those stay as they are)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _suppressed_by_pragma(text: str, pos: int) -> bool:
    start, end = _line_bounds(text, pos)
    if _LINE_PRAGMA.search(text, start, end):
        return True
    if start == 0:
        return False
    before, _ = _line_bounds(text, start - 1)
    return _LINE_PRAGMA.search(text, before, start) is not None


def _to_finding(rule: str, hit: _Hit, text: str, path: str) -> Finding:
    at = hit.start if hit.at is None else hit.at
    line_start, line_end = _line_bounds(text, at)
    line_no = text.count("\n", 0, at) + 1
    redacted = redact(hit.value, hit.prefix)
    extra: dict[str, object] = {
        k: _scrub(v, hit.value) if isinstance(v, str) else v for k, v in hit.extra.items()
    }
    extra.update({"redacted": redacted, "length": len(hit.value)})
    finding = Finding(
        tool=TOOL,
        rule=rule,
        severity=hit.severity,
        category=Category.SECRET,
        message=_scrub(hit.message, hit.value),
        file=path,
        line=line_no,
        column=at - line_start + 1,
        fix=_FIX,
        extra=extra,
    )
    line = text[line_start:line_end]
    token = f"<secret sha256:{_sha256(hit.value)[:16]}>"
    masked = line.replace(hit.value, token) if hit.value in line else f"{line} {token}"
    return with_fingerprint(finding, masked)


def scan_text(text: str, path: str, *, config: SecretsConfig = DEFAULT_CONFIG) -> list[Finding]:
    """The secrets in ``text``, the content of the file at POSIX ``path`` (used for the
    findings, the allow globs, the lock-file and code-file rules). Sorted by position."""
    if _path_allowed(path, config) or _has_file_pragma(text):
        return []
    if is_lock_file(path):
        text = _drop_lock_hash_lines(text)
    lower = _lower(text)
    allow = _compiled(config.allow_patterns)
    pragmas = "allow-secret" in text
    claimed: list[tuple[int, int]] = []
    hits: list[tuple[str, _Hit, str]] = []
    for rule in _RULES:
        if rule.anchors and not any(anchor in lower for anchor in rule.anchors):
            continue
        for match in rule.pattern.finditer(lower if rule.on_lower else text):
            hit = rule.check(match, text, config)
            claimed.append(match.span())
            if hit is not None:
                hits.append((rule.id, hit, match.group(0)))
    for hit in _generic(text, lower, path, claimed, config):
        hits.append(("generic-secret", hit, hit.value))
    findings: list[Finding] = []
    reported: set[tuple[int, int]] = set()
    for rule_id, hit, matched in hits:
        if (hit.start, hit.end) in reported:
            continue
        if any(p.search(hit.value) or p.search(matched) for p in allow):
            continue
        if pragmas and _suppressed_by_pragma(text, hit.start if hit.at is None else hit.at):
            continue
        reported.add((hit.start, hit.end))
        findings.append(_to_finding(rule_id, hit, text, path))
    findings.sort(key=lambda f: (f.line or 0, f.column or 0, f.rule))
    return findings


def scan_bytes(data: bytes, path: str, *, config: SecretsConfig = DEFAULT_CONFIG) -> list[Finding]:
    """Like :func:`scan_text` for raw content: nothing for binary content (a NUL byte in the
    first 8 KiB) or content over ``config.max_file_bytes``; text with a UTF-16/32 byte order
    mark (``echo KEY=... > .env`` in Windows PowerShell writes UTF-16) is decoded by it, not
    taken for binary; other bytes are decoded as UTF-8 with undecodable bytes replaced."""
    if len(data) > config.max_file_bytes:
        return []
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            return scan_text(data.decode(encoding, errors="replace"), path, config=config)
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return []
    return scan_text(data.decode("utf-8", errors="replace"), path, config=config)


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ResultStore(Protocol):
    """Findings per file and content hash (``amoskys.checks.file_cache.FileResults``)."""

    def get(self, path: str, content: str) -> list[Finding] | None: ...

    def put(self, path: str, content: str, findings: Iterable[Finding]) -> None: ...


def scan_files(
    root: Path,
    paths: Iterable[str],
    *,
    config: SecretsConfig = DEFAULT_CONFIG,
    cache: ResultStore | None = None,
) -> list[Finding]:
    """The secrets in the files ``paths`` (POSIX, relative to ``root``, e.g. ``git ls-files``).

    Skipped: paths matching ``allow_paths``, paths leaving the root (absolute, ``..``),
    anything that is not a regular file (missing, a directory, a symlink, unreadable), files
    over ``max_file_bytes``, binary files, files with the file pragma. Findings are in the
    order of ``paths``, then by position. With ``cache``, a file whose content (sha256) has
    stored findings is not scanned again, and fresh results are put there (the caller saves;
    the cache's key must cover ``config`` and this scanner's code).
    """
    findings: list[Finding] = []
    for rel in paths:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            continue  # only files inside the root
        rel = pure.as_posix()
        if _path_allowed(rel, config):
            continue
        target = root / rel
        try:
            info = os.lstat(target)
            if not stat.S_ISREG(info.st_mode) or info.st_size > config.max_file_bytes:
                continue
            with open(target, "rb") as handle:
                data = handle.read(config.max_file_bytes + 1)
        except OSError:
            continue
        if cache is None:
            findings.extend(scan_bytes(data, rel, config=config))
            continue
        content = hashlib.sha256(data).hexdigest()
        found = cache.get(rel, content)
        if found is None:
            found = scan_bytes(data, rel, config=config)
            cache.put(rel, content, found)
        findings.extend(found)
    return findings
