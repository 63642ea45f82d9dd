"""Values of the GitHub Actions expression language: kinds, coercions, comparisons, text forms.

Values are plain JSON-like Python objects: ``None``, ``bool``, ``int``/``float``, ``str``,
mappings (objects) and lists/tuples (arrays). The rules follow GitHub's evaluator: loose
equality in the manner of JavaScript's ``==`` except that strings compare case-insensitively
(ordinal, upper-case folding) and objects/arrays are equal only to themselves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import lru_cache
from typing import Any

__all__ = [
    "FilteredArray",
    "Kind",
    "format_number",
    "get_member",
    "index_value",
    "is_truthy",
    "kind_of",
    "loose_equal",
    "loose_greater",
    "loose_less",
    "parse_number",
    "to_display_string",
    "to_json_text",
    "to_number",
    "upper_ordinal",
]

INT32_MAX = 2**31 - 1
_UINT32_MAX = 2**32 - 1
_MAX_EXACT_INT = 2**53

# Characters .NET's Char.IsWhiteSpace accepts: what GitHub trims and skips.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_OCT_DIGITS = frozenset("01234567")
_INFINITIES = {"Infinity": math.inf, "+Infinity": math.inf, "-Infinity": -math.inf}


class Kind(Enum):
    """The six kinds of value the language knows."""

    NULL = "Null"
    BOOLEAN = "Boolean"
    NUMBER = "Number"
    STRING = "String"
    ARRAY = "Array"
    OBJECT = "Object"


class FilteredArray(list[Any]):
    """The result of an object filter (``.*`` / ``[*]``); further indexing maps over items."""


_EXACT_KINDS: dict[type, Kind] = {
    type(None): Kind.NULL,
    bool: Kind.BOOLEAN,
    int: Kind.NUMBER,
    float: Kind.NUMBER,
    str: Kind.STRING,
    dict: Kind.OBJECT,
    list: Kind.ARRAY,
    tuple: Kind.ARRAY,
    FilteredArray: Kind.ARRAY,
}


def kind_of(value: Any) -> Kind:
    """The kind of a value; anything unknown is an opaque object."""
    exact = _EXACT_KINDS.get(type(value))
    if exact is not None:
        return exact
    if value is None:
        return Kind.NULL
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, (int, float)):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    if isinstance(value, Mapping):
        return Kind.OBJECT
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return Kind.ARRAY
    return Kind.OBJECT


def is_primitive(value: Any) -> bool:
    """Null, boolean, number or string."""
    return kind_of(value) in (Kind.NULL, Kind.BOOLEAN, Kind.NUMBER, Kind.STRING)


def as_float(value: int | float) -> float:
    """A number as a double, as GitHub stores every number (huge ints become infinities)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def is_truthy(value: Any) -> bool:
    """GitHub's truthiness: null, false, 0, -0, NaN and '' are falsy; everything else truthy."""
    kind = kind_of(value)
    if kind is Kind.NULL:
        return False
    if kind is Kind.BOOLEAN:
        return bool(value)
    if kind is Kind.NUMBER:
        number = as_float(value)
        return not (number == 0 or math.isnan(number))
    if kind is Kind.STRING:
        return bool(value != "")
    return True


def parse_number(text: str) -> float:
    """Coerce a string to a number the way GitHub does (JavaScript ``Number()``-like).

    Surrounding whitespace is ignored, the empty string is 0, decimal/exponent notation,
    ``0x`` hex and ``0o`` octal (32-bit, two's complement like .NET's Int32) and
    ``Infinity``/``-Infinity`` are accepted; anything else is NaN.
    """
    text = text.strip(WHITESPACE)
    if not text:
        return 0.0
    if _DECIMAL.match(text):
        return float(text)
    if len(text) > 2 and text[0] == "0" and text[1] in "xo":
        digits = text[2:]
        allowed, base = (_HEX_DIGITS, 16) if text[1] == "x" else (_OCT_DIGITS, 8)
        if all(ch in allowed for ch in digits):
            return _int32_from_digits(digits, base)
        return math.nan
    return _INFINITIES.get(text, math.nan)


def _int32_from_digits(digits: str, base: int) -> float:
    """Parse hex/octal digits as .NET does: up to 32 bits, wrapped to a signed Int32."""
    stripped = digits.lstrip("0")
    if len(stripped) > 11:  # certainly more than 32 bits, skip the big-int work
        return math.nan
    value = int(stripped or "0", base)
    if value > _UINT32_MAX:
        return math.nan
    return float(value - 2**32 if value > INT32_MAX else value)


def to_number(value: Any) -> float:
    """Coerce any value to a number: null 0, booleans 0/1, strings parsed, others NaN."""
    kind = kind_of(value)
    if kind is Kind.NULL:
        return 0.0
    if kind is Kind.BOOLEAN:
        return 1.0 if value else 0.0
    if kind is Kind.NUMBER:
        return as_float(value)
    if kind is Kind.STRING:
        return parse_number(value)
    return math.nan


def literal_number(number: float) -> int | float:
    """A parsed number as a Python value: integral finite values become ``int``."""
    if math.isfinite(number) and number.is_integer() and abs(number) < _MAX_EXACT_INT:
        return int(number)
    return number


def format_number(value: int | float) -> str:
    """Format a number as GitHub does (.NET ``G15``): ``1``, ``0.5``, ``1.23456789012346E+19``."""
    number = as_float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    return format(number, ".15g").replace("e", "E")


def to_display_string(value: Any) -> str:
    """Coerce a value to a string as ``format()``, ``join()`` and interpolation do.

    Null is '', booleans ``true``/``false``, numbers as GitHub formats them; an array is
    ``Array`` and an object ``Object`` (interpolation writes containers as JSON instead).
    """
    kind = kind_of(value)
    if kind is Kind.NULL:
        return ""
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.STRING:
        return str(value)
    return str(kind.value)


@lru_cache(maxsize=4096)
def _upper_char(ch: str) -> str:
    """Simple (one-to-one) upper-case mapping of one character, as .NET's ordinal folding."""
    if ch == "\u0131":  # dotless i is not folded by OrdinalIgnoreCase
        return ch
    upper = ch.upper()
    return upper if len(upper) == 1 else ch


def upper_ordinal(text: str) -> str:
    """Fold a string for case-insensitive ordinal comparison (keeps its length)."""
    if text.isascii():
        return text.upper()
    return "".join(_upper_char(ch) for ch in text)


def _utf16_order(left: str, right: str) -> int:
    """Compare two strings by UTF-16 code units, as .NET does: -1, 0 or 1."""
    if max(left, default="") >= "\ud800" or max(right, default="") >= "\ud800":
        lkey = left.encode("utf-16-be", "surrogatepass")
        rkey = right.encode("utf-16-be", "surrogatepass")
        return (lkey > rkey) - (lkey < rkey)
    return (left > right) - (left < right)


def _compare_strings(left: str, right: str) -> int:
    """Ordinal case-insensitive comparison: -1, 0 or 1."""
    return _utf16_order(upper_ordinal(left), upper_ordinal(right))


def _coerce(left: Any, right: Any) -> tuple[Any, Kind, Any, Kind]:
    """Bring two values to a common kind where GitHub's rules say so."""
    lkind, rkind = kind_of(left), kind_of(right)
    for _ in range(3):
        if lkind is rkind:
            break
        if lkind is Kind.NUMBER and rkind is Kind.STRING:
            right, rkind = parse_number(right), Kind.NUMBER
        elif lkind is Kind.STRING and rkind is Kind.NUMBER:
            left, lkind = parse_number(left), Kind.NUMBER
        elif lkind in (Kind.BOOLEAN, Kind.NULL):
            left, lkind = to_number(left), Kind.NUMBER
        elif rkind in (Kind.BOOLEAN, Kind.NULL):
            right, rkind = to_number(right), Kind.NUMBER
        else:
            break
    return left, lkind, right, rkind


def loose_equal(left: Any, right: Any) -> bool:
    """GitHub's ``==``."""
    left, lkind, right, rkind = _coerce(left, right)
    if lkind is not rkind:
        return False
    if lkind is Kind.NULL:
        return True
    if lkind is Kind.NUMBER:
        return as_float(left) == as_float(right)  # NaN is never equal
    if lkind is Kind.STRING:
        return upper_ordinal(left) == upper_ordinal(right)
    if lkind is Kind.BOOLEAN:
        return bool(left) == bool(right)
    return left is right


def _order(left: Any, right: Any) -> int | None:
    """-1/0/1 when the two values are ordered after coercion, else None."""
    left, lkind, right, rkind = _coerce(left, right)
    if lkind is not rkind:
        return None
    if lkind is Kind.NUMBER:
        lnum, rnum = as_float(left), as_float(right)
        if math.isnan(lnum) or math.isnan(rnum):
            return None
        return (lnum > rnum) - (lnum < rnum)
    if lkind is Kind.STRING:
        return _compare_strings(left, right)
    if lkind is Kind.BOOLEAN:
        return int(bool(left)) - int(bool(right))
    return None


def loose_less(left: Any, right: Any) -> bool:
    """GitHub's ``<``."""
    order = _order(left, right)
    return order is not None and order < 0


def loose_greater(left: Any, right: Any) -> bool:
    """GitHub's ``>``."""
    order = _order(left, right)
    return order is not None and order > 0


def get_member(obj: Mapping[Any, Any], name: str) -> tuple[bool, Any]:
    """Look a key up case-insensitively: ``(found, value)``."""
    try:
        if name in obj:
            return True, obj[name]
    except TypeError:
        pass
    folded = upper_ordinal(name)
    for key, value in obj.items():
        if isinstance(key, str) and upper_ordinal(key) == folded:
            return True, value
    return False, None


def _array_index(key: Any) -> int | None:
    """An index value as a non-negative array position (floored), or None."""
    number = to_number(key)
    if math.isnan(number) or number < 0 or number > INT32_MAX:
        return None
    return int(math.floor(number))


def _string_key(key: Any) -> str | None:
    """An index value as an object key: primitives only."""
    return to_display_string(key) if is_primitive(key) else None


def _filter(target: Any) -> FilteredArray:
    """``target.*``: the values of an object or the items of an array."""
    kind = kind_of(target)
    if kind is Kind.OBJECT and isinstance(target, Mapping):
        return FilteredArray(target.values())
    if kind is Kind.ARRAY:
        return FilteredArray(target)
    return FilteredArray()


def _index_one(target: Any, key: Any, wildcard: bool) -> tuple[bool, Any]:
    """Index one non-filtered value: ``(found, value)``."""
    if wildcard:
        return True, _filter(target)
    kind = kind_of(target)
    if kind is Kind.OBJECT and isinstance(target, Mapping):
        name = _string_key(key)
        return (False, None) if name is None else get_member(target, name)
    if kind is Kind.ARRAY:
        position = _array_index(key)
        if position is not None and position < len(target):
            return True, target[position]
    return False, None


def index_value(target: Any, key: Any, wildcard: bool = False) -> Any:
    """``target[key]`` (or ``target[*]`` when ``wildcard``) with GitHub's rules."""
    if not isinstance(target, FilteredArray):
        return _index_one(target, key, wildcard)[1]
    result = FilteredArray()
    for item in target:
        if kind_of(item) not in (Kind.OBJECT, Kind.ARRAY):
            continue
        found, value = _index_one(item, key, wildcard)
        if not found:
            continue
        if wildcard:
            result.extend(value)
        else:
            result.append(value)
    return result


_JSON_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_JSON_ESCAPES.update(
    {
        ord('"'): '\\"',
        ord("\\"): "\\\\",
        ord("\b"): "\\b",
        ord("\f"): "\\f",
        ord("\n"): "\\n",
        ord("\r"): "\\r",
        ord("\t"): "\\t",
        0x85: "\\u0085",
        0x2028: "\\u2028",
        0x2029: "\\u2029",
    }
)


def json_string(text: str) -> str:
    """A JSON string literal for ``text``."""
    return '"' + text.translate(_JSON_ESCAPES) + '"'


def _json_scalar(value: Any) -> str:
    """The JSON text of a non-container value."""
    kind = kind_of(value)
    if kind is Kind.NULL:
        return "null"
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.NUMBER:
        return format_number(value)
    if kind is Kind.STRING:
        return json_string(value)
    return "{}"  # an opaque object GitHub cannot traverse either


class CycleError(ValueError):
    """A container that contains itself cannot be written as JSON."""


def _json_items(value: Any) -> list[tuple[str | None, Any]] | None:
    """``(key, child)`` pairs of a container (key None for arrays), or None for scalars."""
    kind = kind_of(value)
    if kind is Kind.ARRAY:
        return [(None, item) for item in value]
    if kind is Kind.OBJECT and isinstance(value, Mapping):
        return [(k if isinstance(k, str) else to_display_string(k), v) for k, v in value.items()]
    return None


def to_json_text(value: Any) -> str:
    """Pretty JSON as GitHub's ``toJSON`` writes it (2-space indent, ``"key": value``).

    Raises :class:`CycleError` for self-containing values. Iterative, so deep values are fine.
    """
    out: list[str] = []
    # Each frame: (container, its items, next position, closing bracket).
    stack: list[tuple[Any, list[tuple[str | None, Any]], int, str]] = []
    on_path: set[int] = set()
    pending: Any = value
    has_pending = True
    while True:
        if has_pending:
            _open_value(pending, out, stack, on_path)
            has_pending = False
        if not stack:
            return "".join(out)
        container, items, position, closing = stack[-1]
        if position < len(items):
            stack[-1] = (container, items, position + 1, closing)
            key, pending = items[position]
            indent = "  " * len(stack)
            out.append(("," if position else "") + "\n" + indent)
            if key is not None:
                out.append(json_string(key) + ": ")
            has_pending = True
            continue
        stack.pop()
        on_path.discard(id(container))
        out.append("\n" + "  " * len(stack) + closing)


def _open_value(
    value: Any,
    out: list[str],
    stack: list[tuple[Any, list[tuple[str | None, Any]], int, str]],
    on_path: set[int],
) -> None:
    """Write a scalar, an empty container, or push a non-empty container on the stack."""
    items = _json_items(value)
    if items is None:
        out.append(_json_scalar(value))
        return
    is_array = kind_of(value) is Kind.ARRAY
    if not items:
        out.append("[]" if is_array else "{}")
        return
    if id(value) in on_path:
        raise CycleError("the value contains itself")
    on_path.add(id(value))
    out.append("[" if is_array else "{")
    stack.append((value, items, 0, "]" if is_array else "}"))


def plain(value: Any) -> Any:
    """A filtered array as a plain list (the public face of a result)."""
    return list(value) if isinstance(value, FilteredArray) else value
