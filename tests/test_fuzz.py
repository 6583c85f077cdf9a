"""Schema fuzzing: schemathesis sends what the served OpenAPI document allows and what it does not, with
every check on and operations chained in its stateful phase, to a real server on this machine.

No answer may be a server error. What the conformance checks still flag is printed per check, as
figures, and does not fail the run; intended behaviour they flag is listed once, in DEVIATIONS.
The seed is fixed and the examples bounded, so a run is repeatable and takes a few minutes at most.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.core.transport import Response
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.recorder import Interaction

from tests.conftest import Tenant
from tests.factories import create
from tests.processes import Server

pytestmark = pytest.mark.fuzz

SEED = 20261207
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# Test cases per operation and phase; a stateful scenario chains at most STATEFUL_STEPS calls.
MAX_EXAMPLES = 5
STATEFUL_STEPS = 20
# A safety net, not the budget: a run takes about two minutes here and is stopped (failing) at this.
MAX_SECONDS = 300
REQUEST_TIMEOUT_SECONDS = 30
# The live event stream never ends by itself: its parameters are checked before it starts, then it is
# read this long and left (otherwise each call of it would wait for the timeout above).
STREAM_SECONDS = 2

# Operations the run leaves out, and why.
EXCLUDED = {
    ("DELETE", "/v1/api-keys/{api_key_id}"): (
        "it would revoke the key the run authenticates with, and every later answer would be a 401 "
        "(revocation is tested in tests/test_auth.py)"
    ),
}

# The checks that compare an answer with what the document says of it: none may flag one.
CONFORMANCE = frozenset(
    {
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "allow_header_conformance",
        "unsupported_method",
    }
)

# What the checks flag that is the service's intended behaviour: (check, problem code) → why.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("positive_data_acceptance", "invalid_cursor"): (
        "a cursor is opaque: only a next_cursor the service gave is one, any other string is a 400"
    ),
    ("positive_data_acceptance", "idempotency_key_reused"): (
        "an Idempotency-Key sent again with another body is refused (422), never run a second time"
    ),
    ("positive_data_acceptance", "unsafe_url"): (
        "a webhook must point to a public address, or to a network the settings allow"
    ),
}


@dataclass
class Findings:
    """What one run found."""

    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    # Answers that break the documented contract: their status, media type, body or headers.
    nonconforming: list[str] = field(default_factory=list)
    flagged: Counter[str] = field(default_factory=Counter)
    deviations: Counter[tuple[str, str]] = field(default_factory=Counter)
    fuzzer_errors: list[str] = field(default_factory=list)
    transitions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stopped: bool = False

    def _links(self) -> list[str]:
        if not self.transitions:
            return []
        return [
            f"  stateful links followed: {sum(self.transitions.values())} "
            f"({len(self.transitions)} distinct); the most followed:",
            *(f"    {link}: {count}" for link, count in self.transitions.most_common(10)),
        ]

    def report(self, role: str) -> str:
        return "\n".join(
            [
                f"schema fuzzing as {role}: {self.requests} requests in {self.seconds:.0f} s, "
                f"{len(self.server_errors)} server errors",
                *(f"  flagged by {check}: {count}" for check, count in sorted(self.flagged.items())),
                *(
                    f"  intended, flagged by {check} ({code}): {count}"
                    for (check, code), count in sorted(self.deviations.items())
                ),
                *self._links(),
                *(f"  error of the fuzzer itself: {error}" for error in self.fuzzer_errors),
                *(f"  server error: {error}" for error in self.server_errors),
                *(f"  not as documented: {answer}" for answer in self.nonconforming),
            ]
        )


def fuzz(base_url: str, token: str, phases: Sequence[str], max_examples: int) -> Findings:
    """Run schemathesis over the served document; blocking, so call it off the event loop."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Nothing of an earlier run is kept or replayed (no cache, no example database), so the
            # seed alone decides a run, and nothing is written to the checkout.
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
            "workers": 2,
            "checks": {"enabled": True},
            "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
            "phases": {
                **{phase: {"enabled": phase in phases} for phase in PHASES},
                "stateful": {"enabled": "stateful" in phases, "max-steps": STATEFUL_STEPS},
            },
            "operations": [
                *(
                    {"include-method": method, "include-path": path, "enabled": False}
                    for method, path in EXCLUDED
                ),
                {"include-path": "/v1/events/stream", "request-timeout": STREAM_SECONDS},
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    findings = Findings()
    started = time.monotonic()
    stream = from_schema(schema).execute()
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            _record(findings, event)
        elif isinstance(event, events.NonFatalError):
            findings.fuzzer_errors.append(f"{event.label}: {type(event.value).__name__}: {event.value}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        if not findings.stopped and time.monotonic() - started > MAX_SECONDS:
            findings.stopped = True
            stream.stop()
    findings.seconds = time.monotonic() - started
    return findings


def _record(findings: Findings, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    findings.requests += len(recorder.interactions)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE:
                continue
            interaction = recorder.interactions.get(case_id)
            code = _problem_code(interaction.response if interaction else None)
            if check.name == "not_a_server_error":
                findings.server_errors.append(_reproduction(interaction, recorder.label))
            elif check.name in CONFORMANCE:
                findings.nonconforming.append(
                    f"{check.name}: {check.failure_info.failure.title if check.failure_info else ''}: "
                    + _reproduction(interaction, recorder.label)
                )
            elif (check.name, code) in DEVIATIONS:
                findings.deviations[check.name, code] += 1
            else:
                findings.flagged[check.name] += 1
    for node in recorder.cases.values():
        if node.transition is not None and node.is_transition_applied:
            findings.transitions[node.transition.id] += 1


def _problem_code(response: Response | None) -> str:
    if response is None or "json" not in (response.headers.get("content-type") or [""])[0]:
        return ""
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def _reproduction(interaction: Interaction | None, label: str) -> str:
    if interaction is None:
        return label
    request, response = interaction.request, interaction.response
    status = response.status_code if response is not None else "no answer"
    body = request.body.decode(errors="replace")[:500] if request.body else ""
    return f"{label}: {request.method} {request.uri} {body} → {status}"


async def test_fuzzing_the_served_document_finds_no_server_error(
    server: Server, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    """As an admin every phase runs, the stateful one included; as a viewer, whose writes are all
    refused, the coverage and fuzzing phases."""
    viewer_key = (await create(tenant.admin, "/v1/api-keys", {"name": "fuzzing", "role": "viewer"}))["key"]
    runs = {
        "admin": await asyncio.to_thread(fuzz, server.url, tenant.admin_key, PHASES, MAX_EXAMPLES),
        "viewer": await asyncio.to_thread(fuzz, server.url, viewer_key, ("coverage", "fuzzing"), 2),
    }
    with capsys.disabled():
        for role, findings in runs.items():
            print("\n" + findings.report(role))
    for role, findings in runs.items():
        assert not findings.stopped, f"the run as {role} took more than {MAX_SECONDS} s"
        assert not findings.server_errors, "\n".join([*findings.server_errors, server.errors()])
        assert not findings.nonconforming, "\n".join(findings.nonconforming)
    assert runs["admin"].requests > 500
    assert runs["admin"].transitions, "the stateful phase followed no link"
