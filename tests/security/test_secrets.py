# amoskys: allow-secrets-file -- the tests build secret-shaped strings on purpose.
"""The secret scanner: the labelled corpus (precision and recall), each rule, the pragmas,
the allowlist, file handling, fingerprints, and that no finding ever holds a secret in full."""

from __future__ import annotations

import json
import os
import re
import time
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import secrets_corpus as corpus
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from amoskys.errors import ConfigError
from amoskys.findings.model import Category, Finding, Severity, fingerprint
from amoskys.security.secrets import (
    BINARY_SNIFF_BYTES,
    DEFAULT_CONFIG,
    FILE_PRAGMA,
    LINE_PRAGMA,
    RULES,
    SecretsConfig,
    github_checksum_ok,
    is_lock_file,
    redact,
    scan_bytes,
    scan_files,
    scan_text,
    shannon_entropy,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _seeded_values() -> None:
    """Each test draws the same random secrets whatever runs before it."""
    corpus._rng.seed(os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0])


def scan(text: str, path: str = "app/settings.py", **config: object) -> list[Finding]:
    return scan_text(text, path, config=SecretsConfig(**config))  # type: ignore[arg-type]


def rules(text: str, path: str = "app/settings.py", **config: object) -> list[str]:
    return [f.rule for f in scan(text, path, **config)]


def fields(finding: Finding) -> list[str]:
    """Every field a finding shows or stores, as text (the file path is the caller's)."""
    shown = [finding.message, finding.rule, finding.fix or "", finding.tool]
    shown += [f"{k}={v}" for k, v in finding.extra.items()]
    return shown + [repr(replace(finding, file=None))]


# The fixed words of findings: a random "secret" equal to one of them is in every finding.
BOILERPLATE = " ".join(
    [repr(scan_text(f"KEY={corpus.aws_key_id()}", "a.env")[0])]
    + ["database-url generic-secret postgres URL with a password for user 'svc'"]
    + ["high-entropy value assigned to characters bits/character"]
)


def assert_never_in_full(findings: list[Finding], secret: str) -> None:
    for finding in findings:
        for text in fields(finding):
            assert secret not in text, (finding.rule, text)


# --------------------------------------------------------------------------- corpus


def test_corpus_has_enough_cases_of_each_kind() -> None:
    assert len(corpus.POSITIVES) >= 40
    assert len(corpus.NEGATIVES) >= 40
    assert len({c.name for c in corpus.CASES}) == len(corpus.CASES)
    kinds = {c.rule for c in corpus.POSITIVES}
    assert kinds == set(RULES), set(RULES) ^ kinds


def test_corpus_secrets_are_in_their_documented_formats() -> None:
    for case in corpus.POSITIVES:
        assert case.secret and case.secret in case.text, case.name
        if case.secret.startswith(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")):
            assert len(case.secret) == 40 and github_checksum_ok(case.secret), case.name
        if case.rule == "aws-access-key-id":
            assert len(case.secret) == 20 and case.secret[:4] in {"AKIA", "ASIA"}


def corpus_lines() -> dict[str, list[int]]:
    return {
        case.name: [f.line or 0 for f in scan_text(case.text, case.path, config=DEFAULT_CONFIG)]
        for case in corpus.CASES
    }


def test_precision_and_recall_over_the_corpus() -> None:
    score = corpus.evaluate(corpus_lines())
    print(
        f"\nsecrets corpus: precision {score.precision:.3f} recall {score.recall:.3f} "
        f"(tp {score.true_positives}, fn {score.false_negatives}, fp {score.false_positives})"
    )
    assert score.precision >= 0.95, score.false_alarms
    assert score.recall >= 0.95, score.missed


@pytest.mark.parametrize("case", corpus.POSITIVES, ids=lambda c: c.name)
def test_each_corpus_secret_is_found_by_its_rule_and_never_shown(case: corpus.Case) -> None:
    found = scan_text(case.text, case.path, config=DEFAULT_CONFIG)
    assert [(f.rule, f.line) for f in found] == [(case.rule, case.line)]
    assert found[0].category is Category.SECRET and found[0].tool == "secrets"
    assert_never_in_full(found, case.secret)


@pytest.mark.parametrize("case", corpus.NEGATIVES, ids=lambda c: c.name)
def test_each_look_alike_stays_quiet(case: corpus.Case) -> None:
    assert scan_text(case.text, case.path, config=DEFAULT_CONFIG) == []


def test_the_corpus_and_the_scanner_are_quiet_in_this_repository_scan() -> None:
    paths = [
        "tests/security/secrets_corpus.py",
        "tests/security/test_secrets.py",
        "amoskys/security/secrets.py",
        "bench/bench_secrets.py",
    ]
    assert scan_files(REPO, paths, config=DEFAULT_CONFIG) == []


# --------------------------------------------------------------------------- rules


def test_aws_access_key_ids() -> None:
    key = corpus.aws_key_id()
    (found,) = scan(f"AWS_ACCESS_KEY_ID={key}\n", ".env")
    assert found.rule == "aws-access-key-id" and found.severity is Severity.HIGH
    assert found.extra["redacted"] == f"AKIA\u2026{key[-2:]}"
    assert (found.line, found.column) == (1, 19)
    temporary = corpus.aws_key_id("ASIA")
    assert "temporary" in scan(f'"AccessKeyId": "{temporary}"', "c.json")[0].message
    assert rules("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n", ".env") == []
    assert rules(f"X{key}\n", "a.txt") == []  # inside a longer word
    assert rules(f"{key}9\n", "a.txt") == []


def test_aws_secret_access_keys_need_their_name() -> None:
    value = corpus.aws_secret()
    (found,) = scan(f"aws_secret_access_key = {value}\n", "credentials")
    assert found.rule == "aws-secret-access-key" and found.severity is Severity.CRITICAL
    assert rules(f"blob = {value}\n", "notes.txt") == []
    example = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert rules(f"aws_secret_access_key = {example}\n", "credentials") == []


def test_github_tokens_and_their_checksum() -> None:
    for prefix in ("ghp", "gho", "ghu", "ghs", "ghr"):
        token = corpus.github_classic(prefix)
        (found,) = scan(f"TOKEN={token}\n", ".env")
        assert found.rule == "github-token" and found.extra["checksum"] == "valid"
        assert found.extra["redacted"] == f"{prefix}_\u2026{token[-2:]}"
    token = corpus.github_classic("ghp")
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert not github_checksum_ok(broken)
    assert rules(f"TOKEN={broken}\n", ".env") == []
    (unchecked,) = scan(f"TOKEN={broken}\n", ".env", verify_checksums=False)
    assert unchecked.extra["checksum"] == "invalid"
    longer = "ghp_" + corpus.rand(corpus.ALNUM, 60)  # GitHub reserved lengths up to 255
    assert rules(f"TOKEN={longer}\n", ".env") == ["github-token"]
    pat = f"github_pat_{corpus.rand(corpus.ALNUM, 22)}_{corpus.rand(corpus.ALNUM, 59)}"
    (fine,) = scan(f"export GH_PAT={pat}\n", "run.sh")
    assert fine.rule == "github-token" and fine.message.endswith(f"github_pat_\u2026{pat[-2:]}")


def test_github_checksum_matches_the_documented_algorithm() -> None:
    # CRC-32 of the 30 random characters, base 62 (0-9A-Za-z), left-padded to 6.
    assert github_checksum_ok("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")
    assert not github_checksum_ok("ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0MlQ17")
    assert not github_checksum_ok("ghp_short")


def test_gitlab_tokens() -> None:
    for prefix in ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glcbt-", "gloas-"):
        token = prefix + corpus.rand(corpus.ALNUM, 24)
        (found,) = scan(f"token: {token}.\n", "ci.yml")  # the sentence's full stop stays out
        assert found.rule == "gitlab-token"
        assert found.extra["length"] == len(token)
    runner = "GR1348941" + corpus.rand(corpus.ALNUM, 20)
    assert rules(f"registration-token = {runner}\n", "runner.toml") == ["gitlab-token"]
    assert rules("GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx\n", ".env") == []


def test_slack_tokens_and_webhooks() -> None:
    bot = f"xoxb-{corpus.rand('0123456789', 12)}-{corpus.rand('0123456789', 13)}-"
    bot += corpus.rand(corpus.ALNUM, 24)
    (found,) = scan(f'WebClient(token="{bot}")\n', "bot.py")
    assert found.rule == "slack-token" and found.extra["redacted"] == f"xoxb-\u2026{bot[-2:]}"
    hook = f"https://hooks.slack.com/services/T{corpus.rand(corpus.UPPER_ALNUM, 10)}/"
    hook += f"B{corpus.rand(corpus.UPPER_ALNUM, 10)}/{corpus.rand(corpus.ALNUM, 24)}"
    (web,) = scan(f"api_url: {hook}\n", "alerts.yml")
    assert web.rule == "slack-webhook-url"
    assert web.extra["redacted"] == f"https://hooks.slack.com/services/\u2026{hook[-2:]}"
    placeholder = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert rules(f"url: {placeholder}\n", "docs.md") == []
    assert rules("SLACK_BOT_TOKEN=xoxb-your-bot-token\n", ".env") == []


def test_stripe_keys_live_test_and_publishable() -> None:
    live = "sk_live_" + corpus.rand(corpus.ALNUM, 24)
    (found,) = scan(f'stripe.api_key = "{live}"\n', "billing.py")
    assert found.rule == "stripe-secret-key" and found.severity is Severity.CRITICAL
    test = "rk_test_" + corpus.rand(corpus.ALNUM, 24)
    (test_key,) = scan(f"KEY={test}\n", ".env")
    assert test_key.severity is Severity.MEDIUM and "restricted" in test_key.message
    publishable = "pk_live_" + corpus.rand(corpus.ALNUM, 24)
    assert rules(f'api_key = "{publishable}"\n', "web.py") == []  # not even as generic
    assert rules('stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"\n', "docs.py") == []


def test_google_and_pypi_keys() -> None:
    key = "AIza" + corpus.rand(corpus.ALNUM + "_-", 35)
    assert rules(f'apiKey: "{key}",\n', "firebase.js") == ["google-api-key"]
    assert rules(f"x{key}\n", "blob.txt") == []
    pypi = "pypi-AgEIcHlwaS5vcmc" + corpus.rand(corpus.BASE64URL, 100)
    assert rules(f"password = {pypi}\n", ".pypirc") == ["pypi-token"]


def test_private_key_blocks() -> None:
    block, first = corpus.pem("RSA", b"\x30\x82\x04\xa4", 1190)
    text = f"# deploy key\n{block}"
    (found,) = scan(text, "server.key")
    assert found.rule == "private-key" and found.severity is Severity.CRITICAL
    assert (found.line, found.column) == (2, 1)
    assert "(RSA)" in found.message
    assert_never_in_full([found], first)
    assert rules('if text.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n', "k.py") == []
    stub = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"
    assert rules(stub, "docs.md") == []
    public = block.replace("RSA PRIVATE", "PUBLIC")
    assert rules(public, "key.pub") == []
    pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
    pgp += corpus.pem_body(b"\x95\x03\xc6", 600) + "\n-----END PGP PRIVATE KEY BLOCK-----\n"
    assert rules(pgp, "key.asc") == ["private-key"]


def test_jwts_need_a_header_with_alg() -> None:
    token = corpus.jwt()
    (found,) = scan(f'jwt = "{token}"\n', "s.py")
    assert found.rule == "jwt" and found.extra["alg"] == "HS256"
    header = corpus.b64url(json.dumps({"typ": "JWT"}).encode())
    rest = token.split(".", 1)[1]
    assert rules(f"v = {header}.{rest}\n", "x.txt") == []
    none = corpus.b64url(b'{"alg":"none"}')
    assert rules(f"v = {none}.{rest}\n", "x.txt") == []
    assert rules(f"v = eyJ{corpus.rand(corpus.ALNUM, 20)}.{rest}\n", "x.txt") == []


@pytest.mark.parametrize(
    "scheme", ["postgres", "postgresql", "mysql", "mongodb", "mongodb+srv", "redis", "amqp"]
)
def test_database_urls_with_passwords(scheme: str) -> None:
    password = corpus.password(16)
    (found,) = scan(f"URL={scheme}://svc:{password}@db.internal:5432/app\n", ".env")
    assert found.rule == "database-url" and scheme in found.message
    assert_never_in_full([found], password)


@pytest.mark.parametrize(
    "password", ["password", "${DB_PASSWORD}", "$DB_PASSWORD", "{{ db_password }}", "", "svc"]
)
def test_database_urls_without_a_real_password(password: str) -> None:
    assert rules(f"URL=postgres://svc:{password}@db:5432/app\n", ".env") == []


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("app/settings.py", 'DB_PASSWORD = "{V}"'),
        ("app/settings.py", 'connect(host="db", password="{V}")'),
        ("app/settings.py", 'CONFIG = {"api_key": "{V}"}'),
        ("app/settings.py", '    client_secret: str = "{V}"'),
        ("config.yaml", "auth:\n  token: {V}"),
        ("config.yaml", 'privateKey: "{V}"'),
        ("config.json", '{"clientSecret": "{V}"}'),
        ("pyproject.toml", 'access_key = "{V}"'),
        (".env", "export APIKEY={V}"),
        ("settings.ini", "passwd = {V}"),
        ("run.sh", "deploy --password={V} --host prod"),
        ("app.js", 'const config = { apiKey: "{V}" };'),
        ("app/settings.py", 'URL = "https://api.example.com/v1?api_key={V}&q=1"'),
    ],
)
def test_generic_assignments_in_every_syntax(path: str, line: str) -> None:
    value = corpus.password(24)
    found = scan(line.replace("{V}", value) + "\n", path)
    assert [f.rule for f in found] == ["generic-secret"], line
    assert_never_in_full(found, value)


@pytest.mark.parametrize(
    "line",
    [
        'token_url = "https://oauth2.example.com/{V}"',
        'password_field = "{V}"',
        'author = "{V}"',
        'max_tokens = "{V}"',
        'secret_name = "{V}"',
        'access_key_id = "{V}"',
        'api_key = os.environ["{V}"]',
        "api_key = settings.{V}",
        'headers = {"X-Request-Id": "{V}"}',
    ],
)
def test_generic_ignores_names_and_values_that_are_not_secrets(line: str) -> None:
    value = corpus.password(24)
    assert rules(line.replace("{V}", value) + "\n") == [], line


@pytest.mark.parametrize(
    "value",
    [
        "hunter2hunter2",  # 2.8 bits: repetitive
        "aaaaaaaaaaaaaaaaaaaa",
        "deadbeefdeadbeefdeadbeef",  # hex, 2.2 bits
        "password_confirmation",
        "django.contrib.auth.backends.ModelBackend",
        "my-service-account-name",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "123e4567-e89b-42d3-a456-426614174000",
        "sha256:" + "ab" * 32,
        "P@ssw0rd!",
        "Tr0ub4dor&3",  # 11 characters: below the length floor
        "1234567890123456",
    ],
)
def test_generic_quiet_values(value: str) -> None:
    assert rules(f'password = "{value}"\n') == [], value


def test_entropy_thresholds_are_configurable() -> None:
    value = corpus.password(20)
    line = f'secret = "{value}"\n'
    assert rules(line) == ["generic-secret"]
    assert rules(line, base64_entropy=6.0) == []
    hex_value = corpus.rand(corpus.HEX, 40)
    assert rules(f'token = "{hex_value}"\n') == ["generic-secret"]
    assert rules(f'token = "{hex_value}"\n', hex_entropy=4.0) == []


def test_shannon_entropy_and_redaction() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("ab") == 1.0
    assert shannon_entropy("0123456789abcdef") == 4.0
    assert redact("AKIAABCDEFGHIJKLMNOP", 4) == "AKIA\u2026OP"
    assert redact("abcdefghijklmnopqrst") == "ab\u2026st"
    assert redact("abcdefghij") == "a\u2026j"
    assert redact("abcdef") == "\u2026"


def test_every_reported_rule_is_listed() -> None:
    assert "generic-secret" in RULES and "stripe-publishable-key" not in RULES
    for case in corpus.POSITIVES:
        assert case.rule in RULES


# --------------------------------------------------------------------------- suppression


def test_line_pragma_on_the_line_or_the_line_before() -> None:
    key = corpus.aws_key_id()
    assert rules(f"KEY={key}  # {LINE_PRAGMA}\n", "a.sh") == []
    assert rules(f"# {LINE_PRAGMA}\nKEY={key}\n", "a.sh") == []
    assert rules(f"# {LINE_PRAGMA}\n\nKEY={key}\n", "a.sh") == ["aws-access-key-id"]
    assert rules(f"KEY={key}\n# {LINE_PRAGMA}\n", "a.sh") == ["aws-access-key-id"]
    # A key block is suppressed by a pragma at its BEGIN line.
    block, _ = corpus.pem("EC", b"\x30\x77", 121)
    assert rules(f"# {LINE_PRAGMA}\n{block}", "k.pem") == []


def test_file_pragma_in_the_first_five_lines_only() -> None:
    key = corpus.aws_key_id()
    head = "\n" * 4
    assert rules(f"{head}# {FILE_PRAGMA}\nKEY={key}\n", "a.sh") == []
    assert rules(f"{head}\n# {FILE_PRAGMA}\nKEY={key}\n", "a.sh") == ["aws-access-key-id"]
    # The file pragma is not the line pragma's plural, and the other way round.
    assert rules(f"KEY={key}  # amoskys: allow-secrets\n", "a.sh") == ["aws-access-key-id"]


def test_allow_patterns_on_the_value_or_the_match() -> None:
    key = corpus.aws_key_id()
    assert rules(f"KEY={key}\n", "a.sh", allow_patterns=(f"^{key[:8]}",)) == []
    url = f"postgres://svc:{corpus.password(16)}@localhost:5432/app\n"
    assert rules(url, ".env", allow_patterns=("@localhost[:/]",)) == []
    assert rules(url, ".env", allow_patterns=("@prod[:/]",)) == ["database-url"]


def test_allow_paths_globs() -> None:
    text = f"KEY={corpus.aws_key_id()}\n"
    assert rules(text, "tests/fixtures/keys.env", allow_paths=("tests/*",)) == []
    assert rules(text, "deep/dir/x.pem", allow_paths=("*.pem",)) == []
    assert rules(text, "src/keys.env", allow_paths=("tests/*",)) == ["aws-access-key-id"]


def test_bad_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        SecretsConfig(allow_patterns=("(",))
    with pytest.raises(ConfigError, match="hex-entropy"):
        SecretsConfig(hex_entropy=5.0)
    with pytest.raises(ConfigError, match="base64-entropy"):
        SecretsConfig(base64_entropy=-1)
    with pytest.raises(ConfigError, match="max-file-bytes"):
        SecretsConfig(max_file_bytes=0)


def test_config_from_a_pyproject_table() -> None:
    config = SecretsConfig.from_mapping(
        {"allow-patterns": ["^sk_test_"], "allow-paths": ["docs/*"], "hex-entropy": 3.2}
    )
    assert config == SecretsConfig(
        allow_patterns=("^sk_test_",), allow_paths=("docs/*",), hex_entropy=3.2
    )
    with pytest.raises(ConfigError, match="unknown key"):
        SecretsConfig.from_mapping({"allow": []})
    with pytest.raises(ConfigError, match="list of strings"):
        SecretsConfig.from_mapping({"allow-paths": "docs/*"})
    with pytest.raises(ConfigError, match="true or false"):
        SecretsConfig.from_mapping({"verify-checksums": "yes"})


# --------------------------------------------------------------------------- files


def test_scan_files_skips_binary_large_missing_and_symlinked_files(tmp_path: Path) -> None:
    key = corpus.aws_key_id()
    line = f"KEY={key}\n".encode()
    (tmp_path / "plain.env").write_bytes(line)
    (tmp_path / "image.bin").write_bytes(b"\x89PNG\0\0" + line)
    (tmp_path / "late_nul.txt").write_bytes(line + b"x" * BINARY_SNIFF_BYTES + b"\0")
    (tmp_path / "big.txt").write_bytes(line + b"#" * 20_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.env").write_bytes(line)
    os.symlink(tmp_path / "plain.env", tmp_path / "link.env")
    paths = ["plain.env", "image.bin", "late_nul.txt", "big.txt", "missing.env", "sub"]
    paths += ["../outside.env", str(tmp_path / "plain.env")]
    paths += ["link.env", "sub/nested.env"]
    found = scan_files(tmp_path, paths, config=SecretsConfig(max_file_bytes=10_000))
    assert [(f.file, f.line) for f in found] == [
        ("plain.env", 1),
        ("late_nul.txt", 1),
        ("sub/nested.env", 1),
    ]


def test_scan_bytes_matches_scan_text() -> None:
    text = f"KEY={corpus.aws_key_id()}\n"
    assert scan_bytes(text.encode(), "a.env") == scan_text(text, "a.env")
    assert scan_bytes(b"\0" + text.encode(), "a.env") == []
    assert scan_bytes(text.encode() + b"\xff\xfe", "a.env") == scan_text(text, "a.env")


def test_lock_files_hash_lines_are_skipped_but_not_the_rest() -> None:
    assert is_lock_file("poetry.lock") and is_lock_file("frontend/package-lock.json")
    assert is_lock_file("requirements-dev.txt") and not is_lock_file("settings.py")
    password = corpus.password(16)
    text = (
        f'hash = "sha256:{corpus.rand(corpus.HEX, 64)}"\n'
        f'token = "{corpus.rand(corpus.HEX, 40)}"\n'
        f'url = "https://ci:{password}@pypi.internal/simple"\n'
        f'source = "postgres://ci:{password}@db/x"\n'
    )
    found = scan(text, "poetry.lock")
    assert [(f.rule, f.line) for f in found] == [("generic-secret", 2), ("database-url", 4)]


def test_a_huge_minified_line_scans_in_linear_time() -> None:
    line = ";".join(f'a{i}.token="t{i}",b.password=c' for i in range(40_000))  # ~1.3 MB
    started = time.perf_counter()
    assert scan(line + "\n", "bundle.min.js") == []
    assert time.perf_counter() - started < 5.0


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_hashes_the_line_with_the_secret_replaced() -> None:
    key = corpus.aws_key_id()
    (found,) = scan(f"KEY={key}\n", "a.env")
    assert found.fingerprint != fingerprint("secrets", found.rule, "a.env", f"KEY={key}")
    (moved,) = scan(f"# moved\n\n   KEY={key}\n", "a.env")
    assert moved.line == 3 and moved.fingerprint == found.fingerprint
    (other,) = scan(f"KEY={corpus.aws_key_id()}\n", "a.env")
    assert other.fingerprint != found.fingerprint


def test_two_keys_in_one_file_have_their_own_fingerprints() -> None:
    first, _ = corpus.pem("RSA", b"\x30\x82", 600)
    second, _ = corpus.pem("RSA", b"\x30\x82", 600)
    found = scan(first + second, "keys.pem")
    assert [f.line for f in found] == [1, 1 + first.count("\n")]
    assert found[0].fingerprint != found[1].fingerprint


# --------------------------------------------------------------------------- never in full


def _github(data: st.DataObject) -> str:
    body = data.draw(st.text(corpus.ALNUM, min_size=30, max_size=30))
    return f"ghp_{body}{corpus._b62(zlib.crc32(body.encode()), 6)}"


PLACEHOLDER_WORDS = ("xxxx", "test", "your", "example", "demo", "mock", "fake", "dummy")
PLACEHOLDER_WORDS += ("sample", "secret", "password", "123456", "abcdef", "lorem", "foobar")


def looks_random(secret: str) -> bool:
    """Not one of the shapes the scanner treats as a placeholder on purpose."""
    low = secret.lower()
    return (
        len(set(secret)) >= 12
        and shannon_entropy(secret) >= 3.5
        and not re.search(r"(.)\1{5}", secret)
        and not any(word in low for word in PLACEHOLDER_WORDS)
    )


PROVIDERS = {
    "aws": lambda d: "AKIA" + d.draw(st.text(corpus.BASE32, min_size=16, max_size=16)),
    "github": _github,
    "gitlab": lambda d: "glpat-" + d.draw(st.text(corpus.ALNUM, min_size=20, max_size=40)),
    "stripe": lambda d: "sk_live_" + d.draw(st.text(corpus.ALNUM, min_size=24, max_size=99)),
    "google": lambda d: "AIza" + d.draw(st.text(corpus.ALNUM + "_-", min_size=35, max_size=35)),
    "slack": lambda d: "xoxb-"
    + d.draw(st.text("0123456789", min_size=10, max_size=13))
    + "-"
    + d.draw(st.text(corpus.ALNUM, min_size=24, max_size=24)),
    "jwt": lambda d: corpus.b64url(b'{"alg":"HS256","typ":"JWT"}')
    + "."
    + corpus.b64url(d.draw(st.binary(min_size=12, max_size=60)))
    + "."
    + corpus.b64url(d.draw(st.binary(min_size=32, max_size=64))),
}
CONTEXTS = [
    ("app.py", 'TOKEN = "{S}"'),
    ("app.py", 'client = Client(api_key="{S}", timeout=3)'),
    ("c.yaml", "auth:\n  token: {S}"),
    ("c.json", '{"secret": "{S}"}'),
    (".env", "API_KEY={S}"),
    ("c.toml", 'password = "{S}"'),
    ("notes.md", "use {S} for the deploy"),
    ("c.ini", "passwd = {S}  ; prod"),
]


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    kind=st.sampled_from(sorted(PROVIDERS)),
    context=st.sampled_from(CONTEXTS),
    before=st.lists(st.text(st.characters(codec="utf-8"), max_size=40), max_size=3),
)
def test_provider_secrets_are_found_and_never_shown_in_full(
    data: st.DataObject, kind: str, context: tuple[str, str], before: list[str]
) -> None:
    secret = PROVIDERS[kind](data)
    path, template = context
    head = "".join(line.replace("\n", " ").replace("\r", " ") + "\n" for line in before)
    text = head + template.replace("{S}", secret) + "\n"
    found = scan_text(text, path, config=DEFAULT_CONFIG)
    assert_never_in_full(found, secret)
    if looks_random(secret):
        assert found, (kind, text)


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(
        st.characters(codec="ascii", categories=("L", "N", "P", "S"), exclude_characters="\"'\\"),
        min_size=8,
        max_size=64,
    ),
    context=st.sampled_from(CONTEXTS),
)
def test_generic_secrets_are_never_shown_in_full(secret: str, context: tuple[str, str]) -> None:
    assume(secret.lower() not in BOILERPLATE.lower())
    path, template = context
    text = template.replace("{S}", secret) + "\n"
    for url in (text, f"DSN=postgres://svc:{secret.replace('@', '')}@db/app\n"):
        found = scan_text(url, path, config=DEFAULT_CONFIG)
        assert_never_in_full(found, secret.replace("@", "") if "DSN" in url else secret)


def test_a_password_inside_the_user_name_is_still_cut_out() -> None:
    (found,) = scan("URL=mysql://Xy7pQz9kw:Xy7pQz9k@db.internal/app\n", ".env")
    assert found.rule == "database-url"
    assert_never_in_full([found], "Xy7pQz9k")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_wide_text_file_with_a_byte_order_mark_is_scanned(tmp_path: Path, encoding: str) -> None:
    """``echo KEY=... > .env`` in Windows PowerShell writes UTF-16 with a BOM: its NUL bytes
    made it 'binary', it was skipped, and the secrets gate passed over the key."""
    key = corpus.aws_key_id()
    (tmp_path / ".env").write_bytes(f"# local\r\nKEY={key}\r\n".encode(encoding))
    found = scan_files(tmp_path, [".env"], config=DEFAULT_CONFIG)
    assert [(f.file, f.line, f.rule) for f in found] == [(".env", 2, "aws-access-key-id")]
