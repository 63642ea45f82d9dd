"""CVSS base scores computed from vector strings: v3.0, v3.1 and v4.0.

OSV records carry CVSS *vectors*, not scores (``severity[].score`` is the vector string), so
the score is computed here, offline, exactly as the FIRST specifications define it:

* v3.x: the base-score equations of the CVSS v3.1 specification, section 7.1, with its
  ``Roundup`` (v3.1, which avoids floating-point surprises) or the plain ceiling to one decimal
  (v3.0, as that specification defines it);
* v4.0: the MacroVector method of the CVSS v4.0 specification, section 8: the vector falls in
  one of 270 MacroVectors (equivalence classes EQ1..EQ6) whose scores are the published lookup
  table, and the score is interpolated down from there by the vector's severity distance to the
  highest-severity vectors of its MacroVector. Threat and environmental metrics in a v4 vector
  are validated but not applied: this is the base score (CVSS-B).

The qualitative rating follows the specification's table: 0.0 none, 0.1-3.9 low, 4.0-6.9
medium, 7.0-8.9 high, 9.0-10.0 critical. ``Severity`` has no "none", and an advisory exists
because the package was judged vulnerable, so 0.0 maps to ``LOW`` (never silently below the
gates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Mapping

from amoskys.findings.model import Severity


class CvssError(ValueError):
    """A vector string that is not a valid CVSS vector of the version it claims."""


@dataclass(frozen=True)
class CvssScore:
    """A computed base score: ``version`` is "3.0", "3.1" or "4.0"."""

    version: str
    score: float
    vector: str

    @property
    def severity(self) -> Severity:
        return severity_of_score(self.score)


def severity_of_score(score: float) -> Severity:
    """The CVSS qualitative rating of ``score`` (0.0 "none" counts as LOW, see the module)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def score_vector(vector: str) -> CvssScore:
    """The base score of a ``CVSS:3.0/``, ``CVSS:3.1/`` or ``CVSS:4.0/`` vector."""
    text = vector.strip()
    if text.startswith("CVSS:4.0/"):
        return CvssScore("4.0", base_score_v4(text), text)
    if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        return CvssScore(text[5:8], base_score_v3(text), text)
    raise CvssError(f"not a CVSS v3 or v4 vector: {vector!r}")


def _parse(vector: str, prefix: str, allowed: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    if not vector.startswith(prefix):
        raise CvssError(f"a CVSS vector must start with {prefix!r}: {vector!r}")
    metrics: dict[str, str] = {}
    for part in vector[len(prefix) :].split("/"):
        key, sep, value = part.partition(":")
        if not sep or key not in allowed:
            raise CvssError(f"unknown metric {part!r} in {vector!r}")
        if key in metrics:
            raise CvssError(f"metric {key} given twice in {vector!r}")
        if value not in allowed[key]:
            raise CvssError(f"{key}:{value} is not a valid value in {vector!r}")
        metrics[key] = value
    return metrics


def _require(metrics: Mapping[str, str], names: tuple[str, ...], vector: str) -> None:
    missing = [name for name in names if name not in metrics]
    if missing:
        raise CvssError(f"missing base metric(s) {', '.join(missing)} in {vector!r}")


# ----------------------------------------------------------------------------------- CVSS v3

_V3_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
_V3_ALLOWED: dict[str, tuple[str, ...]] = {
    "AV": ("N", "A", "L", "P"),
    "AC": ("L", "H"),
    "PR": ("N", "L", "H"),
    "UI": ("N", "R"),
    "S": ("U", "C"),
    "C": ("H", "L", "N"),
    "I": ("H", "L", "N"),
    "A": ("H", "L", "N"),
    # temporal and environmental metrics: accepted, not part of the base score
    "E": ("X", "U", "P", "F", "H"),
    "RL": ("X", "O", "T", "W", "U"),
    "RC": ("X", "U", "R", "C"),
    "CR": ("X", "L", "M", "H"),
    "IR": ("X", "L", "M", "H"),
    "AR": ("X", "L", "M", "H"),
    "MAV": ("X", "N", "A", "L", "P"),
    "MAC": ("X", "L", "H"),
    "MPR": ("X", "N", "L", "H"),
    "MUI": ("X", "N", "R"),
    "MS": ("X", "U", "C"),
    "MC": ("X", "N", "L", "H"),
    "MI": ("X", "N", "L", "H"),
    "MA": ("X", "N", "L", "H"),
}
_V3_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_V3_AC = {"L": 0.77, "H": 0.44}
_V3_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_V3_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_V3_UI = {"N": 0.85, "R": 0.62}
_V3_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}


def _roundup_v31(value: float) -> float:
    """CVSS v3.1 Appendix A ``Roundup``: the smallest one-decimal number >= ``value``."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def _roundup_v30(value: float) -> float:
    return math.ceil(value * 10) / 10


def base_score_v3(vector: str) -> float:
    """The CVSS v3.0/v3.1 base score of ``vector`` (which must name its version)."""
    if vector.startswith("CVSS:3.1/"):
        roundup = _roundup_v31
    elif vector.startswith("CVSS:3.0/"):
        roundup = _roundup_v30
    else:
        raise CvssError(f"a CVSS v3 vector must start with 'CVSS:3.0/' or 'CVSS:3.1/': {vector!r}")
    metrics = _parse(vector, vector[:9], _V3_ALLOWED)
    _require(metrics, _V3_BASE, vector)
    changed = metrics["S"] == "C"
    iss = 1 - (
        (1 - _V3_CIA[metrics["C"]]) * (1 - _V3_CIA[metrics["I"]]) * (1 - _V3_CIA[metrics["A"]])
    )
    if changed:
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    else:
        impact = 6.42 * iss
    privileges = (_V3_PR_CHANGED if changed else _V3_PR_UNCHANGED)[metrics["PR"]]
    exploitability = (
        8.22 * _V3_AV[metrics["AV"]] * _V3_AC[metrics["AC"]] * privileges * _V3_UI[metrics["UI"]]
    )
    if impact <= 0:
        return 0.0
    if changed:
        return roundup(min(1.08 * (impact + exploitability), 10.0))
    return roundup(min(impact + exploitability, 10.0))


# ----------------------------------------------------------------------------------- CVSS v4

_V4_BASE = ("AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA")
_V4_ALLOWED: dict[str, tuple[str, ...]] = {
    "AV": ("N", "A", "L", "P"),
    "AC": ("L", "H"),
    "AT": ("N", "P"),
    "PR": ("N", "L", "H"),
    "UI": ("N", "P", "A"),
    "VC": ("H", "L", "N"),
    "VI": ("H", "L", "N"),
    "VA": ("H", "L", "N"),
    "SC": ("H", "L", "N"),
    "SI": ("H", "L", "N"),
    "SA": ("H", "L", "N"),
    # threat, environmental and supplemental metrics: accepted, not applied to CVSS-B
    "E": ("X", "A", "P", "U"),
    "CR": ("X", "H", "M", "L"),
    "IR": ("X", "H", "M", "L"),
    "AR": ("X", "H", "M", "L"),
    "MAV": ("X", "N", "A", "L", "P"),
    "MAC": ("X", "L", "H"),
    "MAT": ("X", "N", "P"),
    "MPR": ("X", "N", "L", "H"),
    "MUI": ("X", "N", "P", "A"),
    "MVC": ("X", "H", "L", "N"),
    "MVI": ("X", "H", "L", "N"),
    "MVA": ("X", "H", "L", "N"),
    "MSC": ("X", "H", "L", "N"),
    "MSI": ("X", "S", "H", "L", "N"),
    "MSA": ("X", "S", "H", "L", "N"),
    "S": ("X", "N", "P"),
    "AU": ("X", "N", "Y"),
    "R": ("X", "A", "U", "I"),
    "V": ("X", "D", "C"),
    "RE": ("X", "L", "M", "H"),
    "U": ("X", "Clear", "Green", "Amber", "Red"),
}

# The published MacroVector scores (CVSS v4.0 specification, section 8), as one-decimal
# tenths, grouped by score. Each key is EQ1 EQ2 EQ3 EQ4 EQ5 EQ6.
_V4_TABLE_BY_SCORE: dict[int, str] = {
    100: "000000 000100",
    99: "000001 010000",
    98: "000010 001000 100000",
    97: "010001",
    96: "000101",
    95: "000011 000020 001001 001010 010010 010100 011000 100001 110000",
    94: "100010 100100 101000",
    93: "000110 000200 001100 011001 200000",
    92: "000021 001011 001101 002001 010011 010020 010200 011010 011100",
    91: "000120 010101 100020",
    90: "000201 001020 010110 110001 110100",
    89: "000210 001110 100101 101001 111000",
    88: "001200 101010 110010 210000",
    87: "000111 100011 100200 200001",
    86: "012001 100110 101100 200010 200100",
    85: "010021 011011 011020 201000",
    84: "001021 010120 011200",
    83: "010111 102001",
    82: "002011 010210 011101",
    81: "000121 000220 001111 001120 010201 100021",
    80: "000211 001201 011110",
    79: "002101",
    78: "001210 111001",
    77: "100120 101011 110101 110200",
    76: "101020 101101 110011 110020 111010",
    75: "012011 100201 110110 200020 201001 210001 211000",
    74: "100111 100210 101110 111100 200101 200110 201010",
    73: "011021 210010 210100",
    72: "002021 010220 011111 101200 200011 201100",
    71: "010121 010211 011210 012101 112001",
    70: "001211 011120 011201 102011 110021 200200",
    69: "001220 002111 002201",
    68: "000221 110210",
    67: "101021 111011",
    66: "110201",
    65: "001121 102101",
    64: "100121 202001",
    63: "012201 100211 100220",
    62: "110111 111020 201020",
    61: "110120 111200 200111 211100",
    60: "210020",
    59: "011121 101120 110211 111101 112011 210110",
    58: "101111 102111 111021 112101 200021 211010",
    57: "101201 101210 111110 111111 111210 201101",
    56: "200120",
    55: "002211 201011 201110 210101 211001",
    54: "102021 200201 210200",
    53: "010221 102201 110121 201200 210011 212001",
    52: "011211 012021 012111 101211 101220 110220 111201 200210",
    51: "201021 202011 211101",
    50: "002121 011220 101121 210021",
    49: "100221",
    48: "001221 211110",
    47: "111120 202101",
    46: "201120 211200",
    45: "210210 211011",
    43: "210201",
    41: "201111 210120",
    40: "200211 200220 210111 211020",
    36: "201201",
    34: "200121 201210",
    30: "011221 110221 112021",
    29: "012121 012211 111211",
    27: "002221",
    26: "102121 112111",
    25: "101221",
    24: "111220 202201 212011 212101",
    23: "111121 112201",
    22: "200221 210211",
    21: "102211 202111 211021",
    20: "202021 210121 210220 211120",
    19: "201121 201211 201220",
    18: "211111 211201",
    17: "012221 211210",
    16: "111221",
    15: "112121",
    14: "212021",
    13: "102221 112211",
    12: "212111",
    11: "202121 210221",
    10: "212201",
    9: "202211 211121",
    8: "201221 211220",
    7: "211211",
    6: "112221",
    5: "212121",
    4: "202221",
    3: "212211",
    2: "211221",
    1: "212221",
}
MACROVECTOR_SCORES: dict[str, float] = {
    key: tenths / 10 for tenths, keys in _V4_TABLE_BY_SCORE.items() for key in keys.split()
}
"""MacroVector (six EQ digits) -> its published score: all 270 of them."""

# The highest-severity vectors of each EQ level (specification, section 8.2), as partial
# metric assignments; EQ3 and EQ6 are joint (EQ3 level, then EQ6 level).
_V4_MAX_EQ1: dict[int, tuple[str, ...]] = {
    0: ("AV:N/PR:N/UI:N",),
    1: ("AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"),
    2: ("AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"),
}
_V4_MAX_EQ2: dict[int, tuple[str, ...]] = {0: ("AC:L/AT:N",), 1: ("AC:H/AT:N", "AC:L/AT:P")}
_V4_MAX_EQ3EQ6: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 0): ("VC:H/VI:H/VA:H/CR:H/IR:H/AR:H",),
    (0, 1): ("VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"),
    (1, 0): ("VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"),
    (1, 1): (
        "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
        "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
        "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
        "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
        "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
    ),
    (2, 1): ("VC:L/VI:L/VA:L/CR:H/IR:H/AR:H",),
}
_V4_MAX_EQ4: dict[int, tuple[str, ...]] = {
    0: ("SC:H/SI:S/SA:S",),
    1: ("SC:H/SI:H/SA:H",),
    2: ("SC:L/SI:L/SA:L",),
}
# The depth of each EQ level, in severity steps (specification: "max severity distances").
_V4_DEPTH_EQ1 = {0: 1, 1: 4, 2: 5}
_V4_DEPTH_EQ2 = {0: 1, 1: 2}
_V4_DEPTH_EQ3EQ6 = {(0, 0): 7, (0, 1): 6, (1, 0): 8, (1, 1): 8, (2, 1): 10}
_V4_DEPTH_EQ4 = {0: 6, 1: 5, 2: 4}

# Severity level of each value, in steps (0 = most severe) for the distance computation.
_V4_LEVELS: dict[str, dict[str, int]] = {
    "AV": {"N": 0, "A": 1, "L": 2, "P": 3},
    "PR": {"N": 0, "L": 1, "H": 2},
    "UI": {"N": 0, "P": 1, "A": 2},
    "AC": {"L": 0, "H": 1},
    "AT": {"N": 0, "P": 1},
    "VC": {"H": 0, "L": 1, "N": 2},
    "VI": {"H": 0, "L": 1, "N": 2},
    "VA": {"H": 0, "L": 1, "N": 2},
    "SC": {"H": 1, "L": 2, "N": 3},
    "SI": {"S": 0, "H": 1, "L": 2, "N": 3},
    "SA": {"S": 0, "H": 1, "L": 2, "N": 3},
    "CR": {"H": 0, "M": 1, "L": 2},
    "IR": {"H": 0, "M": 1, "L": 2},
    "AR": {"H": 0, "M": 1, "L": 2},
}
_V4_DISTANCE_GROUPS = (
    ("AV", "PR", "UI"),
    ("AC", "AT"),
    ("VC", "VI", "VA", "CR", "IR", "AR"),
    ("SC", "SI", "SA"),
)


def _pairs(text: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in text.split("/"))


def _v4_effective(metrics: Mapping[str, str]) -> dict[str, str]:
    """The values that score CVSS-B: base metrics, with the worst-case defaults for the
    threat (E:A) and security-requirement (CR/IR/AR:H) metrics."""
    values = {name: metrics[name] for name in _V4_BASE}
    values.update(E="A", CR="H", IR="H", AR="H")
    return values


def macrovector(metrics: Mapping[str, str]) -> str:
    """The six EQ digits of the (effective) v4 metrics ``metrics``."""
    av, pr, ui = metrics["AV"], metrics["PR"], metrics["UI"]
    if av == "N" and pr == "N" and ui == "N":
        eq1 = 0
    elif (av == "N" or pr == "N" or ui == "N") and av != "P":
        eq1 = 1
    else:
        eq1 = 2
    eq2 = 0 if metrics["AC"] == "L" and metrics["AT"] == "N" else 1
    vc, vi, va = metrics["VC"], metrics["VI"], metrics["VA"]
    if vc == "H" and vi == "H":
        eq3 = 0
    elif vc == "H" or vi == "H" or va == "H":
        eq3 = 1
    else:
        eq3 = 2
    if metrics.get("MSI") == "S" or metrics.get("MSA") == "S":
        eq4 = 0
    elif metrics["SC"] == "H" or metrics["SI"] == "H" or metrics["SA"] == "H":
        eq4 = 1
    else:
        eq4 = 2
    eq5 = {"A": 0, "P": 1, "U": 2}[metrics["E"]]
    requirement_hit = (
        (metrics["CR"] == "H" and vc == "H")
        or (metrics["IR"] == "H" and vi == "H")
        or (metrics["AR"] == "H" and va == "H")
    )
    eq6 = 0 if requirement_hit else 1
    return f"{eq1}{eq2}{eq3}{eq4}{eq5}{eq6}"


def _shift(macro: str, *changes: tuple[int, int]) -> str:
    digits = [int(c) for c in macro]
    for index, step in changes:
        digits[index] += step
    return "".join(str(d) for d in digits)


def _lower_macro_scores(macro: str) -> list[float | None]:
    """The scores of the next lower MacroVector along EQ1, EQ2, EQ3+EQ6, EQ4 and EQ5
    (``None`` where there is none)."""
    eq3, eq6 = int(macro[2]), int(macro[5])
    table = MACROVECTOR_SCORES
    if (eq3, eq6) == (0, 0):
        # two ways down (00 -> 01 and 00 -> 10): the higher of the two
        candidates = [
            table.get(_shift(macro, (5, 1))),
            table.get(_shift(macro, (2, 1))),
        ]
        found = [score for score in candidates if score is not None]
        eq3eq6: float | None = max(found) if found else None
    elif (eq3, eq6) == (1, 0):
        eq3eq6 = table.get(_shift(macro, (5, 1)))
    elif (eq3, eq6) in ((0, 1), (1, 1)):
        eq3eq6 = table.get(_shift(macro, (2, 1)))
    else:  # 21 -> 32 does not exist
        eq3eq6 = table.get(_shift(macro, (2, 1), (5, 1)))
    return [
        table.get(_shift(macro, (0, 1))),
        table.get(_shift(macro, (1, 1))),
        eq3eq6,
        table.get(_shift(macro, (3, 1))),
        table.get(_shift(macro, (4, 1))),
    ]


def _distances(values: Mapping[str, str], macro: str) -> list[int]:
    """Severity distances (in steps) of ``values`` from the first highest-severity vector of
    its MacroVector that it does not exceed, summed per EQ group (EQ1, EQ2, EQ3+EQ6, EQ4)."""
    eq1, eq2, eq3, eq4, eq6 = (int(macro[i]) for i in (0, 1, 2, 3, 5))
    chosen: dict[str, int] = {}
    for parts in product(
        _V4_MAX_EQ1[eq1], _V4_MAX_EQ2[eq2], _V4_MAX_EQ3EQ6[(eq3, eq6)], _V4_MAX_EQ4[eq4]
    ):
        top = _pairs("/".join(parts))
        chosen = {
            name: _V4_LEVELS[name][values[name]] - _V4_LEVELS[name][top[name]]
            for name in _V4_LEVELS
        }
        if all(distance >= 0 for distance in chosen.values()):
            break
    return [sum(chosen[name] for name in group) for group in _V4_DISTANCE_GROUPS]


def _round_half_up(value: float) -> float:
    # the specification's calculator rounds half up after adding 1e-6 against float error
    return math.floor((value + 1e-6) * 10 + 0.5) / 10


def base_score_v4(vector: str) -> float:
    """The CVSS v4.0 base score (CVSS-B) of ``vector``."""
    metrics = _parse(vector, "CVSS:4.0/", _V4_ALLOWED)
    _require(metrics, _V4_BASE, vector)
    values = _v4_effective(metrics)
    if all(values[name] == "N" for name in ("VC", "VI", "VA", "SC", "SI", "SA")):
        return 0.0
    macro = macrovector(values)
    value = MACROVECTOR_SCORES[macro]
    eq1, eq2, eq3, eq4, eq6 = (int(macro[i]) for i in (0, 1, 2, 3, 5))
    depths = (
        _V4_DEPTH_EQ1[eq1],
        _V4_DEPTH_EQ2[eq2],
        _V4_DEPTH_EQ3EQ6[(eq3, eq6)],
        _V4_DEPTH_EQ4[eq4],
    )
    lower = _lower_macro_scores(macro)
    distances = _distances(values, macro)
    normalized: list[float] = []
    for lower_score, distance, depth in zip(lower[:4], distances, depths):
        if lower_score is not None:
            normalized.append((value - lower_score) * distance / depth)
    if lower[4] is not None:
        normalized.append(0.0)  # EQ5 has a single level per MacroVector: no distance
    mean = sum(normalized) / len(normalized) if normalized else 0.0
    return _round_half_up(min(max(value - mean, 0.0), 10.0))
