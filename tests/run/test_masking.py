"""Secret masking: the forms GitHub masks, overlaps, threads and line assembly."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote

import pytest

from amoskys.run.masking import MAX_LINE_BYTES, MIN_SECRET_LENGTH, LineMasker, Masker


def masker_with(*secrets: str) -> Masker:
    masker = Masker()
    for secret in secrets:
        masker.add(secret)
    return masker


def test_no_secrets_leaves_text_alone() -> None:
    assert Masker().mask("nothing to hide") == "nothing to hide"


def test_every_occurrence_is_masked() -> None:
    masker = masker_with("hunter2")
    assert masker.mask("pw=hunter2, again hunter2.") == "pw=***, again ***."


def test_longest_secret_wins() -> None:
    masker = masker_with("abc", "abcdef")
    assert masker.mask("xabcdefg abc") == "x***g ***"


def test_overlapping_and_adjacent_occurrences_become_one_mask() -> None:
    masker = masker_with("abab")
    assert masker.mask("xababab-y") == "x***-y"
    overlapping = masker_with("hello", "lowkey")
    assert overlapping.mask("say hellowkey!") == "say ***!"
    assert masker_with("secret").mask("secretsecret") == "***"


def test_regex_metacharacters_are_literal() -> None:
    masker = masker_with("a.b*c(d)")
    assert masker.mask("a.b*c(d) axbbbcd") == "*** axbbbcd"


@pytest.mark.parametrize("value", ["", "ab", "  ", " x "])
def test_short_values_are_never_masked(value: str) -> None:
    assert len(value.strip()) < MIN_SECRET_LENGTH
    masker = masker_with(value)
    assert masker.mask("ab x a b") == "ab x a b"


def test_multi_line_secret_masks_each_line() -> None:
    key = "-----BEGIN KEY-----\r\nMIIEow\nIBAAKC\n\nxy\n-----END KEY-----"
    masker = masker_with(key)
    assert masker.mask("MIIEow") == "***"
    assert masker.mask("line IBAAKC end") == "line *** end"
    assert masker.mask("-----BEGIN KEY-----") == "***"
    assert masker.mask("xy and blank") == "xy and blank"  # too short to be a line secret


def test_base64_url_and_json_forms() -> None:
    secret = 'p@ss w/rd "quoted" \\ é'
    masker = masker_with(secret)
    b64 = base64.b64encode(secret.encode()).decode()
    assert masker.mask(f"b64={b64};") == "b64=***;"
    assert masker.mask(f"url={quote(secret, safe='')}") == "url=***"
    assert masker.mask(f"json={json.dumps(secret)[1:-1]}") == "json=***"
    assert masker.mask(json.dumps({"k": secret}, ensure_ascii=False)) == '{"k": "***"}'


@pytest.mark.parametrize("prefix", ["", "u", "us", "user:", "a-longer-user:"])
@pytest.mark.parametrize("suffix", ["", "\n", "!!", "trailing"])
def test_secret_inside_longer_base64_blob(prefix: str, suffix: str) -> None:
    secret = "s3cr3t-Value-42"
    masker = masker_with(secret)
    blob = base64.b64encode(f"{prefix}{secret}{suffix}".encode()).decode()
    masked = masker.mask(f"Authorization: Basic {blob}")
    assert "***" in masked
    visible = masked.replace("Authorization: Basic ", "").replace("***", "")
    # At most the characters shared with the prefix/suffix stay visible, never the secret's.
    assert len(visible) <= len(blob) - (len(secret) - 2) * 4 // 3 + 1


def test_add_is_idempotent_and_masking_sees_later_additions() -> None:
    masker = masker_with("first-secret")
    assert masker.mask("first-secret second-secret") == "*** second-secret"
    masker.add("second-secret")
    masker.add("second-secret")
    assert masker.mask("first-secret second-secret") == "*** ***"


def test_concurrent_add_and_mask() -> None:
    masker = Masker()
    errors: list[BaseException] = []
    stop = threading.Event()

    def mask_loop() -> None:
        try:
            while not stop.is_set():
                masker.mask("token-000 token-199 plain")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=mask_loop) for _ in range(3)]
    for worker in workers:
        worker.start()
    for number in range(200):
        masker.add(f"token-{number:03d}")
    stop.set()
    for worker in workers:
        worker.join()
    assert not errors
    assert masker.mask("token-000 token-199 plain") == "*** *** plain"


def collect(lines: LineMasker, *chunks: bytes | str) -> list[str]:
    out: list[str] = []
    for chunk in chunks:
        out.extend(lines.feed(chunk))
    out.extend(lines.flush())
    return out


def test_line_masker_joins_a_secret_split_across_reads() -> None:
    lines = LineMasker(masker_with("secret123"))
    assert collect(lines, b"token=sec", b"ret123\nnext ", b"line") == ["token=***", "next line"]


def test_line_masker_emits_only_complete_lines() -> None:
    lines = LineMasker()
    assert list(lines.feed(b"partial")) == []
    assert list(lines.feed(b" line\r\nsecond\n")) == ["partial line", "second"]
    assert list(lines.flush()) == []


def test_line_masker_utf8_split_across_reads() -> None:
    data = "café ☕ done\n".encode()
    cut = data.index("☕".encode()) + 1  # inside the 3-byte character
    assert collect(LineMasker(), data[:cut], data[cut:]) == ["café ☕ done"]
    assert collect(LineMasker(), b"bad \xff byte\n") == ["bad \ufffd byte"]


def test_line_masker_accepts_str_chunks() -> None:
    assert collect(LineMasker(masker_with("abc123")), "x abc", "123 y\nz") == ["x *** y", "z"]


def test_line_masker_masks_when_a_line_is_taken() -> None:
    masker = Masker()
    lines = LineMasker(masker)
    taken = lines.feed(b"::add-mask::letmein\nthe password is letmein\n")
    first = next(taken)
    assert first == "::add-mask::letmein"
    masker.add(first.removeprefix("::add-mask::"))
    assert list(taken) == ["the password is ***"]


def test_line_masker_bounds_a_line_without_newline() -> None:
    lines = LineMasker()
    big = "é" * MAX_LINE_BYTES  # 2 bytes each
    out = collect(lines, big.encode())
    assert len(out) >= 2
    assert "".join(out) == big  # pieces are cut on character boundaries
