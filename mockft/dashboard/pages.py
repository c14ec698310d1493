"""The dashboard's pages, fragments and forms. Each endpoint reads through `Reader` (the
service's operations) or acts through `Operator` (the control API's), and renders a
template; nothing here touches the store.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from mockft import errors, lifecycle
from mockft.dashboard import render, session
from mockft.dashboard.actions import CHAOS_STATUSES, Operator
from mockft.dashboard.reader import FILES_PER_PAGE, RESULTS, Reader
from mockft.service import Service

STATUSES = (
    lifecycle.VALIDATING_FILES,
    lifecycle.QUEUED,
    lifecycle.RUNNING,
    lifecycle.PAUSED,
    lifecycle.SUCCEEDED,
    lifecycle.FAILED,
    lifecycle.CANCELLED,
)
HTTP_METHODS = ("GET", "POST", "DELETE")
CLOCK_STEPS = (60, 600, 3600, 86400)
MAX_METADATA_PAIRS = 16


@dataclass(frozen=True)
class Visit:
    """One request's view of the server: the service, who looks, and what they may read."""

    request: Request
    service: Service
    viewer: session.Viewer
    reader: Reader

    def context(self, **values: Any) -> dict[str, Any]:
        return {"viewer": self.viewer, "clock": self.service.clock.state(), **values}

    def operator(self) -> Operator:
        return Operator(self.service, self.viewer.caller)


Endpoint = Callable[[Visit], Awaitable[Response]]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def viewing(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """A page for a viewer: sign-in first where keys are configured; the service's
    refusals (an unknown job, ...) as a page that says so."""

    @functools.wraps(endpoint)
    async def page(request: Request) -> Response:
        service = _service(request)
        viewer = session.viewer_of(service, request)
        if viewer is None:
            if render.wants_fragment(request):
                return PlainTextResponse("Sign in again.", status_code=401)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            base = render.base_of(request)
            return RedirectResponse(f"{base}/login?next={quote(target)}", status_code=303)
        visit = Visit(request, service, viewer, Reader(service, viewer.org))
        try:
            return await endpoint(visit)
        except errors.APIError as exc:
            return _error_page(request, visit, exc.status, exc.message)

    return page


Action = Callable[[Visit, dict[str, str]], Awaitable[str]]


def acting(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """A form that changes something: an operator's, from this dashboard (CSRF token and
    origin checked). Answers with a redirect back to the page, carrying what happened."""

    @functools.wraps(action)
    async def endpoint(request: Request) -> Response:
        service = _service(request)
        viewer = session.viewer_of(service, request)
        if viewer is None:
            return RedirectResponse(f"{render.base_of(request)}/login", status_code=303)
        visit = Visit(request, service, viewer, Reader(service, viewer.org))
        if not viewer.control:
            return _error_page(request, visit, 403, "Operator actions need a control key.")
        try:
            form = await session.checked_form(request)
        except session.Forbidden as exc:
            return _error_page(request, visit, 403, f"Refused: {exc}.")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        response = RedirectResponse(_back(request, fields.get("next")), status_code=303)
        try:
            session.flash(response, await action(visit, fields))
        except errors.APIError as exc:
            session.flash(response, exc.message, error=True)
        return response

    return endpoint


def _back(request: Request, target: str | None) -> str:
    """Where a form returns to: a dashboard path it names, or the dashboard's home."""
    base = render.base_of(request)
    if target and target.startswith(base + "/") and not target.startswith("//"):
        return target
    return base + "/"


def _error_page(request: Request, visit: Visit | None, status: int, message: str) -> Response:
    if render.wants_fragment(request):
        return PlainTextResponse(message, status_code=status)
    context: dict[str, Any] = {"status": status, "message": message, "viewer": None}
    if visit is not None:
        context = visit.context(status=status, message=message)
    return render.page(request, "error.html", context, status=status)


# -- jobs ----------------------------------------------------------------------------------


def parse_metadata(raw: str) -> dict[str, str]:
    """`key=value` pairs separated by commas, as the filter field takes them."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise errors.invalid(f"{item.strip()!r} is not key=value.", "metadata")
        pairs[key.strip()] = value.strip()
    if len(pairs) > MAX_METADATA_PAIRS:
        raise errors.invalid(f"At most {MAX_METADATA_PAIRS} metadata pairs.", "metadata")
    return pairs


@viewing
async def jobs(visit: Visit) -> Response:
    query = visit.request.query_params
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise errors.invalid_value("status", status, list(STATUSES))
    raw_metadata = query.get("metadata", "")
    metadata = parse_metadata(raw_metadata)
    listing = visit.reader.jobs(status=status, metadata=metadata, after=query.get("after"))
    filters = {"status": status or "", "metadata": raw_metadata}
    next_query = urlencode({**filters, "after": listing.next_after}) if listing.next_after else ""
    context = visit.context(
        listing=listing, filters=filters, statuses=STATUSES, next_query=next_query
    )
    return render.respond(visit.request, "jobs.html", "jobs_live.html", context)


@viewing
async def job(visit: Visit) -> Response:
    request = visit.request
    data = visit.reader.job(request.path_params["job_id"], request.query_params.get("events_after"))
    context = visit.context(page=data, job=data.job, statuses=STATUSES)
    return render.respond(request, "job.html", "job_live.html", context)


@viewing
async def result_csv(visit: Visit) -> Response:
    body = visit.reader.result_csv(visit.request.path_params["job_id"])
    return Response(
        body,
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="step_metrics.csv"'},
    )


@acting
async def job_action(visit: Visit, form: dict[str, str]) -> str:
    """As the control API's job routes: at one instant, awaiting (never blocking on) a
    training file's validation that is still running."""
    job_id, org = visit.request.path_params["job_id"], visit.viewer.org
    kind, operator = form.get("action", ""), visit.operator()
    if kind == lifecycle.FAIL:
        return await visit.service.settled(lambda: operator.fail(org, job_id, form))
    return await visit.service.settled(lambda: operator.intervene(org, job_id, kind))


# -- files ---------------------------------------------------------------------------------


@viewing
async def files(visit: Visit) -> Response:
    query = visit.request.query_params
    purpose = query.get("purpose") or None
    listed = visit.reader.files(purpose=purpose, after=query.get("after"))
    shown = listed[:FILES_PER_PAGE]
    more = len(listed) > FILES_PER_PAGE
    next_query = urlencode({"purpose": purpose or "", "after": shown[-1].id}) if more else ""
    context = visit.context(files=shown, purpose=purpose or "", next_query=next_query)
    return render.respond(visit.request, "files.html", "files_live.html", context)


@viewing
async def file(visit: Visit) -> Response:
    request, reader = visit.request, visit.reader
    file_id = request.path_params["file_id"]
    obj = reader.file(file_id)
    context = visit.context(
        file=obj,
        downloadable=obj.purpose not in errors.UNDOWNLOADABLE_PURPOSES,
        examples=[],
        report=None,
        result=None,
        models=[],
    )
    if obj.purpose == RESULTS:
        context["result"] = reader.result_table(file_id)
    elif obj.purpose == "fine-tune":
        shown = await run_in_threadpool(reader.first_examples, file_id)
        model, method = reader.report_defaults(shown)
        model = request.query_params.get("model") or model
        method = request.query_params.get("method") or method
        context["examples"] = shown
        context["models"] = reader.fine_tunable()
        context["report"] = await run_in_threadpool(reader.report, file_id, model, method)
    return render.page(request, "file.html", context)


@viewing
async def file_content(visit: Visit) -> Response:
    file_id = visit.request.path_params["file_id"]
    content = visit.reader.download(file_id)
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote(content.filename)}",
        "content-length": str(content.size),
    }
    # Streamed chunk by chunk (off the event loop), as the API serves a file's content.
    return StreamingResponse(content.chunks, media_type="application/octet-stream", headers=headers)


# -- models and the playground -------------------------------------------------------------


def _models_context(visit: Visit, **values: Any) -> dict[str, Any]:
    return visit.context(
        models=visit.reader.models(),
        base_models=visit.reader.chat_base_models(),
        reply=None,
        asked={"model": "", "system": "", "user": "", "seed": ""},
        problem=None,
        **values,
    )


@viewing
async def models(visit: Visit) -> Response:
    context = _models_context(visit)
    context["asked"]["model"] = visit.request.query_params.get("model", "")
    return render.respond(visit.request, "models.html", "models_live.html", context)


@viewing
async def playground(visit: Visit) -> Response:
    """A chat with a model, as `POST /v1/chat/completions` answers it. With the page's
    script, only the answer is sent back; without it, the whole page."""
    request = visit.request
    try:
        form = await session.checked_form(request)
    except session.Forbidden as exc:
        return _error_page(request, visit, 403, f"Refused: {exc}.")
    asked = {k: str(form.get(k, "")) for k in ("model", "system", "user", "seed")}
    reply, problem = None, None
    try:
        seed = int(asked["seed"]) if asked["seed"].strip() else None
        reply = await run_in_threadpool(
            visit.reader.chat, asked["model"], asked["system"], asked["user"], seed
        )
    except ValueError:
        problem = "The seed must be an integer."
    except errors.APIError as exc:
        problem = exc.message
    values = {"reply": reply, "problem": problem, "asked": asked}
    if render.wants_fragment(request):
        return render.fragment(request, "reply.html", visit.context(**values))
    context = _models_context(visit)
    context.update(values)
    return render.respond(request, "models.html", "models_live.html", context)


# -- the operator's page -------------------------------------------------------------------


@viewing
async def operator(visit: Visit) -> Response:
    if not visit.viewer.control:
        return _error_page(visit.request, visit, 403, "Operator actions need a control key.")
    rules = [rule.to_dict() for rule in visit.operator().rules()]
    context = visit.context(
        rules=rules, clock_steps=CLOCK_STEPS, statuses=CHAOS_STATUSES, methods=HTTP_METHODS
    )
    return render.respond(visit.request, "operator.html", "operator_live.html", context)


@acting
async def clock_action(visit: Visit, form: dict[str, str]) -> str:
    operator = visit.operator()
    if "seconds" in form:
        return operator.advance(form["seconds"])
    if "speed" in form:
        return operator.set_speed(form["speed"])
    return operator.set_clock(form.get("now", ""))


@acting
async def add_chaos(visit: Visit, form: dict[str, str]) -> str:
    return visit.operator().add_chaos(form)


@acting
async def remove_chaos(visit: Visit, form: dict[str, str]) -> str:
    return visit.operator().remove_chaos(visit.request.path_params["rule_id"])


@acting
async def clear_chaos(visit: Visit, form: dict[str, str]) -> str:
    return visit.operator().clear_chaos()


@acting
async def reset(visit: Visit, form: dict[str, str]) -> str:
    if form.get("confirm") != "yes":
        raise errors.invalid("Tick the box to confirm the reset.", "confirm")
    return visit.operator().reset()


@viewing
async def clock(visit: Visit) -> Response:
    return render.fragment(visit.request, "clock.html", visit.context())


# -- signing in and out --------------------------------------------------------------------


async def login(request: Request) -> Response:
    service = _service(request)
    base = render.base_of(request)
    if not session.keys_configured(service):
        return RedirectResponse(base + "/", status_code=303)
    target = _back(request, request.query_params.get("next"))
    context: dict[str, Any] = {"viewer": None, "next": target, "problem": None}
    if request.method == "GET":
        return render.page(request, "login.html", context)
    try:
        form = await session.checked_form(request)
    except session.Forbidden as exc:
        return _error_page(request, None, 403, f"Refused: {exc}.")
    key = str(form.get("key", ""))
    target = _back(request, str(form.get("next", "")))
    try:
        session.sign_in(service, key)
    except errors.APIError as exc:
        # The form again, saying what was wrong (the title too, so a screen reader says it
        # first), as a page like any other: a 401 would log a console error in the browser
        # for a form answered as designed.
        context.update(problem=exc.message, next=target)
        return render.page(request, "login.html", context)
    response = RedirectResponse(target, status_code=303)
    session.remember_key(response, key)
    return response


async def logout(request: Request) -> Response:
    try:
        await session.checked_form(request)
    except session.Forbidden as exc:
        return _error_page(request, None, 403, f"Refused: {exc}.")
    response = RedirectResponse(render.base_of(request) + "/login", status_code=303)
    session.forget_key(response)
    return response


async def not_found(request: Request) -> Response:
    return _error_page(request, None, 404, f"No dashboard page at {request.url.path}.")


def router() -> Router:
    """Every page under /dashboard/, the 404 page last."""
    return Router(
        [
            Route("/", jobs, methods=["GET"]),
            Route("/clock", clock, methods=["GET"]),
            Route("/jobs/{job_id}", job, methods=["GET"]),
            Route("/jobs/{job_id}/result.csv", result_csv, methods=["GET"]),
            Route("/jobs/{job_id}/actions", job_action, methods=["POST"]),
            Route("/files", files, methods=["GET"]),
            Route("/files/{file_id}", file, methods=["GET"]),
            Route("/files/{file_id}/content", file_content, methods=["GET"]),
            Route("/models", models, methods=["GET"]),
            Route("/models/chat", playground, methods=["POST"]),
            Route("/operator", operator, methods=["GET"]),
            Route("/operator/clock", clock_action, methods=["POST"]),
            Route("/operator/chaos", add_chaos, methods=["POST"]),
            Route("/operator/chaos/clear", clear_chaos, methods=["POST"]),
            Route("/operator/chaos/{rule_id}/remove", remove_chaos, methods=["POST"]),
            Route("/operator/reset", reset, methods=["POST"]),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Mount("/static", StaticFiles(packages=[("mockft.dashboard", "static")])),
            Route("/{rest:path}", not_found),
        ]
    )
