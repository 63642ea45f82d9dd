"""What the benchmarks share: the git identity of the repositories they make and commit in.

Imported by the bench scripts, which run with this folder first on ``sys.path``.
"""

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}
