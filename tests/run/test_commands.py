"""Workflow commands, environment files and the step summary (amoskys.run.commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amoskys.errors import AmoskysError
from amoskys.run.commands import (
    STEP_SUMMARY_LIMIT,
    Annotation,
    CommandOutcome,
    CommandProcessor,
    StepSummaryTooLargeError,
    WorkflowCommand,
    annotation_from_command,
    drop_blocked_env,
    escape_data,
    escape_property,
    format_command,
    parse_command,
    parse_env_file,
    parse_github_env,
    parse_path_file,
    prepend_paths,
    step_summary_markdown,
    unescape_data,
    unescape_property,
)

# --- parsing --------------------------------------------------------------------------------


def test_parse_plain_lines_are_not_commands() -> None:
    assert parse_command("hello") is None
    assert parse_command("") is None
    assert parse_command("echo ::error::x") is None  # must start the line
    assert parse_command("::error no second separator") is None
    assert parse_command("::unknown-thing::x") is None
    assert parse_command("::::x") is None


def test_parse_error_with_every_property() -> None:
    line = "::error file=app.js,line=1,col=5,endLine=1,endColumn=7,title=A title::Missing semicolon"
    command = parse_command(line)
    assert command == WorkflowCommand(
        "error",
        {
            "file": "app.js",
            "line": "1",
            "col": "5",
            "endline": "1",
            "endcolumn": "7",
            "title": "A title",
        },
        "Missing semicolon",
    )


def test_parse_is_case_insensitive_and_trims_leading_space_and_line_end() -> None:
    command = parse_command("   ::WARNING FILE=a.py,Line=3::Careful\r\n")
    assert command is not None
    assert command.name == "warning"
    assert dict(command.properties) == {"file": "a.py", "line": "3"}
    assert command.message == "Careful"


def test_parse_ignores_pairs_without_key_or_value_and_keeps_equals_in_value() -> None:
    command = parse_command("::notice a=,=b,,c=d=e, title=x::m")
    assert command is not None
    # ' title' keeps its space: GitHub does not trim keys, so it is a different key.
    assert dict(command.properties) == {"c": "d=e", " title": "x"}


def test_parse_message_may_hold_colons() -> None:
    command = parse_command("::notice::a::b: c")
    assert command is not None and command.message == "a::b: c"


def test_properties_are_read_only() -> None:
    command = parse_command("::error file=x::m")
    assert command is not None
    with pytest.raises(TypeError):
        command.properties["file"] = "y"  # type: ignore[index]


# --- escaping -------------------------------------------------------------------------------


def test_escaping_as_documented() -> None:
    assert escape_data("50%\r\nnext: a, b") == "50%25%0D%0Anext: a, b"
    assert escape_property("50%\r\nnext: a, b") == "50%25%0D%0Anext%3A a%2C b"
    assert unescape_data("%250A") == "%0A"
    assert unescape_data("a%3Ab%2Cc") == "a%3Ab%2Cc"  # data does not unescape : and ,
    assert unescape_property("a%3Ab%2Cc%0a") == "a:b,c%0a"  # hex is upper-case only


@given(st.text())
def test_data_round_trip(text: str) -> None:
    assert unescape_data(escape_data(text)) == text


@given(st.text())
def test_property_round_trip(text: str) -> None:
    assert unescape_property(escape_property(text)) == text


@given(
    st.text(),
    st.text(min_size=1),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1),
)
def test_format_then_parse_round_trip(message: str, title: str, file: str) -> None:
    line = format_command("error", {"title": title, "file": file}, message)
    assert "\n" not in line and "\r" not in line
    command = parse_command(line)
    assert command is not None
    assert command.message == message
    assert dict(command.properties) == {"title": title, "file": file}


def test_multiline_message_from_escapes() -> None:
    outcome = CommandProcessor().feed("::error::first%0Asecond%25")
    assert outcome.annotation is not None
    assert outcome.annotation.message == "first\nsecond%"


# --- annotations ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["error", "warning", "notice"])
def test_annotation_commands(level: str) -> None:
    outcome = CommandProcessor().feed(
        f"::{level} file=app.js,line=1,col=5,endColumn=7,title=YOUR-TITLE::Missing semicolon"
    )
    assert outcome.annotation == Annotation(
        level, "Missing semicolon", "app.js", 1, 5, None, 7, "YOUR-TITLE"
    )
    assert outcome.display == f"{level.capitalize()}: app.js:1:5: YOUR-TITLE: Missing semicolon"
    assert outcome.mask is None and outcome.error is None


def test_annotation_without_properties() -> None:
    outcome = CommandProcessor().feed("::warning::Just a warning")
    assert outcome.annotation == Annotation("warning", "Just a warning")
    assert outcome.display == "Warning: Just a warning"


def _annotation(props: str) -> Annotation:
    command = parse_command(f"::error {props}::m")
    assert command is not None
    return annotation_from_command(command)


@pytest.mark.parametrize(
    ("props", "line", "end_line", "col", "end_column"),
    [
        ("line=3,endLine=5", 3, 5, None, None),
        ("endLine=4", 4, 4, None, None),  # endLine alone also sets line
        ("line=2,endColumn=9", 2, None, 9, 9),  # endColumn alone also sets col
        ("col=4", None, None, None, None),  # columns need a line
        ("line=1,endLine=3,col=2,endColumn=5", 1, 3, None, None),  # multi-line: no columns
        ("line=5,endLine=3", None, None, None, None),  # backwards range dropped
        ("line=5,col=7,endColumn=2", 5, None, None, None),
        ("line=x,col=y", None, None, None, None),  # not numbers
        ("line=0", None, None, None, None),
        ("line= 12 ", 12, None, None, None),
    ],
)
def test_annotation_positions_are_sanitised_like_github(
    props: str, line: int | None, end_line: int | None, col: int | None, end_column: int | None
) -> None:
    annotation = _annotation(props)
    assert (annotation.line, annotation.end_line, annotation.col, annotation.end_column) == (
        line,
        end_line,
        col,
        end_column,
    )


def test_annotation_text_without_file() -> None:
    assert str(Annotation("notice", "hi", line=3)) == "Notice: line 3: hi"


# --- masks, debug, groups, echo -------------------------------------------------------------


def test_add_mask_never_shows_the_secret() -> None:
    processor = CommandProcessor()
    outcome = processor.feed("::add-mask::s3cr3t value\n")
    assert outcome == CommandOutcome(display=None, mask="s3cr3t value")


def test_add_mask_with_echo_shows_stars_only() -> None:
    outcome = CommandProcessor(echo=True).feed("::add-mask::s3cr3t")
    assert outcome.mask == "s3cr3t"
    assert outcome.display == "::add-mask::***"


def test_add_mask_multiline_secret_is_unescaped() -> None:
    assert CommandProcessor().feed("::add-mask::line1%0Aline2").mask == "line1\nline2"


def test_add_mask_empty_is_a_warning() -> None:
    outcome = CommandProcessor().feed("::add-mask::   ")
    assert outcome.mask is None
    assert outcome.annotation is not None and outcome.annotation.level == "warning"


def test_debug_hidden_unless_step_debug() -> None:
    quiet = CommandProcessor().feed("::debug::Set the Octocat variable")
    assert quiet == CommandOutcome(display=None, debug="Set the Octocat variable")
    loud = CommandProcessor(debug=True).feed("::debug::Set the Octocat variable")
    assert loud.display == "Debug: Set the Octocat variable"
    assert loud.debug == "Set the Octocat variable"


def test_groups_and_nesting() -> None:
    processor = CommandProcessor()
    start = processor.feed("::group::My title")
    assert start == CommandOutcome(display="[group] My title", group="My title")
    assert processor.feed("Inside group").display == "Inside group"
    inner = processor.feed("::group::")
    assert inner.group == "" and inner.display == "[group]"
    assert processor.group_depth == 2
    assert processor.feed("::endgroup::") == CommandOutcome(end_group=True)
    assert processor.feed("::endgroup::").end_group
    assert processor.group_depth == 0
    stray = processor.feed("::endgroup::")
    assert stray == CommandOutcome()


def test_echo_on_shows_command_lines() -> None:
    processor = CommandProcessor()
    assert processor.feed("::echo::on") == CommandOutcome()  # echo was off for this one
    assert processor.echo
    assert processor.feed("::group::G").display == "::group::G\n[group] G"
    assert processor.feed("::endgroup::").display == "::endgroup::"
    # Annotations and debug never echo their raw line.
    assert processor.feed("::warning::w").display == "Warning: w"
    assert processor.feed("::debug::d").display is None
    assert processor.feed("::echo::OFF ").display == "::echo::OFF "
    assert not processor.echo
    assert processor.feed("::group::H").display == "[group] H"


def test_step_debug_starts_with_echo_on() -> None:
    assert CommandProcessor(debug=True).echo
    assert not CommandProcessor(debug=True, echo=False).echo


def test_echo_bad_value_is_an_error() -> None:
    outcome = CommandProcessor().feed("::echo::maybe")
    assert outcome.error is not None and "'on' or 'off'" in outcome.error


def test_problem_matchers_are_ignored_with_a_debug_note() -> None:
    outcome = CommandProcessor().feed("::add-matcher::.github/matcher.json")
    assert outcome.display is None and outcome.error is None
    assert outcome.debug is not None and "problem matchers" in outcome.debug


def test_unknown_command_is_shown_as_is() -> None:
    assert CommandProcessor().feed("::not-a-command::x\n").display == "::not-a-command::x"


# --- stop-commands --------------------------------------------------------------------------


def test_stop_commands_until_token() -> None:
    processor = CommandProcessor()
    assert processor.feed("::stop-commands::tok-123").display == "::stop-commands::tok-123"
    assert processor.stopped
    for line in ("::warning::not a warning", "::add-mask::x", "::set-output name=a::b"):
        assert processor.feed(line) == CommandOutcome(display=line)
    assert processor.feed("::other-token::").display == "::other-token::"
    assert processor.stopped
    assert processor.feed("::TOK-123::") == CommandOutcome(display="::TOK-123::")
    assert not processor.stopped
    assert processor.feed("::warning::again").annotation == Annotation("warning", "again")


def test_stop_commands_token_may_be_a_command_name() -> None:
    processor = CommandProcessor()
    processor.feed("::stop-commands::warning")
    assert processor.feed("::warning::resumes").annotation is None
    assert processor.feed("::error::now").annotation == Annotation("error", "now")


def test_stop_commands_without_token_stops_for_good() -> None:
    processor = CommandProcessor()
    outcome = processor.feed("::stop-commands::")
    assert outcome.annotation is not None and outcome.annotation.level == "warning"
    assert processor.feed("::::").display == "::::"
    assert processor.feed("::error::x").annotation is None
    assert processor.stopped


# --- refused commands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "file"),
    [
        ("::set-output name=result::42", "$GITHUB_OUTPUT"),
        ("::set-env name=FOO::bar", "$GITHUB_ENV"),
        ("::add-path::/opt/tool/bin", "$GITHUB_PATH"),
        ("::save-state name=pid::12", "$GITHUB_STATE"),
        ("::SET-OUTPUT name=x::y", "$GITHUB_OUTPUT"),
    ],
)
def test_removed_commands_are_refused(line: str, file: str) -> None:
    outcome = CommandProcessor(echo=True).feed(line)
    assert outcome.error is not None
    assert file in outcome.error and "disabled" in outcome.error
    assert outcome.display is None and outcome.mask is None and outcome.annotation is None


def test_refusal_names_the_output_but_not_its_value() -> None:
    outcome = CommandProcessor().feed("::set-output name=token::hunter2")
    assert outcome.error is not None
    assert 'echo "token=value" >> "$GITHUB_OUTPUT"' in outcome.error
    assert "hunter2" not in outcome.error


def test_add_path_refusal_shows_the_replacement() -> None:
    outcome = CommandProcessor().feed("::add-path::/opt/tool/bin")
    assert outcome.error is not None
    assert 'echo "/opt/tool/bin" >> "$GITHUB_PATH"' in outcome.error


# --- environment files ----------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "env") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_env_simple_and_later_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, "A=1\nB=two words\n\nA=3\nEMPTY=\n")
    assert parse_env_file(path) == {"A": "3", "B": "two words", "EMPTY": ""}


def test_env_value_with_equals_and_heredoc_marker(tmp_path: Path) -> None:
    path = _write(tmp_path, "URL=a=b&c=d\nCMD=cat <<EOF\nX=1<<2\n")
    assert parse_env_file(path) == {"URL": "a=b&c=d", "CMD": "cat <<EOF", "X": "1<<2"}


def test_env_multiline_custom_delimiters(tmp_path: Path) -> None:
    text = (
        "JSON<<ghadelimiter_5f3e\n"
        '{\n  "a": "x=y",\n  "b": "EOF"\n}\n'
        "ghadelimiter_5f3e\n"
        "NOTE<<EOF\nline with = and << inside\n EOF\nEOFX\nEOF\n"
        "EMPTY<<END\nEND\n"
        "BLANKS<<END\n\n\nEND\n"
        "AFTER=1\n"
    )
    assert parse_env_file(_write(tmp_path, text)) == {
        "JSON": '{\n  "a": "x=y",\n  "b": "EOF"\n}',
        "NOTE": "line with = and << inside\n EOF\nEOFX",
        "EMPTY": "",
        "BLANKS": "\n",
        "AFTER": "1",
    }


def test_env_heredoc_delimiter_may_contain_equals(tmp_path: Path) -> None:
    # '<<' before '=': a heredoc whose delimiter is 'a=b'.
    path = _write(tmp_path, "X<<a=b\nvalue\na=b\n")
    assert parse_env_file(path) == {"X": "value"}


def test_env_last_delimiter_without_newline(tmp_path: Path) -> None:
    assert parse_env_file(_write(tmp_path, "M<<EOF\nhello\nworld\nEOF")) == {"M": "hello\nworld"}


def test_env_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, "A=1\r\nM<<EOF\r\nx\r\ny\r\nEOF\r\nB=2\r\n")
    # CR before each line break is a line ending; inside the value the lines keep CRLF.
    assert parse_env_file(path) == {"A": "1", "M": "x\r\ny", "B": "2"}


def test_env_value_keeps_a_lone_cr(tmp_path: Path) -> None:
    assert parse_env_file(_write(tmp_path, "P=50%\rdone\n")) == {"P": "50%\rdone"}


def test_env_utf8_bom_and_utf16(tmp_path: Path) -> None:
    bom = tmp_path / "bom"
    bom.write_bytes("\ufeffA=é\n".encode("utf-8"))
    assert parse_env_file(bom) == {"A": "é"}
    wide = tmp_path / "wide"
    wide.write_bytes("B=ü\r\n".encode("utf-16"))  # Windows PowerShell 5.1's default
    assert parse_env_file(wide) == {"B": "ü"}


def test_env_missing_or_empty_file(tmp_path: Path) -> None:
    assert parse_env_file(tmp_path / "absent") == {}
    assert parse_env_file(_write(tmp_path, "")) == {}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("A=1\n=oops\n", 2, "no name before '='"),
        ("A=1\n\nB=2\njust text\n", 4, "expected NAME=value or NAME<<DELIMITER"),
        ("<<EOF\nx\nEOF\n", 1, "no name before '<<'"),
        ("A=1\nM<<\nx\n", 2, "no delimiter after '<<'"),
        ("A=1\nM<<EOF\nx\nEOF \n", 2, "no end delimiter"),
        ("M<<EOF\nx\r\n", 1, "no end delimiter"),
    ],
)
def test_env_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(AmoskysError) as caught:
        parse_env_file(path)
    error = caught.value
    assert error.location is not None
    assert error.location.path == str(path) and error.location.line == line
    assert words in error.message
    assert str(error).startswith(f"{path}:{line}: ")


def test_env_error_for_missing_delimiter_says_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError) as caught:
        parse_env_file(_write(tmp_path, "BODY<<END_OF_BODY\ntext\n"))
    assert "'END_OF_BODY'" in caught.value.message
    assert caught.value.hint is not None and "END_OF_BODY" in caught.value.hint


def test_env_error_quotes_long_lines_briefly(tmp_path: Path) -> None:
    with pytest.raises(AmoskysError) as caught:
        parse_env_file(_write(tmp_path, "x" * 500 + "\n"))
    assert len(caught.value.message) < 120


def test_github_env_blocks_node_options(tmp_path: Path) -> None:
    path = _write(tmp_path, "A=1\nNODE_OPTIONS=--require evil.js\nnode_options=x\nB=2\n")
    values, problems = parse_github_env(path)
    assert values == {"A": "1", "B": "2"}
    assert [p.level for p in problems] == ["error", "error"]
    assert "NODE_OPTIONS" in problems[0].message and "$GITHUB_ENV" in problems[0].message
    assert drop_blocked_env({"PATHX": "1"}) == ({"PATHX": "1"}, [])


def test_outputs_keep_node_options(tmp_path: Path) -> None:
    # The block list is for $GITHUB_ENV only; an output may be called anything.
    assert parse_env_file(_write(tmp_path, "NODE_OPTIONS=x\n")) == {"NODE_OPTIONS": "x"}


# --- GITHUB_PATH ----------------------------------------------------------------------------


def test_path_last_line_first(tmp_path: Path) -> None:
    path = _write(tmp_path, "/first\n\n/second\r\n   \n/third dir\n", "path")
    assert parse_path_file(path) == ["/third dir", "/second", "/first"]


def test_path_duplicate_keeps_last_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "/a\n/b\n/a\n", "path")
    assert parse_path_file(path) == ["/a", "/b"]


def test_path_missing_file(tmp_path: Path) -> None:
    assert parse_path_file(tmp_path / "absent") == []


def test_prepend_paths_newer_steps_first() -> None:
    assert prepend_paths(["/b", "/a"], ["/c", "/a"]) == ["/c", "/a", "/b"]
    assert prepend_paths([], ["/x"]) == ["/x"]


# --- step summary ---------------------------------------------------------------------------


def test_summary_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "### Hello world! :rocket:\n", "summary")
    assert step_summary_markdown(path) == "### Hello world! :rocket:\n"
    assert step_summary_markdown(tmp_path / "deleted") == ""


def test_summary_at_the_limit_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "x" * STEP_SUMMARY_LIMIT, "summary")
    assert len(step_summary_markdown(path)) == STEP_SUMMARY_LIMIT


def test_summary_over_the_limit_is_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path, "x" * (STEP_SUMMARY_LIMIT * 2), "summary")
    with pytest.raises(StepSummaryTooLargeError) as caught:
        step_summary_markdown(path)
    error = caught.value
    assert isinstance(error, AmoskysError)
    assert error.size == STEP_SUMMARY_LIMIT * 2
    assert "2048k" in error.message and "1024k" in error.message
    assert error.annotation.level == "error"
