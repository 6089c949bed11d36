"""The HTTP API of one agency's node (FastAPI; see docs/api.md for why).

Every operation needs credentials; every error is RFC 9457 problem details with
accord's stable code. Bodies are bounded before they are read.
"""

# No `from __future__ import annotations`: FastAPI resolves the route annotations,
# some of which are aliases local to create_app.

import asyncio
import base64
import contextlib
import json
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord import __version__
from accord.api.gateway import Gateway
from accord.api.idempotency import request_digest
from accord.api.models import (
    InboxItem,
    InboxMessage,
    InboxPage,
    NodeStatus,
    Published,
    PublishRequest,
    QuarantineItem,
    QuarantinePage,
    ReplayOutcome,
    RetractRequest,
    SupersedeRequest,
)
from accord.api.problems import (
    PROBLEM_MEDIA_TYPE,
    ApiProblem,
    from_error,
    problem,
    problem_response,
    responses,
)
from accord.api.problems import describe as _describe
from accord.api.views import MAX_PAGE, decode_cursor, encode_cursor
from accord.errors import AccordError
from accord.observability.logs import get_logger
from accord.observability.trace import TRACEPARENT, bound, parse_traceparent
from accord.parties import AGENCY_PATTERN

log = get_logger(__name__)

MAX_BODY_BYTES = 1_048_576
"""As the receiver's record limit: nothing larger could be published anyway."""
MAX_WAIT_S = 30.0

_bearer = HTTPBearer(auto_error=False, description="a client token from `accord api token`")

DESCRIPTION = """\
The HTTP API of one agency's accord node. The node signs, verifies, logs and
speaks Kafka; the agency's systems call this API on loopback (or over mutual
TLS) and never hold a signing key. Errors are RFC 9457 problem details whose
`code` is accord's stable reason code.
"""


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="accord node API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        responses=responses(400, 401, 500),
        dependencies=[Depends(_known_query)],
    )
    _install_errors(app)
    app.add_middleware(_BoundedBody)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    def client(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        tokens = gateway.api.tokens
        if tokens is None:
            return "mtls"  # the TLS handshake already demanded a client certificate
        name = tokens.client_for(credentials.credentials) if credentials else None
        if name is None:
            raise ApiProblem(
                401,
                "unauthorized",
                "missing or unknown bearer token"
                if credentials is None
                else "unknown bearer token",
                hint="send `Authorization: Bearer <token>` with a token from `accord api token`",
                headers={"WWW-Authenticate": 'Bearer realm="accord"'},
            )
        return name

    Client = Annotated[str, Depends(client)]
    IdempotencyKey = Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=r"^[\x21-\x7e]{1,128}$",
            description="a retried request with the same key publishes once and gets the same "
            "answer (1-128 visible ASCII characters)",
        ),
    ]
    MessageId = Annotated[
        str,
        Path(
            pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
            r"[0-9a-f]{4}-[0-9a-f]{12}$",
            description="a message id (UUID, lower case)",
        ),
    ]

    async def answer(request: Request, client: str, key: str | None, **how: Any) -> Response:
        body = await request.body()
        # Trace: a caller's valid `traceparent` is continued, anything else ignored.
        caller = parse_traceparent(request.headers.get(TRACEPARENT))
        with bound(caller) if caller is not None else contextlib.nullcontext():
            status, payload, replayed = await gateway.publish_once(
                client, key, request_digest(request.method, request.url.path, body), **how
            )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(payload, status_code=status, media_type="application/json", headers=headers)

    publish_errors = responses(400, 403, 409, 413, 422, 503)

    @app.post(
        "/v1/messages",
        status_code=201,
        response_model=Published,
        responses=publish_errors,
        tags=["publish"],
        operation_id="publish",
    )
    async def publish(
        req: PublishRequest, request: Request, client: Client, key: IdempotencyKey = None
    ) -> Response:
        """Sign and publish a message as this node's agency; answers once the broker acked."""
        from accord.publisher.document import build_message

        def seal() -> Any:
            body, scope, area, label = build_message(
                req.model_dump(mode="json", exclude_none=True, exclude={"correlation_id"}),
                gateway.agency,
            )
            return gateway.publisher.seal(
                body, scope=scope, area=area, label=label, correlation_id=req.correlation_id
            )

        return await answer(request, client, key, seal=seal)

    @app.post(
        "/v1/messages/{message_id}/release",
        status_code=201,
        response_model=Published,
        responses=publish_errors,
        tags=["publish"],
        operation_id="release",
    )
    async def release(
        message_id: MessageId, request: Request, client: Client, key: IdempotencyKey = None
    ) -> Response:
        """Release one of this agency's bilateral messages to the trilateral scope."""
        return await answer(
            request,
            client,
            key,
            act=lambda: gateway.publisher.release_trilateral(message_id, gateway.node.trust),
        )

    def targeted(
        message_id: str, type_name: str, fields: dict[str, Any], label: dict[str, Any] | None
    ) -> Any:
        from accord.publisher.document import build_message

        original = gateway.original(message_id)
        doc = {
            "type": type_name,
            "scope": original.header.scope,
            "area": original.header.area,
            "label": label or {},
            "body": {"target_message_id": message_id, "target_sender": gateway.agency, **fields},
        }
        body, scope, area, lab = build_message(doc, gateway.agency)
        return gateway.publisher.seal(
            body,
            scope=scope,
            area=area,
            label=lab,
            correlation_id=original.header.correlation_id or original.header.message_id,
            causation_id=original.header.message_id,
        )

    @app.post(
        "/v1/messages/{message_id}/supersede",
        status_code=201,
        response_model=Published,
        responses=publish_errors,
        tags=["publish"],
        operation_id="supersede",
    )
    async def supersede(
        message_id: MessageId,
        req: SupersedeRequest,
        request: Request,
        client: Client,
        key: IdempotencyKey = None,
    ) -> Response:
        """Supersede one of this agency's messages (a new signed message; the old stays)."""
        fields = req.model_dump(mode="json", exclude={"label"}, exclude_none=True)
        return await answer(
            request,
            client,
            key,
            seal=lambda: targeted(message_id, "accord.supersede.v1", fields, req.label),
        )

    @app.post(
        "/v1/messages/{message_id}/retract",
        status_code=201,
        response_model=Published,
        responses=publish_errors,
        tags=["publish"],
        operation_id="retract",
    )
    async def retract(
        message_id: MessageId,
        req: RetractRequest,
        request: Request,
        client: Client,
        key: IdempotencyKey = None,
    ) -> Response:
        """Retract one of this agency's messages (a signed retraction, never a deletion)."""
        return await answer(
            request,
            client,
            key,
            seal=lambda: targeted(
                message_id, "accord.retract.v1", {"reason": req.reason}, req.label
            ),
        )

    @app.get(
        "/v1/inbox",
        response_model=InboxPage,
        responses=responses(400),
        tags=["inbox"],
        operation_id="listInbox",
    )
    async def list_inbox(
        _client: Client,
        after: Annotated[
            str | None,
            Query(
                max_length=40, description="next_cursor of the previous page; none for the start"
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT_S,
                description="long-poll: seconds to wait for a message when none is new",
            ),
        ] = 0,
    ) -> InboxPage:
        """What landed in this agency's inbox, in landing order, after a cursor."""
        start = decode_cursor("i", after)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            waiter = gateway.notifier.arm()
            try:
                rows = gateway.inbox.page(start, limit)
                left = deadline - loop.time()
                if rows or left <= 0:
                    break
                await asyncio.wait({waiter}, timeout=left)
            finally:
                gateway.notifier.disarm(waiter)
        items = [InboxItem(cursor=encode_cursor("i", r.rowid), **r.fields) for r in rows]
        return InboxPage(messages=items, next_cursor=items[-1].cursor if items else after)

    @app.get(
        "/v1/inbox/{message_id}",
        response_model=InboxMessage,
        responses=responses(404, 409),
        tags=["inbox"],
        operation_id="getMessage",
    )
    async def get_message(
        message_id: MessageId,
        _client: Client,
        sender: Annotated[str | None, Query(pattern=AGENCY_PATTERN, max_length=40)] = None,
    ) -> InboxMessage:
        """One message in full, with the raw envelope for independent re-verification.

        A message is identified by its sender and id: should two senders have used one
        id, give ``sender``."""
        found = gateway.inbox.one(message_id, sender)
        if not found:
            raise ApiProblem(
                404,
                "not-found",
                f"no message {message_id} in this inbox",
                hint="list the inbox for the ids it holds",
            )
        if len(found) > 1:
            raise ApiProblem(
                409,
                "ambiguous-message-id",
                f"{len(found)} senders used message id {message_id}",
                hint="name the sender: ?sender=COUNTRY.AGENCY",
            )
        row, payload, raw = found[0]
        return InboxMessage(
            cursor=encode_cursor("i", row.rowid),
            **row.fields,
            header=payload["header"],
            label=payload["label"],
            body=payload["body"],
            envelope_base64=base64.b64encode(raw).decode(),
        )

    @app.get(
        "/v1/quarantine",
        response_model=QuarantinePage,
        responses=responses(400, 503),
        tags=["inbox"],
        operation_id="listQuarantine",
    )
    async def list_quarantine(
        _client: Client,
        after: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> QuarantinePage:
        """Records this node refused, with accord's reason code, oldest first."""
        rows = await gateway.quarantine.page(decode_cursor("q", after), limit)
        items = [QuarantineItem(cursor=encode_cursor("q", r["offset"]), **r) for r in rows]
        return QuarantinePage(records=items, next_cursor=items[-1].cursor if items else after)

    @app.post(
        "/v1/quarantine/{ref}/replay",
        response_model=ReplayOutcome,
        responses=responses(404, 503),
        tags=["inbox"],
        operation_id="replayQuarantined",
    )
    async def replay_quarantined(
        ref: Annotated[str, Path(pattern=r"^[0-9]{1,9}:[0-9]{1,19}$")], _client: Client
    ) -> ReplayOutcome:
        """Verify one quarantined record again with the node's trust as it is now, and
        land it if it now passes; exactly once (replaying twice lands once)."""
        from accord.quarantine import QuarantineError, find, replay

        node = gateway.node
        try:
            record = await find(node.settings.kafka, node.plan.quarantine_topic(node.agency), ref)
        except QuarantineError as exc:
            raise ApiProblem(404, "not-found", exc.message, hint=exc.hint) from None
        [result] = replay(
            [record],
            agency=node.agency,
            plan=node.plan,
            trust=node.trust,
            inbox=gateway.receiver.inbox,
            # the running node's keyring: its trust feed has opened every CWK it read
            keyring=node.keys.keyring if node.keys is not None else None,
        )
        refused = result.outcome == "still-refused"
        return ReplayOutcome(
            ref=ref,
            outcome=result.outcome,
            message_id=result.message_id,
            reason=result.reason,
            detail=result.detail,
            hint=result.hint if refused else None,
        )

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def openapi_json(_client: Client) -> Response:
        """This document; like everything else here, only with credentials."""
        return Response(json.dumps(app.openapi()), media_type="application/json")

    @app.get("/v1/status", response_model=NodeStatus, tags=["node"], operation_id="status")
    async def status(_client: Client) -> NodeStatus:
        """The node's state: ready, healthy, and what it has delivered and refused."""
        r = gateway.receiver
        plan = gateway.node.plan
        return NodeStatus(
            agency=gateway.agency,
            version=__version__,
            ready=r.ready,
            healthy=r.healthy,
            delivered=r.stats.delivered,
            duplicates=r.stats.duplicates,
            rejected=dict(r.stats.rejected),
            gaps=r.stats.gaps,
            receipts=r.stats.receipts,
            inbox_messages=gateway.inbox.count(),
            publish_topics=plan.publish_topics(gateway.agency),
            receive_topics=plan.receive_topics(gateway.agency),
        )

    return app


def _known_query(request: Request) -> None:
    """Refuse query parameters an operation does not declare: a misspelt ``after`` must
    not silently list from the start."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise ApiProblem(
            400,
            "unknown-parameter",
            f"unknown query parameter {unknown[0][:40]!r}",
            hint="see GET /v1/openapi.json for the parameters of each operation",
        )


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(AccordError)
    async def accord_error(_request: Request, exc: AccordError) -> Response:
        p, headers = from_error(exc)
        if p.status >= 500:
            log.warning("api.error", code=p.code, status=p.status)
        return problem_response(p, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if first.get("type") == "json_invalid":
            return problem_response(
                problem(
                    400, "malformed", "the request body is not JSON", hint="send one JSON object"
                )
            )
        return problem_response(
            problem(
                422,
                "schema-invalid",
                f"{where}: {first.get('msg', 'invalid')}"[:500],
                hint="see GET /v1/openapi.json and schemas/v1/",
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            problem(exc.status_code, code, str(exc.detail)), dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        # Logged with its type only: the detail could echo untrusted input.
        log.error("api.unexpected", error=type(exc).__name__)
        return problem_response(
            problem(500, "internal", "the node failed to answer", hint="see the node's log")
        )


class _BoundedBody:
    """Refuse a request body over MAX_BODY_BYTES before reading it all (413)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise ApiProblem(
                    413,
                    "oversized",
                    "the request body is too large",
                    hint=f"at most {MAX_BODY_BYTES} bytes",
                )
            return message

        await self.app(scope, bounded, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    p = problem(
        413, "oversized", "the request body is too large", hint=f"at most {MAX_BODY_BYTES} bytes"
    )
    await problem_response(p)(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error answered as problem details only."""
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for operation in (op for path in doc["paths"].values() for op in path.values()):
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    answer["content"] = {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}}
                    answer["description"] = _describe(int(status))
        schemas = doc["components"]["schemas"]
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = doc
    return app.openapi_schema


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, without a running node (``accord api export``).

    Building the routes does not touch the gateway; only calling them would.
    """
    doc: dict[str, Any] = json.loads(json.dumps(create_app(cast(Gateway, None)).openapi()))
    return doc
