"""The result cache: a job instance whose inputs are unchanged since a successful run is
served from that run instead of running again.

A job instance's *input key* is a sha256 over everything that can change what it does:
the Amoskys version, its definition after matrix expansion (job, workflow env and
defaults, matrix values, inputs, strategy), where each job it needs got its result from
(the needed instance's own key and the run that produced it) with the outputs it passes
on, the interpreters its ``setup-python`` steps resolve to and the ``python`` on PATH (for a
pyenv or asdf shim, the version files that pick what it starts) with what is installed for
them (the entries of their site-packages folders), the environment that
reaches its steps, the ``github`` context it can see (without the commit sha unless it
reads it: the files' content stands for the commit), and the content of every file it can
read (through a symlink to an absolute path, the file it ends at) — all workspace files, or
those matching ``[tool.amoskys.jobs.<id>] inputs = [globs]``.

The index (``.amoskys/cache/results/<k[:2]>/<k>.json``) maps a key to the run whose job
succeeded with it, and to that job's outputs. A hit is honoured only while the store still
holds that job as a success, in a run that started before the entry was written (a history
deleted and started anew numbers its runs from 1 again); its test results, metrics and
findings are copied into the new run. Jobs that use secrets, deploy to an environment or
upload artifacts are never cached (their effects reach beyond the run's records).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from amoskys import __version__
from amoskys.errors import AmoskysError
from amoskys.model import JobRun, Status, Workflow
from amoskys.plan import JobInstance
from amoskys.platforms import current_os, runner_arch
from amoskys.run.engine import JobExecutor
from amoskys.run.installed import installed, shim_installs, shim_selection
from amoskys.run.live import CACHED_RUNNER
from amoskys.run.workspace import _git
from amoskys.store.reads import CACHED_REASON_PREFIX, FinishedJob
from amoskys.workflow.expressions import EvalContext, evaluate_value, to_display_string
from amoskys.workflow.filters import matches_any

FORMAT = 1
CACHE_FOLDER = ("cache", "results")

_SECRETS = re.compile(r"\bsecrets\s*(?:\.|\[)|\bgithub\s*\.\s*token\b")
_READS_COMMIT = re.compile(r"\bgithub\s*\.\s*(?:sha|event)\b|\bGITHUB_(?:SHA|EVENT_PATH)\b")
_GITHUB_FIELDS = (
    "event_name",
    "ref",
    "ref_name",
    "ref_type",
    "base_ref",
    "head_ref",
    "repository",
    "repository_owner",
    "actor",
    "server_url",
)


# -- what a job is ---------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A JSON-able form of model values; source locations are left out (moving a job in
    its file does not change what it does)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "location"
        }
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def definition(inst: JobInstance, workflow: Workflow | None) -> dict[str, Any]:
    """The instance as the engine will run it: job, matrix values, inputs, strategy and the
    workflow-level env and defaults that reach its steps."""
    return {
        "workflow": inst.workflow,
        "workflow_env": canonical(workflow.env) if workflow is not None else {},
        "workflow_defaults": canonical(workflow.defaults) if workflow is not None else {},
        "job_id": inst.job_id,
        "name": inst.name,
        # the instance's own matrix values, not the whole matrix: adding a combination
        # leaves the others as they were
        "job": canonical(dataclasses.replace(inst.job, strategy=None)),
        "matrix": canonical(inst.matrix),
        "inputs": canonical(inst.inputs),
        "strategy": [inst.strategy_index, inst.strategy_total, inst.fail_fast, inst.max_parallel],
    }


@dataclass(frozen=True)
class Defined:
    """An instance's :func:`definition` and its canonical JSON text, made once per job: the
    blocker, the key and the ``github`` view all read them."""

    value: Mapping[str, Any]
    text: str

    @classmethod
    def of(cls, inst: JobInstance, workflow: Workflow | None) -> Defined:
        value = definition(inst, workflow)
        return cls(value, json.dumps(value, sort_keys=True))


def cache_blocker(
    inst: JobInstance, workflow: Workflow | None, defined: Defined | None = None
) -> str | None:
    """Why ``inst`` must always run (never cached, never served), or None."""
    if inst.job.environment is not None:
        return "it deploys to an environment"
    text = (defined or Defined.of(inst, workflow)).text
    if _SECRETS.search(text):
        return "it uses secrets"
    if any(
        step.uses and step.uses.split("@", 1)[0].lower() == "actions/upload-artifact"
        for step in inst.job.steps
    ):
        return "it uploads artifacts"
    return None


def setup_python_specs(inst: JobInstance, root: Path) -> list[str] | None:
    """The version specs of ``inst``'s setup-python steps; None when one depends on contexts
    known only while running."""
    from amoskys.run.actions import action_name
    from amoskys.run.interpreters import read_version_file

    specs: list[str] = []
    ctx = EvalContext(contexts={"matrix": dict(inst.matrix), "inputs": dict(inst.inputs)})
    for step in inst.job.steps:
        if step.uses is None or action_name(step.uses) != "actions/setup-python":
            continue
        try:
            raw = step.with_.get("python-version")
            if raw is not None:
                value = to_display_string(evaluate_value(str(raw), ctx))
                specs.extend(v.strip() for v in value.splitlines() if v.strip())
            elif step.with_.get("python-version-file"):
                name = to_display_string(
                    evaluate_value(str(step.with_["python-version-file"]), ctx)
                )
                specs.extend(read_version_file(root / name))
        except AmoskysError:
            return None
    return specs


def always_read(inst: JobInstance, root: Path | None = None) -> tuple[str, ...]:
    """Path prefixes a job reads whatever its ``inputs`` say: its local actions (with
    ``root``, those they use in turn) and ``python-version-file``s."""
    from amoskys.workflow.parse import load_local_action

    found: list[str] = []
    steps = list(inst.job.steps)
    for step in steps:  # grows with the steps of the local actions met
        if step.uses is not None and step.uses.startswith("./"):
            prefix = step.uses[2:].rstrip("/") + "/"
            if root is not None and prefix not in found:
                try:
                    steps.extend(load_local_action(root, step.uses, step.location).steps)
                except AmoskysError:
                    pass  # the step fails when it runs, and a failure is never cached
            found.append(prefix)
        version_file = step.with_.get("python-version-file")
        if isinstance(version_file, str) and "${{" not in version_file:
            found.append(version_file.removeprefix("./"))
    return tuple(found)


def readable_files(
    digests: Mapping[str, str], patterns: Sequence[str] | None, always: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(path, digest) of the files a job can read: all, or those ``patterns`` include."""
    if patterns is None:
        return sorted(digests.items())
    return sorted(
        (path, digest)
        for path, digest in digests.items()
        if matches_any(patterns, path) or any(path == a or path.startswith(a) for a in always)
    )


@dataclass(frozen=True)
class KeyInputs:
    """Everything an input key is made of (see the module's docstring)."""

    definition: Mapping[str, Any]
    needs: Mapping[str, Any]
    interpreters: Sequence[str]
    environment: Mapping[str, str]
    github: Mapping[str, Any]
    files: Sequence[tuple[str, str]]
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    version: str = __version__


def input_key(inputs: KeyInputs) -> str:
    """The sha256 (hex) of ``inputs``' canonical JSON."""
    files = hashlib.sha256()
    for path, digest in inputs.files:
        files.update(f"{path}\0{digest}\n".encode("utf-8", "surrogateescape"))
    document = {
        "format": FORMAT,
        "amoskys": inputs.version,
        "definition": inputs.definition,
        "needs": inputs.needs,
        "interpreters": list(inputs.interpreters),
        "environment": dict(sorted(inputs.environment.items())),
        "github": inputs.github,
        "files": files.hexdigest(),
        "file_count": len(inputs.files),
        "extra": inputs.extra,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def github_view(github: Mapping[str, Any], job_text: str) -> dict[str, Any]:
    """The part of the ``github`` context that goes into a key: the commit and the event
    payload only for jobs that read them."""
    view = {name: github.get(name) for name in _GITHUB_FIELDS}
    if _READS_COMMIT.search(job_text):
        view["sha"] = github.get("sha")
        view["event"] = github.get("event")
    return view


# -- the files' content ------------------------------------------------------------------


def file_digests(root: Path, files: Sequence[str]) -> dict[str, str]:
    """A content digest of every workspace file, in git's terms (``<mode>:<blob id>``): read
    from the index when the work tree file is the one staged there, else computed from the
    file the way git would (so committing an edit does not change its digest); a symlink to
    an absolute path adds the digest of the file it ends at."""
    index: dict[str, str] = {}
    for entry in _git(root, "ls-files", "-s", "-z").split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[2] == "0":
            index[path] = f"{parts[0]}:{parts[1]}"
    dirty = {p for p in _git(root, "diff-files", "--name-only", "-z").split("\0") if p}
    digests: dict[str, str] = {}
    for rel in files:
        known = index.get(rel)
        if known is not None and rel not in dirty:
            digests[rel] = known
            continue
        digest = blob_digest(root / rel)
        if digest is not None:
            digests[rel] = digest
    for rel, digest in digests.items():
        if digest.startswith("120000:"):
            digests[rel] = digest + _absolute_target(root / rel)
    return digests


def _absolute_target(link: Path) -> str:
    """For a symlink to an absolute path, the digest of the file it ends at: the job's copy
    of the link still points there, so that file's content is an input the link's own blob
    does not show (a relative link points inside the job's copy, at files already counted).
    A link to a directory or to nothing adds only where it ends."""
    try:
        if not os.path.isabs(os.readlink(link)):
            return ""
    except OSError:
        return ""
    real = os.path.realpath(link)
    return f">{real}:{blob_digest(Path(real)) or 'not a file'}"


def blob_digest(path: Path) -> str | None:
    """``<git mode>:<git blob id>`` of a file or symlink; None for anything else."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            mode, data = "120000", os.fsencode(os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
            data = path.read_bytes()
        else:
            return None
    except OSError:
        return None
    blob = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    blob.update(data)
    return f"{mode}:{blob.hexdigest()}"


def describe_interpreters(
    specs: Sequence[str] | None, env: Mapping[str, str], root: Path | None = None
) -> list[str]:
    """What each setup-python spec resolves to here (implementation, version, real path and
    its mtime) with what is installed for it, plus the ``python3``/``python`` found on PATH
    and, when those are shims (pyenv's, asdf's), what picks the version they start
    (:func:`~amoskys.run.installed.shim_selection`)."""
    from amoskys.run.interpreters import find_interpreter

    found: list[str] = []
    if specs is None:
        found.append("setup-python: resolved while running")
    for spec in specs or ():
        try:
            interp = find_interpreter(spec, search_env=env)
        except AmoskysError:
            found.append(f"{spec}: missing")
            continue
        found.append(f"{spec}: {interp.implementation} {interp.version_text} {_stamp(interp.path)}")
        found.extend(installed(Path(interp.path), env))
    shims = False
    for name in ("python3", "python"):
        where = shutil.which(name, path=env.get("PATH", ""))
        found.append(f"{name}: {_stamp(Path(where)) if where else 'missing'}")
        if where is not None and Path(where).parent.name == "shims":
            shims = True
        elif where is not None:
            found.extend(installed(Path(where), env))
    if shims and root is not None:
        selection = shim_selection(root, env)
        found.extend(selection)
        found.extend(shim_installs(selection, env))
    return found


def _stamp(path: Path) -> str:
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return real
    return f"{real}@{info.st_mtime_ns}:{info.st_size}"


# -- the index ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A successful job instance, as the index remembers it."""

    run: int
    instance: str  # the JobInstance key (the job row's key in that run)
    outputs: Mapping[str, str]
    duration: float = 0.0
    created: float = 0.0  # when the entry was written (read back from the file)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "run": self.run,
            "instance": self.instance,
            "outputs": dict(self.outputs),
            "duration": self.duration,
            "created": time.time(),
        }


LEFTOVER_AGE = 3600.0
"""Seconds after which ``amoskys gc`` removes a writer's temporary file (a killed writer's)."""


class ResultIndex:
    """Input key -> :class:`Entry`, one small JSON file per key, written atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir.joinpath(*CACHE_FOLDER)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Entry | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                return None  # damaged, or from another format: a miss
            outputs = data["outputs"]
            if not isinstance(outputs, dict):
                return None
            return Entry(
                run=int(data["run"]),
                instance=str(data["instance"]),
                outputs={str(k): str(v) for k, v in outputs.items()},
                duration=float(data.get("duration", 0.0)),
                created=float(data["created"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, entry: Entry) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            temp.write_text(json.dumps(entry.to_json(), sort_keys=True), encoding="utf-8")
            os.replace(temp, path)
        except OSError:
            temp.unlink(missing_ok=True)  # no half-written leftovers (a full disk)
            raise

    def forget(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except OSError:
            pass

    def stored(self) -> list[Stored]:
        """Every entry file, read for :func:`to_prune` (a damaged one has ``run`` None)."""
        found: list[Stored] = []
        for path in sorted(self.folder.glob("*/*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(
                    Stored(path, int(data["run"]), str(data["instance"]), float(data["created"]))
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                found.append(Stored(path, None, "", 0.0))
        return found

    def prune(self, run_starts: Callable[[Sequence[int]], Mapping[int, float]], keep: int) -> int:
        """Delete the entries :func:`to_prune` picks (``run_starts``: the store's
        :meth:`~amoskys.store.db.Store.run_starts`); how many went."""
        stored = self.stored()
        runs = run_starts([s.run for s in stored if s.run is not None])
        removed = 0
        for path in [*to_prune(stored, runs, keep), *self.leftovers()]:
            try:
                path.unlink()
                removed += 1
            except OSError:
                continue
            try:
                path.parent.rmdir()  # only when it was the folder's last entry
            except OSError:
                pass
        return removed

    def leftovers(self, now: float | None = None, age: float = LEFTOVER_AGE) -> list[Path]:
        """Temporary files of writers that were killed before their ``os.replace``
        (``.<key>.json.<pid>.<thread>``), older than ``age`` seconds: a live writer's file
        is never that old."""
        now = time.time() if now is None else now
        found: list[Path] = []
        for path in self.folder.glob("*/.*.json.*"):
            try:
                if now - path.stat().st_mtime > age:
                    found.append(path)
            except OSError:
                continue
        return found


KEEP_PER_JOB = 5
"""Entries ``amoskys gc`` keeps per job instance, newest first: each is one state of the job's
inputs, and a few cover going back and forth between branches or undoing an edit; older
states are rarely met again, and every entry is a file to list."""


@dataclass(frozen=True)
class Stored:
    """An index file as found on disk: whose result it holds and since when."""

    path: Path
    run: int | None  # None: the file is damaged
    instance: str
    created: float


def to_prune(stored: Sequence[Stored], run_starts: Mapping[int, float], keep: int) -> list[Path]:
    """The entries to delete: damaged ones; those whose run is gone from the history, or
    whose run id now names a run that started after the entry was made (a history started
    anew); and all but the newest ``keep`` of each job instance."""
    doomed: list[Path] = []
    live: dict[str, list[Stored]] = {}
    for entry in stored:
        started = run_starts.get(entry.run) if entry.run is not None else None
        if started is None or started > entry.created:
            doomed.append(entry.path)
        else:
            live.setdefault(entry.instance, []).append(entry)
    for entries in live.values():
        entries.sort(key=lambda e: (e.created, e.run or 0), reverse=True)
        doomed.extend(e.path for e in entries[max(0, keep) :])
    return sorted(doomed)


# -- the executor ------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheSettings:
    """What the caching executor needs to know about the run."""

    root: Path
    state_dir: Path
    run_number: int
    run_dir: Path
    workspace_files: tuple[str, ...]
    environment: Mapping[str, str]  # what reaches every step: clean base + --env-file
    github: Mapping[str, Any]
    workflows: Mapping[str, Workflow]
    job_inputs: Mapping[str, tuple[str, ...]]
    vars: Mapping[str, str] = dataclasses.field(default_factory=dict)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    serve: bool = True  # False with --no-cache: run everything (successes are still stored)
    selecting: bool = False  # the run's pytest steps select tests (see CachingExecutor)
    no_coverage: frozenset[str] = frozenset()  # instances whose pytest measures no coverage


class CachingExecutor:
    """A :class:`JobExecutor` that serves unchanged successful job instances from the index
    and hands the others to ``inner``."""

    def __init__(
        self,
        settings: CacheSettings,
        inner: JobExecutor,
        find_job: Callable[[int, str], FinishedJob | None],
        copy_results: Callable[[int, int, str], None],
        warn: Callable[[JobInstance, str], None] = lambda inst, text: None,
    ) -> None:
        self.settings = settings
        self.inner = inner
        self.find_job = find_job
        self.copy_results = copy_results
        self.warn = warn  # the cache's own troubles, shown with the job
        self.index = ResultIndex(settings.state_dir)
        self._lock = threading.Lock()
        self._digests: dict[str, str] | None = None
        # instance key -> (its input key, the run its result comes from); a dependant's key
        # holds these, so a needed job that ran for real changes what its dependants are
        self._origins: dict[str, tuple[str | None, int]] = {}

    def digests(self) -> dict[str, str]:
        with self._lock:
            if self._digests is None:
                self._digests = file_digests(self.settings.root, self.settings.workspace_files)
            return self._digests

    def key_of(
        self,
        inst: JobInstance,
        needs: Mapping[str, Any],
        defined: Defined | None = None,
        selected: bool = False,
    ) -> str:
        """The job's input key; ``selected``: the key of a result whose pytest ran a test
        selection, which only runs that select may be served."""
        if defined is None:
            defined = Defined.of(inst, self.settings.workflows.get(inst.workflow))
        with self._lock:
            origins = {k: self._origins.get(k, (None, 0)) for k in inst.needs_keys}
        patterns = self.settings.job_inputs.get(inst.job_id)
        if patterns is None:
            patterns = self.settings.job_inputs.get(inst.job_id.rsplit("/", 1)[-1])
        files = readable_files(self.digests(), patterns, always_read(inst, self.settings.root))
        specs = setup_python_specs(inst, self.settings.root)
        return input_key(
            KeyInputs(
                definition=defined.value,
                needs={"context": canonical(needs), "origins": origins},
                interpreters=describe_interpreters(
                    specs, self.settings.environment, self.settings.root
                ),
                environment=self.settings.environment,
                github=github_view(self.settings.github, defined.text),
                files=files,
                extra={
                    **self.settings.extra,
                    **({"select": True} if selected else {}),
                    **({"coverage": False} if inst.key in self.settings.no_coverage else {}),
                    "vars": dict(self.settings.vars),
                    "platform": [str(current_os()), runner_arch()],
                },
            )
        )

    def __call__(
        self, inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event, /
    ) -> JobRun:
        """Serve ``inst`` from the index, or run it and remember a success. The cache's own
        troubles (an unreadable index, a folder it cannot write) never decide a job: a
        failed lookup is a miss, a failed save a warning."""
        run = self.settings.run_number
        workflow = self.settings.workflows.get(inst.workflow)
        defined = Defined.of(inst, workflow)
        key: str | None = None
        marked: str | None = None  # the key of a result whose pytest ran a selection
        if cache_blocker(inst, workflow, defined) is None:
            try:
                key = self.key_of(inst, needs, defined)
                if self.settings.selecting:
                    marked = self.key_of(inst, needs, defined, selected=True)
            except (OSError, AmoskysError) as err:
                self.warn(inst, f"result cache: cannot compute the job's key ({err}); it runs")
        if key is not None and self.settings.serve:
            # a run that selects takes a selected result or a full one; others a full one
            for candidate in (marked, key):
                served = self._serve(inst, candidate) if candidate is not None else None
                if served is not None:
                    return served
        result = self.inner(inst, needs, cancel)
        if marked is not None and self._ran_selection(inst):
            key = marked
        with self._lock:
            self._origins[inst.key] = (key, run)
        if (
            key is not None
            and result.status is Status.SUCCESS
            and result.conclusion is Status.SUCCESS
            and not cancel.is_set()
        ):
            entry = Entry(
                run=run, instance=inst.key, outputs=result.outputs, duration=result.duration
            )
            try:
                self.index.put(key, entry)
            except OSError as err:
                self.warn(inst, f"result cache: cannot save the job's result ({_why(err)})")
        return result

    def _ran_selection(self, inst: JobInstance) -> bool:
        """Whether a pytest of the job ran a test selection (its report is in the run)."""
        from amoskys.select.in_run import ran_selection

        return ran_selection(self.settings.run_dir, inst.name)

    def _serve(self, inst: JobInstance, key: str) -> JobRun | None:
        entry = self.index.get(key)
        if entry is None:
            return None
        try:
            found = self.find_job(entry.run, entry.instance)
        except AmoskysError as err:  # the history cannot be read: nothing to serve from
            self.warn(inst, f"result cache: cannot look the job up ({err}); it runs")
            return None
        if found is not None and found.run_started > entry.created:
            found = None  # the run id now names a later run: the history was started anew
        if found is None or found.status != "success" or found.conclusion != "success":
            if found is None:
                self.index.forget(key)  # its run was deleted from the history
            return None
        started = time.time()
        try:
            self._copy_summary(inst, found)
        except OSError as err:
            self.warn(inst, f"result cache: cannot copy the job's summary ({_why(err)}); it runs")
            return None
        self.copy_results(found.id, self.settings.run_number, inst.key)
        with self._lock:
            self._origins[inst.key] = (key, entry.run)
        return JobRun(
            key=inst.key,
            name=inst.name,
            job_id=inst.job_id,
            status=Status.SUCCESS,
            conclusion=Status.SUCCESS,
            reason=f"{CACHED_REASON_PREFIX}{entry.run})",
            matrix=dict(inst.matrix),
            outputs=dict(entry.outputs),
            started=started,
            finished=time.time(),
            runner=CACHED_RUNNER,
        )

    def _copy_summary(self, inst: JobInstance, found: FinishedJob) -> None:
        """The job's step summaries, so the run's report still shows them."""
        from amoskys.run.job import slug

        source = self.settings.state_dir / found.run_dir / "summaries" / f"{slug(inst.name)}.md"
        if source.is_file():
            target = self.settings.run_dir / "summaries" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def _why(err: OSError) -> str:
    """``strerror: file`` of an OSError, without Python's ``[Errno n]``."""
    if err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    return err.strerror or str(err)


def served_from_cache(result: JobRun) -> bool:
    """Whether ``result`` is a job instance served from the result cache."""
    return result.runner == CACHED_RUNNER
