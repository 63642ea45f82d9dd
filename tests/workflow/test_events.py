"""Which workflows an event triggers (GitHub's documented rules) and typed dispatch inputs."""

from __future__ import annotations

from typing import Any

import pytest

from amoskys.errors import AmoskysError, Location
from amoskys.model import InputSpec, Trigger, Workflow
from amoskys.workflow.events import (
    DEFAULT_PULL_REQUEST_TYPES,
    Event,
    TriggerDecision,
    normalise_ref,
    resolve_inputs,
    trigger_decision,
)


def workflow(*triggers: Trigger) -> Workflow:
    return Workflow(path=".github/workflows/test.yml", triggers=triggers)


# The seed's .github/workflows/ci-cd.yml
SEED = workflow(
    Trigger("push", branches=("main", "develop")),
    Trigger("pull_request", branches=("main",)),
    Trigger("schedule", crons=("0 6 * * 1",)),
)


def fires(wf: Workflow, event: Event) -> bool:
    decision = trigger_decision(wf, event)
    assert isinstance(decision, TriggerDecision) and decision.reason
    return decision.triggered


# --- the seed -------------------------------------------------------------------------------


def test_seed_push_main() -> None:
    assert fires(SEED, Event("push", ref="refs/heads/main"))
    assert fires(SEED, Event("push", ref="develop"))


def test_seed_push_feature_branch() -> None:
    decision = trigger_decision(SEED, Event("push", ref="refs/heads/feature/x"))
    assert not decision.triggered
    assert decision.reason == "push to refs/heads/feature/x: branch not in [main, develop]"


def test_seed_pull_request_filters_the_base_branch() -> None:
    assert fires(SEED, Event("pull_request", ref="refs/heads/feature/x", base_ref="main"))
    assert not fires(SEED, Event("pull_request", ref="refs/heads/main", base_ref="develop"))


def test_seed_schedule() -> None:
    assert fires(SEED, Event("schedule"))
    assert fires(SEED, Event("schedule", cron="0 6 * * 1"))
    assert not fires(SEED, Event("schedule", cron="0 7 * * 1"))


def test_seed_tag_push_does_not_fire() -> None:
    decision = trigger_decision(SEED, Event("push", ref="refs/tags/v1.0.0"))
    assert not decision.triggered
    assert "only branch filters" in decision.reason


def test_seed_unlisted_events() -> None:
    assert not fires(SEED, Event("workflow_dispatch"))
    assert not fires(SEED, Event("release", action="published"))
    assert "not among" in trigger_decision(SEED, Event("workflow_call")).reason


# --- push: branches, tags, paths -------------------------------------------------------------


def test_push_without_filters_fires_for_branches_and_tags() -> None:
    wf = workflow(Trigger("push"))
    assert fires(wf, Event("push", ref="refs/heads/anything/at/all"))
    assert fires(wf, Event("push", ref="refs/tags/v9"))


def test_push_tags_only_does_not_fire_for_branches() -> None:
    wf = workflow(Trigger("push", tags=("v1.**",)))
    assert fires(wf, Event("push", ref="refs/tags/v1.2.3"))
    assert not fires(wf, Event("push", ref="refs/tags/v2.0.0"))
    decision = trigger_decision(wf, Event("push", ref="refs/heads/main"))
    assert not decision.triggered and "only tag filters" in decision.reason


def test_push_tags_ignore_only_still_excludes_branches() -> None:
    wf = workflow(Trigger("push", tags_ignore=("v0.*",)))
    assert fires(wf, Event("push", ref="refs/tags/v1.0"))
    assert not fires(wf, Event("push", ref="refs/tags/v0.9"))
    assert not fires(wf, Event("push", ref="refs/heads/main"))


def test_push_branches_ignore_only_excludes_tags() -> None:
    wf = workflow(Trigger("push", branches_ignore=("mona/octocat", "releases/**-alpha")))
    assert fires(wf, Event("push", ref="refs/heads/main"))
    assert not fires(wf, Event("push", ref="refs/heads/releases/beta/3-alpha"))
    assert not fires(wf, Event("push", ref="refs/tags/v1"))


def test_push_branches_and_tags_fire_for_either() -> None:
    wf = workflow(Trigger("push", branches=("main", "mona/octocat", "releases/**"), tags=("v2",)))
    assert fires(wf, Event("push", ref="refs/heads/releases/10"))
    assert fires(wf, Event("push", ref="refs/tags/v2"))
    assert not fires(wf, Event("push", ref="refs/tags/v1.9"))
    assert not fires(wf, Event("push", ref="refs/heads/feature"))


def test_push_documented_branch_negation() -> None:
    wf = workflow(Trigger("push", branches=("releases/**", "!releases/**-alpha")))
    assert fires(wf, Event("push", ref="refs/heads/releases/10"))
    assert fires(wf, Event("push", ref="refs/heads/releases/beta/mona"))
    assert not fires(wf, Event("push", ref="refs/heads/releases/10-alpha"))
    assert not fires(wf, Event("push", ref="refs/heads/releases/beta/3-alpha"))


def test_push_matches_the_short_branch_name() -> None:
    wf = workflow(Trigger("push", branches=("feature/*",)))
    assert fires(wf, Event("push", ref="refs/heads/feature/x"))
    assert not fires(wf, Event("push", ref="refs/heads/feature/x/y"))


def test_push_branches_and_paths_must_both_pass() -> None:
    wf = workflow(Trigger("push", branches=("releases/**",), paths=("**.js",)))
    assert fires(wf, Event("push", ref="refs/heads/releases/1", changed_paths=("src/a.js",)))
    assert not fires(wf, Event("push", ref="refs/heads/main", changed_paths=("src/a.js",)))
    decision = trigger_decision(
        wf, Event("push", ref="refs/heads/releases/1", changed_paths=("README.md",))
    )
    assert not decision.triggered and "no changed file matches paths [**.js]" in decision.reason


def test_push_paths_unknown_changes_pass_and_empty_changes_do_not() -> None:
    wf = workflow(Trigger("push", paths=("src/**",)))
    assert fires(wf, Event("push"))
    assert not fires(wf, Event("push", changed_paths=()))


def test_push_paths_ignore() -> None:
    wf = workflow(Trigger("push", paths_ignore=("docs/**",)))
    assert not fires(wf, Event("push", changed_paths=("docs/a.md",)))
    assert fires(wf, Event("push", changed_paths=("docs/a.md", "src/b.py")))
    reason = trigger_decision(wf, Event("push", changed_paths=("docs/a.md",))).reason
    assert "every changed file matches paths-ignore [docs/**]" in reason


def test_tag_push_ignores_path_filters() -> None:
    wf = workflow(Trigger("push", tags=("v*",), paths=("src/**",)))
    assert fires(wf, Event("push", ref="refs/tags/v1", changed_paths=("docs/a.md",)))
    assert fires(wf, Event("push", ref="refs/tags/v1", changed_paths=()))


def test_push_paths_only_does_not_restrict_refs() -> None:
    wf = workflow(Trigger("push", paths=("src/**",)))
    assert fires(wf, Event("push", ref="refs/heads/any", changed_paths=("src/a",)))
    assert fires(wf, Event("push", ref="refs/tags/v1", changed_paths=("docs/a",)))


def test_branches_and_branches_ignore_together_do_not_crash() -> None:
    wf = workflow(Trigger("push", branches=("releases/**",), branches_ignore=("**-alpha",)))
    assert fires(wf, Event("push", ref="refs/heads/releases/1"))
    assert not fires(wf, Event("push", ref="refs/heads/releases/1-alpha"))


def test_push_ignores_types() -> None:
    assert fires(workflow(Trigger("push", types=("created",))), Event("push"))


def test_invalid_pattern_is_an_amoskys_error() -> None:
    wf = workflow(Trigger("push", branches=("release/[0-9",)))
    with pytest.raises(AmoskysError, match="invalid filter pattern"):
        trigger_decision(wf, Event("push"))


# --- pull_request / pull_request_target --------------------------------------------------------


@pytest.mark.parametrize("name", ["pull_request", "pull_request_target"])
def test_pull_request_default_types(name: str) -> None:
    wf = workflow(Trigger(name))
    assert DEFAULT_PULL_REQUEST_TYPES == ("opened", "synchronize", "reopened")
    for action in DEFAULT_PULL_REQUEST_TYPES:
        assert fires(wf, Event(name, action=action))
    assert fires(wf, Event(name))  # no action: the default ones
    decision = trigger_decision(wf, Event(name, action="closed"))
    assert not decision.triggered and "default types" in decision.reason
    assert not fires(wf, Event(name, action="labeled"))


def test_pull_request_listed_types() -> None:
    wf = workflow(Trigger("pull_request", types=("closed", "labeled")))
    assert fires(wf, Event("pull_request", action="closed"))
    assert not fires(wf, Event("pull_request", action="opened"))
    assert not fires(wf, Event("pull_request"))  # the default types are not listed
    assert fires(workflow(Trigger("pull_request", types=("opened",))), Event("pull_request"))


def test_pull_request_branches_use_the_base_not_the_head() -> None:
    wf = workflow(Trigger("pull_request", types=("opened",), branches=("releases/**",)))
    opened = Event("pull_request", action="opened", ref="refs/heads/releases/x", base_ref="main")
    assert not fires(wf, opened)
    into_release = Event(
        "pull_request", action="opened", ref="refs/heads/feature", base_ref="refs/heads/releases/2"
    )
    assert fires(wf, into_release)
    assert "into refs/heads/releases/2" in trigger_decision(wf, into_release).reason


def test_pull_request_branches_ignore_and_negation() -> None:
    ignore = workflow(Trigger("pull_request", branches_ignore=("mona/octocat",)))
    assert not fires(ignore, Event("pull_request", base_ref="mona/octocat"))
    assert fires(ignore, Event("pull_request", base_ref="main"))
    negate = workflow(Trigger("pull_request", branches=("releases/**", "!releases/**-alpha")))
    assert fires(negate, Event("pull_request", base_ref="releases/beta/mona"))
    assert not fires(negate, Event("pull_request", base_ref="releases/10-alpha"))


def test_pull_request_unknown_base_passes_branch_filters() -> None:
    wf = workflow(Trigger("pull_request", branches=("main",)))
    decision = trigger_decision(wf, Event("pull_request"))
    assert decision.triggered and "unknown base" in decision.reason


def test_pull_request_paths() -> None:
    wf = workflow(Trigger("pull_request", branches=("releases/**",), paths=("**.js",)))
    js = Event("pull_request", base_ref="releases/1", changed_paths=("app.js",))
    md = Event("pull_request", base_ref="releases/1", changed_paths=("README.md",))
    assert fires(wf, js)
    assert not fires(wf, md)


# --- schedule, dispatch, call, other events ------------------------------------------------------


def test_schedule_with_several_crons() -> None:
    wf = workflow(Trigger("schedule", crons=("30 5 * * 1,3", "30 5 * * 2,4")))
    assert fires(wf, Event("schedule", cron="30 5 * * 2,4"))
    assert fires(wf, Event("schedule", cron="30  5 * * 2,4"))  # spacing does not matter
    assert not fires(wf, Event("schedule", cron="30 5 * * 5"))
    assert fires(wf, Event("schedule", ref="refs/heads/anything"))  # the ref is the caller's


def test_schedule_without_crons() -> None:
    assert not fires(workflow(Trigger("schedule")), Event("schedule"))


@pytest.mark.parametrize("name", ["workflow_dispatch", "workflow_call", "repository_dispatch"])
def test_listed_events_fire(name: str) -> None:
    assert fires(workflow(Trigger(name)), Event(name))
    assert not fires(workflow(Trigger("push")), Event(name))


def test_other_event_types_apply_when_both_sides_have_them() -> None:
    wf = workflow(Trigger("release", types=("published",)))
    assert fires(wf, Event("release", action="published"))
    decision = trigger_decision(wf, Event("release", action="created"))
    assert not decision.triggered and "not in types [published]" in decision.reason
    assert fires(wf, Event("release"))  # no action given: not filtered
    assert fires(workflow(Trigger("issues")), Event("issues", action="opened"))


def test_workflow_run_branches() -> None:
    wf = workflow(
        Trigger("workflow_run", workflows=("CI",), types=("completed",), branches=("main",))
    )
    assert fires(wf, Event("workflow_run", action="completed", ref="main"))
    assert not fires(wf, Event("workflow_run", action="completed", ref="feature"))
    assert not fires(wf, Event("workflow_run", action="requested", ref="main"))


# --- normalise_ref --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("main", "refs/heads/main"),
        ("feature/x", "refs/heads/feature/x"),
        ("refs/tags/v1", "refs/tags/v1"),
        ("refs/heads/main", "refs/heads/main"),
        ("tags/v1", "refs/tags/v1"),
        ("heads/dev", "refs/heads/dev"),
        ("pull/7/merge", "refs/pull/7/merge"),
        (" main ", "refs/heads/main"),
    ],
)
def test_normalise_ref(given: str, expected: str) -> None:
    assert normalise_ref(given) == expected


def test_normalise_ref_prefix_and_empty() -> None:
    assert normalise_ref("v1", default_prefix="refs/tags/") == "refs/tags/v1"
    with pytest.raises(AmoskysError):
        normalise_ref("  ")


# --- resolve_inputs ---------------------------------------------------------------------------

AT = Location(".github/workflows/deploy.yml", 7, 7)

DISPATCH = Trigger(
    "workflow_dispatch",
    inputs=(
        InputSpec(
            "logLevel",
            type="choice",
            required=True,
            default="warning",
            options=("info", "warning", "debug"),
        ),
        InputSpec("print_tags", type="boolean", required=True, location=AT),
        InputSpec("tags", type="string", required=True),
        InputSpec("count", type="number", default=3),
        InputSpec("dry_run", type="boolean", default="false"),
        InputSpec("note", type="string"),
        InputSpec("env", type="environment"),
    ),
)


def test_resolve_inputs_types_and_defaults() -> None:
    resolved = resolve_inputs(DISPATCH, {"print_tags": "true", "tags": "smoke"})
    assert resolved == {
        "logLevel": "warning",
        "print_tags": True,
        "tags": "smoke",
        "count": 3,
        "dry_run": False,
        "note": "",
        "env": "",
    }
    assert resolved["print_tags"] is True and resolved["dry_run"] is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [("true", True), ("False", False), ("TRUE", True), (True, True), (False, False)],
)
def test_boolean_input(given: Any, expected: bool) -> None:
    resolved = resolve_inputs(DISPATCH, {"print_tags": given, "tags": "t"})
    assert resolved["print_tags"] is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("42", 42), ("-7", -7), ("2.5", 2.5), ("1e3", 1000.0), (" 8 ", 8), (4, 4), (0.5, 0.5)],
)
def test_number_input(given: Any, expected: float) -> None:
    value = resolve_inputs(DISPATCH, {"print_tags": "false", "tags": "t", "count": given})["count"]
    assert value == expected and type(value) is type(expected)


def test_choice_input() -> None:
    base = {"print_tags": "false", "tags": "t"}
    assert resolve_inputs(DISPATCH, {**base, "logLevel": "debug"})["logLevel"] == "debug"
    with pytest.raises(AmoskysError, match=r"'logLevel'.*one of \[info, warning, debug\]"):
        resolve_inputs(DISPATCH, {**base, "logLevel": "verbose"})


@pytest.mark.parametrize("bad", ["yes", "1", "", "on"])
def test_bad_boolean_names_the_input(bad: str) -> None:
    with pytest.raises(AmoskysError) as caught:
        resolve_inputs(DISPATCH, {"print_tags": bad, "tags": "t"})
    assert "input 'print_tags' of workflow_dispatch must be a boolean (true or false)" in str(
        caught.value
    )
    assert caught.value.location == AT


@pytest.mark.parametrize("bad", ["ten", "", "nan", "inf", True])
def test_bad_number_names_the_input(bad: Any) -> None:
    with pytest.raises(AmoskysError, match="input 'count' of workflow_dispatch must be a number"):
        resolve_inputs(DISPATCH, {"print_tags": "true", "tags": "t", "count": bad})


def test_required_input_missing() -> None:
    with pytest.raises(AmoskysError, match="input 'tags' of workflow_dispatch is required"):
        resolve_inputs(DISPATCH, {"print_tags": "true"})
    with pytest.raises(AmoskysError, match="'print_tags'") as caught:
        resolve_inputs(DISPATCH, {"tags": "t"})
    assert caught.value.location == AT


def test_unknown_input_is_an_error() -> None:
    with pytest.raises(AmoskysError, match="workflow_dispatch has no input 'colour'") as caught:
        resolve_inputs(DISPATCH, {"print_tags": "true", "tags": "t", "colour": "red"})
    assert caught.value.hint is not None and "logLevel" in caught.value.hint
    with pytest.raises(AmoskysError, match="no input 'x'"):
        resolve_inputs(Trigger("workflow_dispatch"), {"x": "1"})


def test_workflow_call_defaults_by_type() -> None:
    call = Trigger(
        "workflow_call",
        inputs=(
            InputSpec("username", default="john-doe"),
            InputSpec("flag", type="boolean"),
            InputSpec("n", type="number"),
            InputSpec("s", type="string"),
            InputSpec("ref", type="string", default="${{ github.ref }}"),
            InputSpec("deep", type="boolean", default="${{ github.event_name == 'push' }}"),
        ),
    )
    assert resolve_inputs(call, {}) == {
        "username": "john-doe",
        "flag": False,
        "n": 0,
        "s": "",
        "ref": "${{ github.ref }}",
        "deep": "${{ github.event_name == 'push' }}",
    }
    assert resolve_inputs(call, {"username": "mona", "n": "3"})["n"] == 3


def test_string_inputs_from_yaml_scalars_become_text() -> None:
    call = Trigger("workflow_call", inputs=(InputSpec("version"),))
    assert resolve_inputs(call, {"version": 3})["version"] == "3"
    assert resolve_inputs(call, {"version": True})["version"] == "true"
    with pytest.raises(AmoskysError, match="must be a string"):
        resolve_inputs(call, {"version": ["3.11"]})


def test_invalid_default_is_reported() -> None:
    bad = Trigger(
        "workflow_dispatch",
        inputs=(InputSpec("level", type="choice", default="x", options=("a", "b")),),
    )
    with pytest.raises(AmoskysError, match=r"'level'.*one of \[a, b\]"):
        resolve_inputs(bad, {})
