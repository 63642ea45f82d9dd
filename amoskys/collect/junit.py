"""JUnit XML -> :class:`~amoskys.store.records.TestCaseResult`.

Reads pytest's ``--junitxml`` output (xunit2, and xunit1 with ``file``/``line``) and the common
variants: a ``<testsuites>`` or a ``<testsuite>`` root, nested suites, ``<failure>``,
``<error>``, ``<skipped>``, ``time`` (seconds). A test case is ``failed`` when it has a
``<failure>``, else ``error`` with an ``<error>``, else ``skipped`` with a ``<skipped>``, else
``passed`` (pytest writes a failing test whose teardown also errors as one case with both).

Re-runs follow Maven Surefire's convention, which Amoskys's pytest probe writes too: a case that
passed with ``<flakyFailure>``/``<flakyError>`` children failed first and passed on a re-run: it
is ``flaky``, never ``passed``; ``<rerunFailure>``/``<rerunError>`` children of a failed case are
its earlier failed attempts (it stays ``failed``). The message says how many attempts failed.

The test id is the pytest node id when it can be derived:

* from a ``file`` attribute (testcase, else the enclosing testsuite):
  ``file::Class::name``, with the class part being what the classname adds to the module;
* otherwise from the classname (pytest writes ``tests.test_x.TestA`` for
  ``tests/test_x.py::TestA``): with ``root`` given, the longest dotted prefix that is a ``.py``
  file under ``root`` is the module; otherwise (no ``root``, or pytest's rootdir was a
  subfolder of it) the module ends at the last part not starting with an uppercase letter,
  and is accepted only when that part looks like a pytest test module (``test_*``,
  ``*_test``, ``*_tests``) or is ``conftest``;
* pytest's collection errors (empty classname, ``name="tests.test_broken"``) map to
  ``tests/test_broken.py``.

Anything else keeps ``classname::name`` (or ``name``) and ``file=None``. Parametrised names
(``test_b[1-2]``) are kept whole. The ``line`` attribute has no place in the record and is
dropped.

A file that is unsafe, malformed or truncated gives a :class:`CollectWarning`, with the test cases
read before the problem still returned.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # elements only  # nosec B405
from collections.abc import Callable, Mapping
from pathlib import Path

from amoskys.collect import CollectWarning, XmlError, local_name, xml_events
from amoskys.store.records import TestCaseResult

MAX_MESSAGE_CHARS = 16 * 1024
"""Failure/error/skip text kept per test case; longer text is cut (the head is kept)."""

_TEST_MODULE = re.compile(r"^(test_\w*|\w+_tests?|conftest)$")
_ROOTS = ("testsuites", "testsuite")
_RERUN_TAGS = {
    "flakyFailure": "flaky",
    "flakyError": "flaky",
    "rerunFailure": "rerun",
    "rerunError": "rerun",
}


def parse_junit(
    path: Path,
    *,
    root: Path | None = None,
    mask: Callable[[str], str] | None = None,
) -> tuple[list[TestCaseResult], list[CollectWarning]]:
    """Test cases in the JUnit report at ``path``, and what was wrong with it.

    ``root`` (the project folder the tests ran in) lets classnames be checked against real
    files; ``mask`` (e.g. :meth:`amoskys.run.masking.Masker.mask`) is applied to messages.
    Never raises for a bad report.
    """
    results: list[TestCaseResult] = []
    warnings: list[CollectWarning] = []
    suites: list[Mapping[str, str]] = []
    seen_root = False
    try:
        for event, element in xml_events(path):
            tag = local_name(element.tag)
            if event == "start":
                if not seen_root:
                    seen_root = True
                    if tag not in _ROOTS:
                        warnings.append(
                            CollectWarning(path, f"not a JUnit report (root element <{tag}>)")
                        )
                        return results, warnings
                if tag == "testsuite":
                    suites.append(dict(element.attrib))
            elif tag == "testcase":
                results.append(_case(element, suites, root, mask))
                element.clear()
            elif tag == "testsuite" and suites:
                suites.pop()
    except XmlError as error:
        kept = f"; kept the {len(results)} test cases read before it" if results else ""
        warnings.append(CollectWarning(path, f"{error}{kept}"))
    return results, warnings


def _case(
    element: ET.Element,
    suites: list[Mapping[str, str]],
    root: Path | None,
    mask: Callable[[str], str] | None,
) -> TestCaseResult:
    name = element.get("name", "")
    classname = element.get("classname", "")
    outcome = "passed"
    found: dict[str, list[ET.Element]] = {}
    for child in element:
        kind = local_name(child.tag)
        if kind in ("failure", "error", "skipped"):
            found.setdefault(kind, []).append(child)
        elif kind in _RERUN_TAGS:
            found.setdefault(_RERUN_TAGS[kind], []).append(child)
    if "failure" in found:
        outcome = "failed"
    elif "error" in found:
        outcome = "error"
    elif "skipped" in found:
        outcome = "skipped"
    elif "flaky" in found:
        outcome = "flaky"
    sections = [
        _message(child) for kind in ("failure", "error", "skipped") for child in found.get(kind, [])
    ]
    if outcome == "flaky":
        first = _message(found["flaky"][0])
        sections = [f"passed on re-run {len(found['flaky'])} after failing: {first}".rstrip()]
    elif found.get("rerun") and outcome in ("failed", "error"):
        sections.insert(0, f"failed on {len(found['rerun'])} re-run(s) too")
    message = "\n\n".join(section for section in sections if section)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "\n... (cut)"
    if mask is not None and message:
        message = mask(message)
    file_attr = element.get("file") or next(
        (suite["file"] for suite in reversed(suites) if suite.get("file")), None
    )
    file, test_id = derive_test_id(classname, name, file_attr, root)
    return TestCaseResult(
        test_id=test_id,
        file=file,
        name=name,
        classname=classname,
        outcome=outcome,
        duration=_seconds(element.get("time")),
        message=message,
    )


def _message(child: ET.Element) -> str:
    attr = (child.get("message") or "").strip()
    details = (child.text or "").strip()
    head = attr.splitlines()[0] if attr else ""
    if not head:
        return details
    if not details or details == head:
        return head
    return f"{head}\n{details}"


def _seconds(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        return 0.0
    if value != value or value < 0 or value == float("inf"):  # NaN, negative, infinite
        return 0.0
    return value


def _normal_file(file: str) -> str:
    file = file.replace("\\", "/")
    while file.startswith("./"):
        file = file[2:]
    return file


def derive_test_id(
    classname: str, name: str, file_attr: str | None, root: Path | None = None
) -> tuple[str | None, str]:
    """``(file, test_id)`` for one test case (see the module docstring for the rules)."""
    parts = [part for part in classname.split(".") if part] if classname else []
    if file_attr:
        file = _normal_file(file_attr)
        if not file.endswith(".py"):
            return file, "::".join(piece for piece in (file, classname, name) if piece)
        module = file[: -len(".py")].replace("/", ".")
        if classname == module:
            class_parts: list[str] = []
        elif classname.startswith(module + "."):
            class_parts = classname[len(module) + 1 :].split(".")
        else:
            class_parts = _trailing_classes(parts)
        return file, "::".join([file, *class_parts, name])

    if not parts and "." in name and "[" not in name:
        # pytest's collection error: classname="" and name = the module's dotted path
        module_file = _module_file(name.split("."), root)
        if module_file is not None:
            return module_file, module_file

    split = _split_module(parts, root)
    if split is not None:
        file, class_parts = split
        return file, "::".join([file, *class_parts, name])
    if classname:
        return None, f"{classname}::{name}"
    return None, name


def _trailing_classes(parts: list[str]) -> list[str]:
    classes: list[str] = []
    for part in reversed(parts):
        if not part[:1].isupper():
            break
        classes.insert(0, part)
    return classes


def _module_file(parts: list[str], root: Path | None) -> str | None:
    """``a/b/c.py`` for ``[a, b, c]`` when it is a file under ``root`` or looks like a test."""
    if not parts:
        return None
    candidate = "/".join(parts) + ".py"
    if root is not None and (root / candidate).is_file():
        return candidate
    return candidate if _TEST_MODULE.match(parts[-1]) else None


def _split_module(parts: list[str], root: Path | None) -> tuple[str, list[str]] | None:
    if not parts:
        return None
    if root is not None:
        for end in range(len(parts), 0, -1):
            candidate = "/".join(parts[:end]) + ".py"
            if (root / candidate).is_file():
                return candidate, parts[end:]
    end = len(parts)
    while end > 0 and parts[end - 1][:1].isupper():
        end -= 1
    found = _module_file(parts[:end], None)
    if found is None:
        return None
    return found, parts[end:]
