"""The ``github`` context and the event payload, synthesised from an event and the repository.

GitHub fills ``github.*`` from the webhook that started the run; locally we build the same
shape from the :class:`~amoskys.workflow.events.Event` and a few facts about the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amoskys.workflow.events import Event

ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class RepoFacts:
    """What the github context needs to know about the repository."""

    sha: str = ZERO_SHA
    repository: str = "local/repository"
    actor: str = "amoskys"
    workspace: str = ""
    server_url: str = "https://github.com"
    default_branch: str = "main"


def ref_name(ref: str) -> str:
    """``refs/heads/feature/x`` -> ``feature/x``; ``refs/tags/v1`` -> ``v1``."""
    for prefix in ("refs/heads/", "refs/tags/", "refs/pull/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def ref_type(ref: str) -> str:
    return "tag" if ref.startswith("refs/tags/") else "branch"


def event_payload(event: Event, facts: RepoFacts) -> dict[str, Any]:
    """A webhook-shaped payload with the fields workflows commonly read."""
    repo = {
        "full_name": facts.repository,
        "name": facts.repository.rsplit("/", 1)[-1],
        "owner": {"login": facts.repository.split("/", 1)[0]},
        "default_branch": facts.default_branch,
    }
    sender = {"login": facts.actor}
    if event.name in ("pull_request", "pull_request_target"):
        base = ref_name(event.base_ref or f"refs/heads/{facts.default_branch}")
        return {
            "action": event.action or "opened",
            "number": 1,
            "pull_request": {
                "number": 1,
                "head": {"ref": ref_name(event.ref), "sha": facts.sha},
                "base": {"ref": base, "sha": facts.sha},
                "draft": False,
                "title": "local pull request",
            },
            "repository": repo,
            "sender": sender,
        }
    if event.name in ("workflow_dispatch", "workflow_call"):
        return {
            "inputs": dict(event.inputs),
            "ref": event.ref,
            "repository": repo,
            "sender": sender,
        }
    if event.name == "schedule":
        return {"schedule": event.cron or "", "repository": repo}
    if event.name == "push":
        return {
            "ref": event.ref,
            "before": ZERO_SHA,
            "after": facts.sha,
            "created": False,
            "deleted": False,
            "forced": False,
            "head_commit": {"id": facts.sha, "message": ""},
            "commits": [],
            "repository": repo,
            "pusher": {"name": facts.actor},
            "sender": sender,
        }
    payload: dict[str, Any] = {"repository": repo, "sender": sender}
    if event.action:
        payload["action"] = event.action
    return payload


def github_context(event: Event, facts: RepoFacts) -> dict[str, Any]:
    """The ``github`` context as a step would see it."""
    is_pr = event.name in ("pull_request", "pull_request_target")
    return {
        "event_name": event.name,
        "event": event_payload(event, facts),
        "ref": event.ref,
        "ref_name": ref_name(event.ref),
        "ref_type": ref_type(event.ref),
        "ref_protected": False,
        "sha": facts.sha,
        "repository": facts.repository,
        "repository_owner": facts.repository.split("/", 1)[0],
        "actor": facts.actor,
        "triggering_actor": facts.actor,
        "workspace": facts.workspace,
        "server_url": facts.server_url,
        "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql",
        "base_ref": ref_name(event.base_ref) if is_pr and event.base_ref else "",
        "head_ref": ref_name(event.ref) if is_pr else "",
        "run_id": "0",
        "run_number": "0",
        "run_attempt": "1",
        "retention_days": "90",
        "workflow": "",
        "job": "",
        "action": "",
        "token": "",  # no token locally; steps get none  # nosec B105
    }
