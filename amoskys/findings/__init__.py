"""Findings: what the quality and security tools report, in one model (see ``model``).

* :mod:`amoskys.findings.model` - :class:`Finding`, :class:`Severity`, :class:`Category`,
  fingerprints, and :class:`FindingsProblem` for output a collector could not read;
* :mod:`amoskys.findings.collectors` - every collector by format name, and ``collect``;
  the collectors themselves live in :mod:`~amoskys.findings.linters` (Black, isort, flake8,
  mypy), :mod:`~amoskys.findings.scanners` (Bandit, pip-audit, Safety) and
  :mod:`~amoskys.findings.sarif_input` (SARIF from any tool), sharing
  :mod:`~amoskys.findings.common`;
* :mod:`amoskys.findings.sarif` - findings out as SARIF 2.1.0 and as JUnit XML.
"""
