"""RFC 9457 problem details: every API error, one shape, carrying accord's codes.

``code`` is the same stable code the CLI prints (``error [code]: ...``) and the
quarantine records (``accord-reason``), so an agency system matches one
vocabulary whichever way it came in. ``type`` is a URN built from it, so it is
stable too and never a link that could rot.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from accord.errors import AccordError, ReasonCode, Refused

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details with accord's ``code`` and ``hint``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="urn:accord:problem:<code>")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="accord's stable error or reason code, e.g. not-entitled")
    hint: str | None = None


class ApiProblem(AccordError):
    """An error the API answers with a given HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.headers = headers or {}


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Unavailable",
}

# Refusals a caller cannot fix by changing the document: it is not allowed at all.
_FORBIDDEN = {
    ReasonCode.NOT_ENTITLED,
    ReasonCode.NOT_ORIGINATOR,
    ReasonCode.RELEASABILITY_VIOLATION,
    ReasonCode.SCOPE_VIOLATION,
}


def describe(status: int) -> str:
    return _TITLES.get(status, "Error")


def status_for(exc: AccordError) -> int:
    if isinstance(exc, ApiProblem):
        return exc.status
    if isinstance(exc, Refused):
        return 403 if exc.reason in _FORBIDDEN else 422
    return {"config-invalid": 400, "publish-failed": 503, "broker-error": 503}.get(exc.code, 500)


def problem(status: int, code: str, detail: str, *, hint: str | None = None) -> Problem:
    return Problem(
        type=f"urn:accord:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        hint=hint,
    )


def problem_response(p: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        p.model_dump(exclude_none=True),
        status_code=p.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def from_error(exc: AccordError) -> tuple[Problem, dict[str, str]]:
    status = status_for(exc)
    headers = exc.headers if isinstance(exc, ApiProblem) else {}
    return problem(status, exc.code, exc.message, hint=exc.hint), headers


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems an operation may answer."""
    return {s: {"model": Problem, "description": describe(s)} for s in statuses}
