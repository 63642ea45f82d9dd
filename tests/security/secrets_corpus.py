# amoskys: allow-secrets-file -- this corpus holds secret-shaped strings on purpose.
"""A labelled corpus for the secret scanner: secrets in real formats, and look-alikes.

``POSITIVES`` are credentials in each provider's documented format, embedded in realistic code
and configuration lines. None of them is real: every one is drawn here, at import time, from a
seeded random generator (so the corpus is the same on every run and no token-shaped literal is
stored in the repository), with a valid checksum where the format has one (GitHub's classic
tokens: base-62 CRC-32 of the random part).

``NEGATIVES`` are strings a scanner must stay quiet on: git SHAs, UUIDs, lock-file hashes,
placeholders, AWS's documented example keys, base64 images, hex colours, long test ids,
``${{ secrets.X }}``, passwords read from the environment, JWT-shaped strings that are not JWTs.

The first line's ``amoskys: allow-secrets-file`` pragma keeps this project's own secret scan
from reporting the file. :func:`evaluate` scores any scanner's per-line results over the corpus
(the tests use it for ours, ``bench/bench_secrets.py --corpus`` for detect-secrets too).
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from dataclasses import dataclass
from typing import Iterable, Mapping

SEED = 0x5EC12E75
_rng = random.Random(SEED)  # nosec B311 - look-alike credentials, never real ones

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
BASE32 = string.ascii_uppercase + "234567"
BASE64 = ALNUM + "+/"
BASE64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PASSWORD_CHARS = ALNUM + "!*-_=+.^~"  # nothing that ends a value in .env, INI, URLs or YAML


@dataclass(frozen=True)
class Case:
    """One file: ``text`` at ``path``; for a positive, the ``rule`` and the ``secret`` in it."""

    name: str
    path: str
    text: str
    rule: str | None = None
    secret: str = ""
    marker: str = ""  # the text on the line a finding must point at, when not the secret

    @property
    def line(self) -> int:
        """The 1-based line of the secret (of ``marker`` when given); 0 for a look-alike."""
        needle = self.marker or self.secret
        if not needle:
            return 0
        return self.text[: self.text.index(needle)].count("\n") + 1


def rand(chars: str, size: int) -> str:
    return "".join(_rng.choice(chars) for _ in range(size))


def _b62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = B62[rest] + digits
    return digits.rjust(width, "0")


def github_classic(prefix: str) -> str:
    """``gh?_`` + 30 random base-62 characters + their CRC-32 in 6 base-62 characters."""
    body = rand(ALNUM, 30)
    return f"{prefix}_{body}{_b62(zlib.crc32(body.encode()), 6)}"


def aws_key_id(prefix: str = "AKIA") -> str:
    return prefix + rand(BASE32, 16)


def aws_secret() -> str:
    return rand(BASE64, 40)


def password(size: int = 20) -> str:
    while True:
        value = rand(PASSWORD_CHARS, size)
        if sum(c.isdigit() for c in value) >= 2 and sum(c.isalpha() for c in value) >= 8:
            return value


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(alg: str = "HS256", sig_bytes: int = 32) -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {
        "sub": rand(HEX, 24),
        "iss": "https://auth.internal.example",
        "iat": 1717000000 + _rng.randrange(10**6),
        "exp": 1718000000 + _rng.randrange(10**6),
        "scope": "read:builds write:artifacts",
    }
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64url(_rng.randbytes(sig_bytes))}"


def pem_body(der_prefix: bytes, size: int) -> str:
    raw = base64.b64encode(der_prefix + _rng.randbytes(size - len(der_prefix))).decode()
    return "\n".join(raw[i : i + 64] for i in range(0, len(raw), 64))


def pem(kind: str, der_prefix: bytes, size: int) -> tuple[str, str]:
    """A key block and its first body line (what a scanner should see)."""
    label = f"{kind} PRIVATE KEY" if kind else "PRIVATE KEY"
    body = pem_body(der_prefix, size)
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n", body.split("\n", 1)[0]


def _positives() -> tuple[Case, ...]:
    cases: list[Case] = []

    def add(name: str, path: str, template: str, rule: str, secret: str, marker: str = "") -> None:
        text = template.replace("{S}", secret)
        cases.append(Case(name, path, text, rule, secret, marker))

    # AWS
    add(
        "aws-id-dotenv",
        ".env",
        "AWS_REGION=eu-west-1\nAWS_ACCESS_KEY_ID={S}\n",
        "aws-access-key-id",
        aws_key_id(),
    )
    add(
        "aws-id-boto3",
        "deploy/upload.py",
        'import boto3\n\ns3 = boto3.client("s3", aws_access_key_id="{S}", region_name="eu")\n',
        "aws-access-key-id",
        aws_key_id(),
    )
    add(
        "aws-sts-json",
        "fixtures/assume_role.json",
        '{\n  "Credentials": {\n    "AccessKeyId": "{S}",\n    "Expiration": "2024-06-01T12:00:00Z"'
        "\n  }\n}\n",
        "aws-access-key-id",
        aws_key_id("ASIA"),
    )
    add(
        "aws-secret-ini",
        "ops/aws/credentials",
        "[default]\nregion = eu-central-1\naws_secret_access_key = {S}\n",
        "aws-secret-access-key",
        aws_secret(),
    )
    add(
        "aws-secret-python",
        "settings/prod.py",
        'AWS_STORAGE_BUCKET_NAME = "media-prod"\nAWS_SECRET_ACCESS_KEY = "{S}"\n',
        "aws-secret-access-key",
        aws_secret(),
    )
    add(
        "aws-secret-yaml",
        "serverless.yml",
        "provider:\n  name: aws\n  credentials:\n    secretAccessKey: {S}\n",
        "aws-secret-access-key",
        aws_secret(),
    )
    # GitHub
    add(
        "github-ghp-dotenv",
        ".env.local",
        "GITHUB_USER=ci-bot\nGITHUB_TOKEN={S}\n",
        "github-token",
        github_classic("ghp"),
    )
    add(
        "github-gho-json",
        "oauth/cache.json",
        '{"provider": "github", "access_token": "{S}", "scope": "repo"}\n',
        "github-token",
        github_classic("gho"),
    )
    add(
        "github-ghu-python",
        "tools/release.py",
        'HEADERS = {"Accept": "application/vnd.github+json", "Authorization": "token {S}"}\n',
        "github-token",
        github_classic("ghu"),
    )
    add(
        "github-ghs-yaml",
        ".github/workflows/sync.yml",
        "jobs:\n  sync:\n    env:\n      GH_TOKEN: {S}\n    steps:\n      - run: gh repo sync\n",
        "github-token",
        github_classic("ghs"),
    )
    add(
        "github-ghr-toml",
        "config/app.toml",
        '[github]\napp_id = 123456\nrefresh = "{S}"\n',
        "github-token",
        github_classic("ghr"),
    )
    add(
        "github-pat-shell",
        "scripts/bootstrap.sh",
        "#!/bin/sh\nexport GH_PAT={S}\ngh auth status\n",
        "github-token",
        f"github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}",
    )
    # GitLab
    add(
        "gitlab-pat-yaml",
        ".gitlab-ci.yml",
        "variables:\n  GITLAB_TOKEN: {S}\n  GIT_DEPTH: 10\n",
        "gitlab-token",
        "glpat-" + rand(ALNUM + "_-", 20),
    )
    add(
        "gitlab-deploy-dotenv",
        "deploy/.env",
        "REGISTRY=registry.gitlab.com\nDEPLOY_TOKEN={S}\n",
        "gitlab-token",
        "gldt-" + rand(ALNUM + "_-", 20),
    )
    add(
        "gitlab-runner-toml",
        "runner/config.toml",
        '[[runners]]\n  name = "builder"\n  url = "https://gitlab.com"\n  token = "{S}"\n',
        "gitlab-token",
        "glrt-" + rand(ALNUM + "_-", 20),
    )
    add(
        "gitlab-trigger-curl",
        "scripts/trigger.sh",
        'curl -X POST -F token={S} -F ref=main "$CI_API_V4_URL/projects/42/trigger/pipeline"\n',
        "gitlab-token",
        "glptt-" + rand(HEX, 40),
    )
    # Slack
    add(
        "slack-bot-python",
        "bot/notify.py",
        'from slack_sdk import WebClient\n\nclient = WebClient(token="{S}")\n',
        "slack-token",
        f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}",
    )
    add(
        "slack-user-yaml",
        "config/slack.yaml",
        "slack:\n  user_token: {S}\n  channel: '#builds'\n",
        "slack-token",
        f"xoxp-{rand(string.digits, 12)}-{rand(string.digits, 12)}-{rand(string.digits, 13)}-"
        f"{rand(HEX, 32)}",
    )
    add(
        "slack-app-dotenv",
        ".env",
        "SLACK_APP_TOKEN={S}\nSLACK_SOCKET_MODE=1\n",
        "slack-token",
        f"xapp-1-A{rand(UPPER_ALNUM, 10)}-{rand(string.digits, 13)}-{rand(HEX, 64)}",
    )
    add(
        "slack-webhook-python",
        "alerts/slack.py",
        'import requests\n\nrequests.post("{S}", json={"text": "build failed"}, timeout=10)\n',
        "slack-webhook-url",
        f"https://hooks.slack.com/services/T{rand(UPPER_ALNUM, 10)}/B{rand(UPPER_ALNUM, 10)}/"
        f"{rand(ALNUM, 24)}",
    )
    add(
        "slack-webhook-yaml",
        "monitoring/alertmanager.yml",
        "receivers:\n  - name: team\n    slack_configs:\n      - api_url: {S}\n",
        "slack-webhook-url",
        f"https://hooks.slack.com/services/T{rand(UPPER_ALNUM, 8)}/B{rand(UPPER_ALNUM, 10)}/"
        f"{rand(ALNUM, 24)}",
    )
    # Stripe
    add(
        "stripe-live-python",
        "billing/client.py",
        'import stripe\n\nstripe.api_key = "{S}"\n',
        "stripe-secret-key",
        "sk_live_" + rand(ALNUM, 24),
    )
    add(
        "stripe-restricted-dotenv",
        ".env.production",
        "STRIPE_RESTRICTED_KEY={S}\n",
        "stripe-secret-key",
        "rk_live_" + rand(ALNUM, 99),
    )
    add(
        "stripe-test-json",
        "config/payments.json",
        '{\n  "stripe": {\n    "mode": "test",\n    "secret": "{S}"\n  }\n}\n',
        "stripe-secret-key",
        "sk_test_" + rand(ALNUM, 24),
    )
    # Google
    add(
        "google-firebase-js",
        "web/src/firebase.js",
        'const firebaseConfig = {\n  apiKey: "{S}",\n  projectId: "shop-prod",\n};\n',
        "google-api-key",
        "AIza" + rand(ALNUM + "_-", 35),
    )
    add(
        "google-python",
        "geo/maps.py",
        'MAPS_URL = "https://maps.googleapis.com/maps/api/geocode/json?key={S}"\n',
        "google-api-key",
        "AIza" + rand(ALNUM + "_-", 35),
    )
    # PyPI
    add(
        "pypi-pypirc",
        ".pypirc",
        "[pypi]\nusername = __token__\npassword = {S}\n",
        "pypi-token",
        "pypi-AgEIcHlwaS5vcmc" + rand(BASE64URL, 120),
    )
    # Private keys
    rsa, rsa_line = pem("RSA", b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00", 1192)
    add("private-rsa-pem", "certs/server.key", rsa, "private-key", rsa_line, "-----BEGIN RSA")
    ssh, ssh_line = pem("OPENSSH", b"openssh-key-v1\x00\x00\x00\x00\x04none", 400)
    add(
        "private-openssh",
        "deploy/id_ed25519",
        ssh,
        "private-key",
        ssh_line,
        "-----BEGIN OPENSSH",
    )
    ec, ec_line = pem("EC", b"\x30\x77\x02\x01\x01\x04\x20", 121)
    ec_yaml = "tls:\n  key: |\n" + "".join(f"    {line}\n" for line in ec.splitlines())
    add("private-ec-yaml", "helm/values.yaml", ec_yaml, "private-key", ec_line, "-----BEGIN EC")
    pk8, pk8_line = pem("", b"\x30\x82\x04\xbd\x02\x01\x00\x30\x0d\x06\x09", 1217)
    escaped = pk8.replace("\n", "\\n")
    add(
        "private-service-account-json",
        "gcp/service-account.json",
        '{\n  "type": "service_account",\n  "project_id": "shop-prod",\n'
        '  "private_key": "' + escaped + '",\n  "client_email": "ci@shop-prod.iam.example"\n}\n',
        "private-key",
        pk8_line,
        '"private_key"',
    )
    # JWTs
    add(
        "jwt-python",
        "tests/e2e/session.py",
        'SESSION = {"user": "ops", "jwt": "{S}"}\n',
        "jwt",
        jwt(),
    )
    add(
        "jwt-curl",
        "docs/api.sh",
        'curl -H "Authorization: Bearer {S}" https://api.internal.example/v1/builds\n',
        "jwt",
        jwt("RS256", 256),
    )
    # Database URLs
    add(
        "db-postgres-dotenv",
        ".env",
        "DATABASE_URL=postgres://app:{S}@db.internal:5432/app\n",
        "database-url",
        password(18),
    )
    add(
        "db-mysql-sqlalchemy",
        "app/db.py",
        'engine = create_engine("mysql+pymysql://shop:{S}@10.0.4.12:3306/shop")\n',
        "database-url",
        password(14),
    )
    add(
        "db-mongo-yaml",
        "k8s/configmap.yaml",
        "data:\n  MONGO_URI: mongodb+srv://reporting:{S}@cluster0.ab1cd.mongodb.net/prod\n",
        "database-url",
        password(24),
    )
    add(
        "db-redis-ini",
        "celery.ini",
        "[broker]\nurl = redis://:{S}@cache.internal:6379/0\n",
        "database-url",
        password(32),
    )
    add(
        "db-amqp-toml",
        "worker.toml",
        '[queue]\nbroker = "amqps://worker:{S}@mq.internal:5671/prod"\n',
        "database-url",
        password(20),
    )
    # Generic assignments
    add(
        "generic-django-secret",
        "mysite/settings.py",
        'DEBUG = False\nSECRET_KEY = "{S}"\nALLOWED_HOSTS = ["shop.example"]\n',
        "generic-secret",
        rand(ALNUM + "!@#%^*(-_=+)", 50),
    )
    add(
        "generic-client-secret-yaml",
        "config/oauth.yml",
        "oauth:\n  client_id: shop-web\n  client_secret: {S}\n",
        "generic-secret",
        rand(HEX, 40),
    )
    add(
        "generic-api-key-json",
        "config/partners.json",
        '{"partner": "acme", "api_key": "{S}", "timeout": 30}\n',
        "generic-secret",
        rand(ALNUM, 32),
    )
    add(
        "generic-password-toml",
        "config/db.toml",
        '[database]\nhost = "db.internal"\npassword = "{S}"\n',
        "generic-secret",
        password(16),
    )
    add(
        "generic-dotenv-password",
        ".env",
        "DB_HOST=db.internal\nDB_PASSWORD={S}\n",
        "generic-secret",
        password(20),
    )
    add(
        "generic-ini-passwd",
        "conf/ldap.ini",
        "[ldap]\nbind_dn = cn=admin,dc=shop\npasswd = {S}\n",
        "generic-secret",
        password(16),
    )
    add(
        "generic-python-kwarg",
        "etl/load.py",
        'conn = psycopg.connect(host="db.internal", user="etl", password="{S}")\n',
        "generic-secret",
        password(22),
    )
    add(
        "generic-auth-token-yaml",
        "config/metrics.yaml",
        'exporter:\n  auth_token: "{S}"\n',
        "generic-secret",
        rand(BASE64URL, 43),
    )
    add(
        "generic-annotated-python",
        "svc/config.py",
        'class Settings:\n    api_token: str = "{S}"\n',
        "generic-secret",
        rand(ALNUM, 40),
    )
    add(
        "generic-legacy-github-hex",
        "scripts/mirror.py",
        'GITHUB_TOKEN = "{S}"\n',
        "generic-secret",
        rand(HEX, 40),
    )
    add(
        "generic-basic-auth-http",
        "requests/deploy.http",
        "POST https://deploy.internal/api/release\nAuthorization: Basic {S}\n",
        "generic-secret",
        base64.b64encode(f"deployer:{password(16)}".encode()).decode(),
    )
    add(
        "generic-npmrc",
        ".npmrc",
        "//registry.npmjs.org/:_authToken={S}\n",
        "generic-secret",
        "npm_" + rand(ALNUM, 36),
    )
    add(
        "generic-properties-private-key",
        "src/main/resources/application.properties",
        "app.name=shop\napp.signing.private_key={S}\n",
        "generic-secret",
        rand(HEX, 64),
    )
    return tuple(cases)


def _png_data_uri() -> str:
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _rng.randbytes(420)
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def _bad_checksum_github() -> str:
    token = github_classic("ghp")
    last = "A" if token[-1] != "A" else "B"
    return token[:-1] + last


def _negatives() -> tuple[Case, ...]:
    sha = rand(HEX, 40)
    sha256 = rand(HEX, 64)
    uuid = f"{rand(HEX, 8)}-{rand(HEX, 4)}-4{rand(HEX, 3)}-a{rand(HEX, 3)}-{rand(HEX, 12)}"
    not_jwt_header = b64url(json.dumps({"typ": "JWT", "kid": rand(HEX, 8)}).encode())
    not_jwt_payload = b64url(json.dumps({"a": 1, "b": 2}).encode())
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    none_payload = b64url(json.dumps({"sub": "42", "admin": True}).encode())
    items: list[tuple[str, str, str]] = [
        ("sha-uses", ".github/workflows/ci.yml", f"    - uses: actions/checkout@{sha}\n"),
        ("sha-json", "tests/fixtures/push_event.json", f'{{"after": "{sha}", "sha": "{sha}"}}\n'),
        ("sha-commit-python", "amoskys_version.py", f'commit = "{rand(HEX, 40)}"\n'),
        ("sha-precommit-rev", ".pre-commit-config.yaml", f"  - repo: local\n    rev: {sha}\n"),
        ("sha256-docker-digest", "compose.yaml", f"image: python@sha256:{sha256}\n"),
        ("uuid-request-id", "api/handlers.py", f'REQUEST_ID = "{uuid}"\n'),
        ("uuid-idempotency-token", "payments/retry.py", f'idempotency_token = "{uuid}"\n'),
        (
            "poetry-lock-hash",
            "poetry.lock",
            f'files = [\n    {{file = "click-8.1.7.whl", hash = "sha256:{sha256}"}},\n]\n',
        ),
        (
            "requirements-hash",
            "requirements.txt",
            f"click==8.1.7 \\\n    --hash=sha256:{rand(HEX, 64)} \\\n"
            f"    --hash=sha256:{rand(HEX, 64)}\n",
        ),
        (
            "package-lock-integrity",
            "package-lock.json",
            '    "node_modules/left-pad": {\n      "version": "1.3.0",\n'
            f'      "integrity": "sha512-{rand(BASE64, 86)}=="\n    }}\n',
        ),
        ("placeholder-changeme", "config/dev.py", 'DB_PASSWORD = "changeme"\n'),
        (
            "placeholder-password",
            "docker-compose.yml",
            "    environment:\n      password: password\n",
        ),
        ("placeholder-xxx", "README.md", 'Set `api_key = "xxxxxxxxxxxxxxxxxxxxxxxx"` in config.\n'),
        ("placeholder-angle", "docs/setup.md", "export GITHUB_TOKEN=<token>\n"),
        (
            "placeholder-dummy",
            "tests/test_client.py",
            'client = Client(secret="dummy-secret-value")\n',
        ),
        ("placeholder-your-key", ".env.example", "STRIPE_SECRET_KEY=your-stripe-secret-key-here\n"),
        ("placeholder-test", "tests/conftest.py", 'PASSWORD = "test-password-123"\n'),
        ("placeholder-fake", "tests/test_auth.py", 'token = "fake-token-for-unit-tests"\n'),
        ("aws-example-id", ".env.example", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"),
        (
            "aws-example-secret",
            "docs/aws.md",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        ),
        ("png-data-uri", "web/style.css", f".logo {{ background: url({_png_data_uri()}); }}\n"),
        ("hex-colour", "theme.yaml", 'primary_color: "#1f6feb"\ntoken_color: "#ff8800"\n'),
        (
            "long-test-id",
            "reports/junit.xml",
            '<testcase classname="tests.test_auth.TestTokens" '
            'name="test_token_refresh_with_expired_credentials_and_retry[param-3]"/>\n',
        ),
        (
            "gha-secret-expression",
            ".github/workflows/deploy.yml",
            "        env:\n          DB_PASSWORD: ${{ secrets.DB_PASSWORD }}\n"
            "          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n",
        ),
        ("env-lookup-python", "app/settings.py", 'password = os.environ["DB_PASSWORD"]\n'),
        ("env-getenv-python", "app/settings.py", 'api_key = os.getenv("API_KEY", "")\n'),
        ("gitlab-ci-variable", ".gitlab-ci.yml", "  script:\n    - login --token $CI_JOB_TOKEN\n"),
        ("dotenv-reference", ".env.example", "DB_PASSWORD=${DB_PASSWORD}\n"),
        ("empty-string", "config/local.py", 'SMTP_PASSWORD = ""\n'),
        (
            "jwt-like-no-alg",
            "tests/fixtures/blob.txt",
            f"value = {not_jwt_header}.{not_jwt_payload}.{rand(BASE64URL, 30)}\n",
        ),
        (
            "jwt-like-undecodable",
            "tests/fixtures/ids.txt",
            f"eyJ{rand(BASE64URL, 30)}.{rand(BASE64URL, 40)}.{rand(BASE64URL, 43)}\n",
        ),
        (
            "jwt-io-example",
            "docs/auth.md",
            "Example: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
            "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n",
        ),
        (
            "jwt-alg-none",
            "tests/fixtures/unsigned.txt",
            f"{none_header}.{none_payload}.{rand(BASE64URL, 20)}\n",
        ),
        (
            "stripe-publishable",
            "web/checkout.js",
            f'const stripe = Stripe("pk_live_{rand(ALNUM, 24)}");\n',
        ),
        (
            "stripe-docs-test-key",
            "docs/payments.md",
            'stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"\n',
        ),
        (
            "db-url-placeholder",
            "alembic.ini",
            "sqlalchemy.url = postgres://user:password@localhost/db\n",
        ),
        (
            "db-url-env",
            "compose.yaml",
            "      DATABASE_URL: postgresql://postgres:${POSTGRES_PASSWORD}@db:5432/app\n",
        ),
        ("db-url-no-password", "celery.py", 'BROKER_URL = "redis://localhost:6379/0"\n'),
        ("db-url-default-root", "docker/.env", "MYSQL_URL=mysql://root:root@127.0.0.1:3306/test\n"),
        (
            "private-key-marker-in-code",
            "keys/parse.py",
            'def is_key(text):\n    return text.startswith("-----BEGIN RSA PRIVATE KEY-----")\n',
        ),
        (
            "private-key-docs-stub",
            "docs/tls.md",
            "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
        ),
        (
            "public-key-block",
            "keys/signing.pub",
            "-----BEGIN PUBLIC KEY-----\n" + pem_body(b"\x30\x82\x01\x22\x30\x0d", 294) + "\n"
            "-----END PUBLIC KEY-----\n",
        ),
        (
            "ssh-public-key",
            "deploy/authorized_keys",
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rand(BASE64, 43)} deploy@ci\n",
        ),
        ("identifier-value", "forms.py", 'password_field = "password_confirmation"\n'),
        ("url-value", "oauth.py", 'token_url = "https://oauth2.googleapis.com/token"\n'),
        ("path-value", "ssh.py", 'private_key_path = "~/.ssh/id_ed25519"\n'),
        (
            "dotted-value",
            "settings.py",
            'AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"\n',
        ),
        ("secret-name", "k8s/deploy.yaml", "        secretName: prod-db-credentials\n"),
        (
            "slack-webhook-placeholder",
            "docs/alerts.md",
            "url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
        ),
        ("slack-token-placeholder", "docs/bot.md", "SLACK_BOT_TOKEN=xoxb-your-bot-token\n"),
        (
            "github-bad-checksum",
            "tests/test_tokens.py",
            f'NOT_A_TOKEN = "{_bad_checksum_github()}"\n',
        ),
        (
            "github-placeholder",
            "docs/ci.md",
            "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        ),
        ("etag-hex", "api/cache.py", f'etag = "{rand(HEX, 32)}"\nchecksum = "{rand(HEX, 64)}"\n'),
        ("token-type", "oauth.py", 'token_type = "Bearer"\nmax_tokens = 4096\n'),
        ("masked-password", "config/example.json", '{"user": "admin", "password": "********"}\n'),
        (
            "yarn-lock-checksum",
            "yarn.lock",
            f'"left-pad@^1.3.0":\n  version "1.3.0"\n  checksum: {rand(HEX, 128)}\n',
        ),
        ("python-attr-value", "app/client.py", "api_key = settings.API_KEY\n"),
        ("getpass", "cli.py", 'password = getpass.getpass("Password: ")\n'),
        (
            "font-data",
            "web/fonts.css",
            f'src: url("data:font/woff2;base64,{rand(BASE64, 200)}");\n',
        ),
        ("author", "pyproject.toml", 'authors = [{name = "Jane Doe"}]\nauthor = "Jane Q. Doe"\n'),
        (
            "leet-password",
            "tests/fixtures/users.yaml",
            "users:\n  - name: alice\n    password: P@ssw0rd!\n",
        ),
        ("auth-method", "config/ldap.yaml", "auth_method: kerberos\nauth_realm: CORP.EXAMPLE\n"),
    ]
    return tuple(Case(name, path, text) for name, path, text in items)


POSITIVES: tuple[Case, ...] = _positives()
NEGATIVES: tuple[Case, ...] = _negatives()
CASES: tuple[Case, ...] = POSITIVES + NEGATIVES


@dataclass(frozen=True)
class Score:
    """Precision and recall over the corpus, with the cases behind the misses."""

    true_positives: int
    false_negatives: int
    false_positives: int
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        total = self.true_positives + self.false_negatives
        return self.true_positives / total if total else 1.0


def evaluate(lines_by_case: Mapping[str, Iterable[int]]) -> Score:
    """Score a scanner from the lines it reported in each case (by case name).

    A positive counts as found when the scanner reported its secret's line; every other
    reported line, in a positive or a look-alike, is a false positive (several findings on one
    line count once, for any scanner).
    """
    tp = fn = fp = 0
    missed: list[str] = []
    alarms: list[str] = []
    for case in CASES:
        lines = set(lines_by_case.get(case.name, ()))
        if case.rule is not None:
            if case.line in lines:
                tp += 1
                lines.discard(case.line)
            else:
                fn += 1
                missed.append(case.name)
        if lines:
            fp += len(lines)
            alarms.append(f"{case.name}:{','.join(map(str, sorted(lines)))}")
    return Score(tp, fn, fp, tuple(missed), tuple(alarms))
