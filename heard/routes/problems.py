"""The one shape every API error has (`{"detail": ...}`), and the error answers a route
declares in its OpenAPI document, so analysts' scripts know what each can answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldProblem(BaseModel):
    """One bad parameter or body field, as FastAPI's request validation names it."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"type": "less_than_equal", "loc": ["query", "limit"],
         "msg": "Input should be less than or equal to 1000", "input": "5000"}]})

    loc: list[str | int] = Field(description="Where: path, query, header or body, then the "
                                             "parameter's or field's name")
    msg: str = Field(description="What is wrong with it")
    type: str = Field(description="The kind of problem, e.g. missing or int_parsing")


class Problem(BaseModel):
    """An error: what went wrong in words, or (422) each problem of the request."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"detail": "no round 7"},
        {"detail": [{"type": "missing", "loc": ["body", "survey"], "msg": "Field required",
                     "input": {}}]},
        {"detail": ["3:5: question 'age': unknown type 'agee'"]}]})

    detail: str | list[FieldProblem] | list[str] = Field(
        description="What went wrong; for a 422, the list of what is wrong with the request "
                    "(each field named), or of a survey's problems by LINE:COL")


WHY = {
    400: "The body could not be read (not UTF-8, not a CSV or XLSX file)",
    401: "No bearer token, or one that is unknown, expired or revoked",
    403: "The token's role or communities do not allow this",
    404: "No such thing (or none in the token's communities)",
    409: "Not now: the round is not in a state that allows this",
    413: "The body is larger than heard accepts",
    422: "The request is invalid: each problem named (parameter or field and why)",
    503: "Not available now (the database unreachable, or a setup still missing); "
         "try again shortly",
}
AUTHORIZED = (401, 403, 422)  # what any route behind a token may answer
BODY = (400, 413)  # what any route reading a body may answer: not JSON (or YAML, CSV), too large


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, for its `responses=`: each a Problem, with why."""
    return {status: {"model": Problem, "description": WHY[status]} for status in statuses}


def media(kind: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A route's 200 answer that is a file of `kind` (a MIME type), not JSON."""
    return {200: {"content": {kind: {"schema": {"type": "string", "format": "binary"}}},
                  "description": description}}
