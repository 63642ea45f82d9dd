"""The shared ``[tool.amoskys.<name>]`` reader: the table, its keys and typed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from amoskys.checks.settings import load_settings
from amoskys.config import load_config
from amoskys.config_section import read_tool_table, section
from amoskys.errors import ConfigError, Location
from amoskys.select.settings import load_select_config

WHERE = Location("pyproject.toml")


def test_the_tool_table_is_read_or_empty(tmp_path: Path) -> None:
    assert read_tool_table(tmp_path) == {}
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert read_tool_table(tmp_path) == {}
    (tmp_path / "pyproject.toml").write_text("tool = 1\n")  # no tables under it: nothing
    assert read_tool_table(tmp_path) == {}
    (tmp_path / "pyproject.toml").write_text("[tool.amoskys.retry]\nattempts = 1\n")
    assert read_tool_table(tmp_path) == {"retry": {"attempts": 1}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[tool.amoskys\n", "pyproject.toml is not valid TOML: "),
        (b"\xff\xfe[tool]\n", "pyproject.toml is not UTF-8 text"),
        (b"[tool]\namoskys = 1\n", "[tool.amoskys] must be a table"),
    ],
)
def test_every_reader_of_pyproject_gives_the_same_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    for reader in (read_tool_table, load_config, load_settings, load_select_config):
        with pytest.raises(ConfigError) as caught:
            reader(tmp_path)
        assert caught.value.message.startswith(message), reader
        assert str(caught.value.location) == "pyproject.toml"


def test_a_section_is_a_table_of_known_keys_with_the_readers_wording() -> None:
    assert section(None, "retry", WHERE, keys=("a",), hint="h").values == {}
    with pytest.raises(ConfigError) as caught:
        section("on", "retry", WHERE, keys=("a",), hint="write it so")
    assert (caught.value.message, caught.value.hint) == (
        "tool.amoskys.retry must be a table",
        "write it so",
    )
    with pytest.raises(ConfigError) as caught:
        section({"z": 1, "b": 2, "a": 3}, "retry", WHERE, keys=("a",), hint="h")
    assert (caught.value.message, caught.value.hint) == (
        "unknown key(s) in tool.amoskys.retry: b, z",
        "known: a",
    )
    with pytest.raises(ConfigError) as caught:
        section(
            {"z": 1, "b": 2},
            "select",
            WHERE,
            keys=("a", "c"),
            hint="h",
            unknown="unknown key {title}.{first}",
            known="the keys are {keys}",
        )
    assert (caught.value.message, caught.value.hint) == (
        "unknown key tool.amoskys.select.b",
        "the keys are a, c",
    )


def test_typed_values_default_and_say_what_would_be_right() -> None:
    table = section(
        {"n": 3, "x": 0.5, "on": True, "pick": "b", "globs": " a/** ", "bad": True},
        "t",
        WHERE,
        keys=("n", "x", "on", "pick", "globs", "bad", "absent"),
        hint="h",
    )
    assert table.whole("n", 0, valid=lambda n: n < 5, what="small") == 3
    assert table.whole("absent", 7, valid=lambda n: True, what="any") == 7
    assert table.number("x", 0.0, valid=lambda x: x < 1, what="a share") == 0.5
    assert table.number("n", 0.0, valid=lambda x: True, what="any") == 3.0
    assert table.flag("on", False) is True and table.flag("absent", False) is False
    assert table.choice("pick", "a", ("a", "b")) == "b"
    assert table.strings("globs", what="globs") == ("a/**",)
    assert table.strings("absent", what="globs") is None
    with pytest.raises(ConfigError) as caught:
        table.whole("bad", 0, valid=lambda n: True, what="a whole number", hint="e.g. 2")
    assert str(caught.value) == (
        "pyproject.toml: tool.amoskys.t.bad must be a whole number, got True; e.g. 2"
    )
    with pytest.raises(ConfigError, match=r"t.n must be below 2, got 3$"):
        table.whole("n", 0, valid=lambda n: n < 2, what="below 2")
    with pytest.raises(ConfigError, match="t.bad must be a share, got True"):
        table.number("bad", 0.0, valid=lambda x: True, what="a share")
    with pytest.raises(ConfigError, match="t.n must be true or false, got 3"):
        table.flag("n", False)
    with pytest.raises(ConfigError, match="t.pick must be one of x, y, got 'b'"):
        table.choice("pick", "x", ("x", "y"))
    with pytest.raises(ConfigError, match=r"t.n must be globs, got 3"):
        table.strings("n", what="globs")
