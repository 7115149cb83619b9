"""The web composition root: ``create_app()`` mounts every enabled module on one Litestar app."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, Router, get, head
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from msgspec import Meta
from redis.asyncio import Redis

from inescape import __version__
from inescape.infra.body_guard import BodyGuard
from inescape.infra.bus import SplitBus
from inescape.infra.cache import redis_options
from inescape.infra.http import EXCEPTION_HANDLERS, CanonicalPath, RequestObservability
from inescape.infra.job_routes import job_router
from inescape.infra.openapi import ContractJson, SwaggerPage, operation_id, unknown_query_guard
from inescape.infra.outbox import OutboxRelay
from inescape.infra.platform import Platform
from inescape.infra.proxy import Upstream, forwarding_handlers
from inescape.infra.ratelimit import (
    RateLimitConfig,
    RateLimitMiddleware,
    bearer_identity,
    parse_rate_limits,
    rate_limiter_for,
)
from inescape.infra.streams import RedisStreamTransport, StreamConsumer
from inescape.infra.telemetry import configure_tracing, install_request_id_on_records
from inescape.infra.web_security import SecurityHeaders, cors_config
from inescape.kernel.health import ComponentHealth
from inescape.kernel.modules import Bound, ModuleSpec
from inescape.modules.auth.api import GatewayApi, owner_scope
from inescape.modules_loader import load_specs
from inescape.runtime import Runtime
from inescape.runtime.metrics import refresh_job_gauges
from inescape.settings import Settings, load_settings, upstreams
from inescape.web.routes import dashboard, docs_asset

METRICS_TYPE = "text/plain; version=0.0.4"


class Liveness(msgspec.Struct, frozen=True):
    status: Annotated[str, Meta(description="Always ok: the process answers.")]
    version: Annotated[str, Meta(description="The platform's version.")]


class ModuleHealth(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: Annotated[str, Meta(description="The module's name.")]
    title: Annotated[str, Meta(description="The module's title.")]
    port: Annotated[int, Meta(description="The port it is served on when run alone.")]
    needs: Annotated[list[str], Meta(description="The backends it needs.")]
    status: Annotated[str, Meta(description="ok, degraded or down.")]
    detail: Annotated[str | None, Meta(description="What is wrong, when something is.")] = None


class DetailedHealth(msgspec.Struct, frozen=True, kw_only=True):
    status: Annotated[str, Meta(description="ok, or down when a required backend is down.")]
    version: Annotated[str, Meta(description="The platform's version.")]
    backends: Annotated[list[ComponentHealth], Meta(description="Each backend, with its latency.")]
    modules: Annotated[list[ModuleHealth], Meta(description="Each module served here.")]


@get(
    "/health",
    tags=["system"],
    opt={"permission": "public"},
    summary="Liveness: the process answers",
    sync_to_thread=False,
)
def health() -> Liveness:
    return Liveness(status="ok", version=__version__)


@get(
    "/health/detailed",
    opt={"permission": "public"},
    tags=["system"],
    summary="Each backend and module, with latency",
    description="503 when a required backend is down.",
)
async def health_detailed(state: State) -> Response[DetailedHealth]:
    runtime: Runtime = state.runtime
    backends = await runtime.backend_health()
    modules = [msgspec.convert(m, ModuleHealth) for m in await runtime.module_health(backends)]
    down = any(b.status != "ok" and b.required for b in backends)
    body = DetailedHealth(
        status="down" if down else "ok", version=__version__, backends=backends, modules=modules
    )
    return Response(body, status_code=503 if down else 200)


@get(
    "/metrics",
    opt={"permission": "public"},
    tags=["system"],
    summary="Prometheus metrics",
    media_type=MediaType.TEXT,
    include_in_schema=True,
)
async def metrics(state: State) -> Response[bytes]:
    runtime: Runtime = state.runtime
    await refresh_job_gauges(runtime.services, [spec.queue_name for spec in runtime.specs])
    return Response(runtime.services.metrics.render(), media_type=METRICS_TYPE)


# HEAD on the probes and the metrics (load balancers and uptime checks use it): the GET's
# status and headers, no body
@head(["/health", "/health/detailed"], opt={"permission": "public"}, include_in_schema=False)
async def health_head(request: Request[Any, Any, Any], state: State) -> Response[None]:
    if request.url.path == "/health":
        return Response(None, media_type=MediaType.JSON)
    return Response(
        None, media_type=MediaType.JSON, status_code=(await health_detailed.fn(state)).status_code
    )


@head("/metrics", opt={"permission": "public"}, include_in_schema=False, sync_to_thread=False)
def metrics_head() -> Response[None]:
    return Response(None, media_type=METRICS_TYPE)


def _token_subject(runtime: Runtime) -> Callable[[str], str | None]:
    """Whose quota a request spends: the subject of a token the gateway verifies. Verified
    subjects are remembered (a token's subject never changes), so the limiter does not pay
    for a second signature check per request; expiry and revocation stay the gateway's."""

    gateway = runtime.facades.get(GatewayApi) if GatewayApi in runtime.facades else None

    @functools.lru_cache(maxsize=8192)
    def subject(token: str) -> str | None:
        return None if gateway is None else gateway.token_subject(token)

    return subject


def _module_router(spec: ModuleSpec, bound: Bound) -> Router:
    """A module's routes (and its job resource), each given by name what its ``bind``
    built for it: the module's typed dependencies, never the platform as a whole."""
    return Router(
        path="/",
        route_handlers=[
            *spec.route_handlers,
            job_router(spec.name, owner_scope=owner_scope, extra=spec.job_routes),
        ],
        dependencies={
            name: Provide(_constant(value), use_cache=True, sync_to_thread=False)
            for name, value in bound.dependencies.items()
        },
    )


def _constant(value: object) -> Callable[[], object]:
    def provide() -> object:
        return value

    return provide


def _upstream(settings: Settings, name: str, url: str) -> Upstream:
    gateway = settings.gateway
    return Upstream(name, url, timeout_s=gateway.timeout_s, connect_timeout_s=gateway.connect_timeout_s)


class SplitEvents:
    """Events across processes: the outbox relay sends committed events to Redis Streams,
    the consumer hands them to this process's subscriptions."""

    def __init__(self, settings: Settings, redis_url: str, namespace: str) -> None:
        self._settings = settings
        self._redis = Redis.from_url(redis_url, **redis_options(socket_timeout=None))
        self._namespace = namespace
        self._relay: OutboxRelay | None = None
        self._bus: SplitBus | None = None
        self._consumer: StreamConsumer | None = None
        self._tasks: list[Any] = []

    def configure(self, platform: Platform) -> None:
        """Before modules are bound: the platform publishes through the outbox relay."""
        self._relay = OutboxRelay(
            platform.db, RedisStreamTransport(self._redis, namespace=self._namespace), platform.clock
        )
        self._bus = SplitBus(self._relay.wake, observe=platform.metrics.observe_event)
        platform.bus = self._bus

    async def start(self) -> None:
        assert self._relay is not None, "configure() first"
        assert self._bus is not None, "configure() first"
        events = self._settings.events
        self._consumer = StreamConsumer(
            self._redis,
            self._bus.subscriptions,
            namespace=self._namespace,
            claim_idle_s=events.claim_idle_s,
        )
        self._consumer.start()
        self._tasks = [asyncio.create_task(self._relay.run(interval_s=events.relay_interval_s))]

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()


def _split_events(settings: Settings, *, split: bool) -> SplitEvents | None:
    """Redis Streams when asked, or by default when modules run in separate processes."""
    transport = settings.events.transport
    if transport == "memory" or settings.redis.url is None or (transport == "auto" and not split):
        return None
    return SplitEvents(settings, settings.redis.url, settings.redis.queue_namespace)


def create_app(
    settings: Settings | None = None,
    modules: Sequence[ModuleSpec] | None = None,
    *,
    worker: bool | None = None,
    split: bool | None = None,
) -> Litestar:
    """Build the app. ``modules`` defaults to the enabled ones in settings; ``worker`` runs
    jobs in this process (the default when there is no Redis). ``split``: modules run in
    separate processes (a module served alone, or a gateway with upstreams), so events that
    leave the process travel through the outbox and Redis Streams."""
    settings = settings or load_settings()
    install_request_id_on_records()
    specs = list(modules) if modules is not None else load_specs(settings.modules, settings.plugins)
    remote = upstreams(settings.gateway)
    events = _split_events(settings, split=bool(remote) if split is None else split)
    runtime = Runtime(
        settings,
        [s for s in specs if s.name not in remote],
        configure=events.configure if events is not None else None,
    )
    proxied = [(s, _upstream(settings, s.name, remote[s.name])) for s in specs if s.name in remote]
    in_process_worker = (
        worker
        if worker is not None
        else runtime.services.queue.backend == "memory" and settings.jobs.embedded_worker
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await runtime.start(worker=in_process_worker)
        if events is not None:
            await events.start()
        try:
            yield
        finally:
            if events is not None:
                await events.stop()
            for _spec, upstream in proxied:
                await upstream.close()
            await runtime.stop()

    handlers: list[Any] = [health, health_detailed, metrics, health_head, metrics_head, dashboard, docs_asset]
    bound = [runtime.bound[spec.name] for spec in runtime.specs]
    # the body guard first: no module's middleware nor handler sees an unchecked JSON body
    middleware = [
        DefineMiddleware(BodyGuard, max_depth=settings.server.max_json_depth),
        *(m for b in bound for m in b.middleware),
    ]
    # the unknown-query check after the modules' guards: a 401 or 403 comes first
    guards = [*(g for b in bound for g in b.guards), unknown_query_guard]
    for spec in runtime.specs:
        handlers.append(_module_router(spec, runtime.bound[spec.name]))
    for spec, upstream in proxied:  # split mode: served by the module's own process
        handlers.extend(
            forwarding_handlers(
                upstream,
                [*spec.route_handlers, job_router(spec.name, owner_scope=owner_scope, extra=spec.job_routes)],
            )
        )
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        state=State({"runtime": runtime, "services": runtime.services, "settings": settings}),
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors_config(
            settings.server.cors_origins,
            methods=settings.server.cors_methods,
            headers=settings.server.cors_headers,
            allow_credentials=settings.server.cors_allow_credentials,
        ),
        middleware=middleware,
        guards=guards,
        openapi_config=OpenAPIConfig(
            title="INEsCape",
            version=__version__,
            path="/schema",
            description="Esophageal cancer data platform: synthetic cohorts, collection, "
            "survival models and clinical decision support.",
            render_plugins=[SwaggerPage(), ContractJson()],
            operation_id_creator=operation_id,
        ),
        debug=False,
        logging_config=None,
    )
    app.asgi_handler = SecurityHeaders(app.asgi_handler, hsts=settings.server.hsts)
    app.asgi_handler = RateLimitMiddleware(
        app.asgi_handler,
        rate_limiter_for(runtime.services.cache),
        RateLimitConfig(parse_rate_limits(settings.rate_limits)),
        identity=bearer_identity(_token_subject(runtime)),
    )
    app.asgi_handler = CanonicalPath(app.asgi_handler)  # before the limiter and the router
    app.asgi_handler = RequestObservability(
        app.asgi_handler, runtime.services.metrics, configure_tracing(), access_log=settings.log.access
    )
    return app
