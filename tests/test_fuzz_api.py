"""Fuzzing the JSON API with schemathesis against its own OpenAPI document (/schema/openapi.json).

Every operation gets generated requests, valid ones and (in a second pass) invalid ones, sent
with a staff token and then with a participant's, half of them aimed at ids that exist in a
small world (a cohort, its sessions and enrollments, a case study, a note, an outbox message).
Every response must be no 5xx, have a declared status code and content type, and a body that
matches the declared schema. Failures are collected (not shrunk) and reported together.

The app runs in this test's event loop (its database connections belong to it), so hypothesis
runs in a worker thread and hands each request to the loop through an httpx ASGI client.
FUZZ_EXAMPLES sets the number of examples per operation and mode (default 12).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    CheckFunction,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.conftest import World

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BASE_URL = "http://testserver"
Send = Callable[[requests.PreparedRequest], httpx.Response]


@dataclass
class Report:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # first failure per operation


async def _known_ids(world: World) -> dict[str, int]:
    """Ids that exist, by path parameter name: generated requests use them half the time."""
    from case_studies.services import CaseInput, create_case
    from case_studies.tables import DiscussionNote
    from facilitators.services import CurrentUser
    from mail import outbox
    from mail.tables import OutboxMessage
    from sessions.tables import Enrollment, Session

    session = (
        await Session.select(Session.id)
        .where(Session.cohort == world.cohort_a)
        .order_by(Session.position)
        .first()
    )
    enrollment = (
        await Enrollment.select(Enrollment.id).where(Enrollment.cohort == world.cohort_a).first()
    )
    assert session is not None and enrollment is not None
    facilitator = CurrentUser(
        world.facilitator_a.id, "Fac A", world.facilitator_a.email, frozenset({"facilitator"})
    )
    case_id = await create_case(
        CaseInput("A fuzzed case", "A dilemma.", ("Why?",), "Notes."), actor=facilitator
    )
    note = await DiscussionNote.insert(
        DiscussionNote(
            session=session["id"], key_issues="Expectations.", updated_by=world.facilitator_a.id
        )
    ).returning(DiscussionNote.id)
    await outbox.enqueue(
        [
            outbox.NewMessage(
                "fuzz",
                "test",
                world.participant_a.email,
                "Hello",
                b"Subject: Hello\r\n\r\nHi\r\n",
                "<fuzz@example.org>",
                cohort_id=world.cohort_a,
            )
        ]
    )
    message = (
        await OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.key == "fuzz").first()
    )
    assert message is not None
    return {
        "cohort_id": world.cohort_a,
        "session_id": session["id"],
        "enrollment_id": enrollment["id"],
        "case_id": case_id,
        "note_id": note[0]["id"],
        "message_id": message["id"],
    }


def _fuzz(
    schema: schemathesis.BaseSchema,
    send: Send,
    token: str,
    known: dict[str, int],
    report: Report,
    mode: GenerationMode,
) -> None:
    """Run every operation of the schema with generated cases (in a worker thread)."""
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), (
            f"the schema has an operation schemathesis cannot read: {result}"
        )
        _fuzz_operation(result.ok(), send, token, known, report, mode)


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    send: Send,
    token: str,
    known: dict[str, int],
    report: Report,
    mode: GenerationMode,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    label = f"{operation.label} [{mode.value}]"

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
    def run(case: schemathesis.Case, use_known: bool) -> None:
        if use_known:
            for name in case.path_parameters or {}:
                if name in known:
                    case.path_parameters[name] = known[name]
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        prepared = requests.Request(
            **{k: v for k, v in kwargs.items() if k in _REQUEST_ARGS}
        ).prepare()
        response = send(prepared)
        report.requests += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:
            if label not in report.failures:
                report.failures[label] = (
                    f"{prepared.method} {prepared.url} -> {response.status_code} "
                    f"{response.text[:300]!r}\n{str(failure)[:1500]}"
                )

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to make invalid (no parameters, no body): the positive pass covered it.
        assert mode is GenerationMode.NEGATIVE, label


_REQUEST_ARGS = {"method", "url", "headers", "params", "data", "json", "files", "cookies"}


async def _run_fuzz(app: Any, world: World, token: str) -> Report:
    """Fuzz every operation, positive then negative, as the owner of `token`."""
    known = await _known_ids(world)
    loop = asyncio.get_running_loop()
    report = Report()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        raw = (await client.get("/schema/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(raw)

        async def request(prepared: requests.PreparedRequest) -> httpx.Response:
            body = prepared.body
            assert body is None or isinstance(body, bytes | str), type(body)
            response = await client.request(
                prepared.method or "GET",
                prepared.url or "/",
                headers={
                    k: v if isinstance(v, str) else v.decode() for k, v in prepared.headers.items()
                },
                content=body.encode() if isinstance(body, str) else body,
            )
            await response.aread()
            return response

        def send(prepared: requests.PreparedRequest) -> httpx.Response:
            return asyncio.run_coroutine_threadsafe(request(prepared), loop).result(timeout=60)

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            await asyncio.to_thread(_fuzz, schema, send, token, known, report, mode)
    return report


def _explain(report: Report) -> str:
    lines = [f"{report.requests} requests, statuses {sorted(report.statuses.items())}"]
    for label, failure in sorted(report.failures.items()):
        lines.append(f"--- {label}\n{failure}")
    return "\n".join(lines)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("who", ["staff", "participant_a"])
async def test_the_api_answers_as_its_schema_says(app: Any, world: World, who: str) -> None:
    person = world.as_role(who)
    assert person is not None
    started = dt.datetime.now()
    report = await _run_fuzz(app, world, person.token)
    print(f"{who}: {_explain(report)} in {dt.datetime.now() - started}")
    assert not report.failures, _explain(report)
    # The fuzzing reached the app's answers, not only its front door.
    assert report.statuses.get(200, 0) + report.statuses.get(201, 0) > 0
