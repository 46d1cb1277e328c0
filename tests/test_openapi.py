"""The OpenAPI document checked against the running app: schemathesis calls every /api/v1
operation in-process with an admin token (so routes run, not just refuse) and generated
parameters and bodies, and fails on any 5xx or any answer the document does not describe
(status, content type, body, headers).

A schema-valid request may still be refused with a 422 naming what is wrong: what a JSON
schema cannot say (a survey's YAML, a span like "2h") is checked by heard itself, so that
one check (positive data acceptance) is left out."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from surveys import catalog
from surveys.database import session_scope
from surveys.tables import Contact, utcnow
from surveys.tokens import create_token
from tests.pipeline import client_for
from worker import rounds

EXAMPLES = 10  # per operation and mode: enough to find a crash, under a minute in all
# bodies that are a file (CSV, XLSX, YAML): any bytes are one, so none is "schema-violating"
FILE_BODIES = ("/api/v1/contacts/import", "/api/v1/surveys")


@pytest.fixture
def admin_token(runtime) -> str:
    """An admin's token, and something for it to find: a round of the example survey with
    people invited to it."""
    client_for(runtime)  # registers the test and example surveys
    with session_scope(runtime.database_url) as db:
        rounds.create_round(db, catalog.latest(db, "water-access"), "kibera")
        db.add_all(Contact(channel="sms", address=f"+2547120000{number:02d}", language="en",
                           community="kibera", consent=True, opted_out=False, profile={},
                           created_at=utcnow()) for number in range(3))
        return create_token(db, "admin", "schemathesis")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_every_api_operation_answers_as_its_openapi_document_says(runtime, admin_token,
                                                                  monkeypatch):
    from heard.app import create_app

    monkeypatch.setenv("HEARD_SIMULATOR", "token")  # as in production: a token, or 401

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime)).include(
        path_regex="^/api/v1/")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _called(operation, mode, admin_token)
            except Unsatisfiable:  # no parameter to get wrong (GET /api/v1/surveys)
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as error:  # every operation's, reported together
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)


def _called(operation, mode: GenerationMode, token: str) -> None:
    """A few generated requests to one operation, each answer checked against the document."""

    @given(operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def call(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                               excluded_checks=[checks.positive_data_acceptance, *(
                                   [checks.negative_data_rejection]
                                   if operation.path in FILE_BODIES else [])])

    call()
