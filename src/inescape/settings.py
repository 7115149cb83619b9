"""Settings: one msgspec Struct tree, read from ``INESCAPE_*`` environment variables.

A nested Struct adds its name to the prefix: ``Settings.database.url`` is
``INESCAPE_DATABASE_URL``. Lists are comma-separated. A malformed value stops start-up with
one line naming the variable (``ConfigurationError``). With nothing set, every backend is
embedded under ``INESCAPE_DATA_DIR``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import msgspec

from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES

PREFIX = "INESCAPE_"


class DatabaseSettings(msgspec.Struct, kw_only=True):
    url: str | None = None  # postgresql://user:pass@host:5432/db; default: SQLite in data dir
    pool_size: int = 10
    echo: bool = False


class MongodbSettings(msgspec.Struct, kw_only=True):
    url: str | None = None  # mongodb://host:27017; default: documents in SQL JSON tables
    database: str = "inescape"


class RedisSettings(msgspec.Struct, kw_only=True):
    url: str | None = None  # redis://host:6379/0; default: in-process cache and queue
    queue_namespace: str = "inescape"  # dramatiq's key prefix: installs sharing a Redis differ


class S3Settings(msgspec.Struct, kw_only=True):
    enabled: bool = False  # use S3 at AWS's own endpoint (credentials from the AWS_* variables)
    endpoint_url: str | None = None  # an S3-compatible server (MinIO); setting it enables S3
    region: str = "us-east-1"
    bucket_prefix: str = ""  # buckets are <prefix>images, <prefix>models, <prefix>datasets
    sse: str = "AES256"  # server-side encryption asked for on every object: AES256, aws:kms, none
    sse_kms_key_id: str | None = None
    connect_timeout_s: float = 2.0  # a server that does not accept the connection in time is down
    read_timeout_s: float = 5.0  # a silent (frozen, overloaded) server is down after this
    max_attempts: int = 2  # tries of each call, the first included, before answering 503


CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_HTTP_METHODS = frozenset((*CORS_METHODS, "HEAD", "OPTIONS"))


class EncryptionSettings(msgspec.Struct, kw_only=True):
    # Keys for identifying fields and embedded object files. With none set, the embedded
    # default creates <data dir>/keys/encryption.json (mode 0600); with PostgreSQL they are
    # required, since every replica must share them. Never commit them.
    keys: str | None = None  # "kid:base64,kid:base64", the first is active
    key_file: str | None = None  # JSON: {"active", "keys": {kid: base64}, "hmac_key"}
    hmac_key: str | None = None  # base64, >= 32 bytes: blind indexes for exact lookup (MRN)
    active_key_id: str | None = None


class ServerSettings(msgspec.Struct, kw_only=True):
    host: str = "127.0.0.1"
    port: int | None = None  # default: 8000, or the module's own port with --module
    ssl_certfile: str | None = None  # PEM certificate (chain); with ssl_keyfile, serve HTTPS, TLS 1.3 only
    ssl_keyfile: str | None = None
    ssl_keyfile_password: str | None = None
    cors_origins: list[str] = msgspec.field(default_factory=list)  # none: no cross-origin browser calls
    cors_methods: list[str] = msgspec.field(default_factory=lambda: list(CORS_METHODS))
    cors_headers: list[str] = msgspec.field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-Request-ID"]
    )
    cors_allow_credentials: bool = False
    hsts: bool = True  # Strict-Transport-Security on responses to requests that came over TLS
    max_json_depth: int = 64  # a JSON body nested deeper is a 400 before any handler parses it


class JobsSettings(msgspec.Struct, kw_only=True):
    lease_seconds: float = 30.0  # a running job whose worker stops renewing is taken over
    worker_threads: int = 4
    max_attempts: int = 3
    embedded_worker: bool = True  # run jobs inside `inescape serve` when no Redis is set


class LogSettings(msgspec.Struct, kw_only=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"
    access: bool = True  # one line per request; off behind an ingress that logs access itself


class GatewaySettings(msgspec.Struct, kw_only=True):
    # Split mode: "module=url" entries, e.g. "generation=http://generation:8001"; the gateway
    # forwards that module's routes there instead of serving it (auth and patients stay local).
    upstreams: list[str] = msgspec.field(default_factory=list)
    timeout_s: float = 60.0  # longest wait for an upstream's next bytes before a 503
    connect_timeout_s: float = 3.0


class EventsSettings(msgspec.Struct, kw_only=True):
    # auto: Redis Streams when modules run in separate processes (and Redis is set), else in-process
    transport: Literal["auto", "memory", "redis"] = "auto"
    relay_interval_s: float = 1.0  # how often the outbox is polled (a commit wakes it sooner)
    claim_idle_s: float = 30.0  # an event unacknowledged this long is redelivered to another consumer


class Settings(msgspec.Struct, kw_only=True):
    data_dir: str = "./inescape-data"
    modules: list[str] = msgspec.field(default_factory=lambda: list(MODULE_NAMES))
    plugins: list[str] = msgspec.field(default_factory=list)  # extra ModuleSpecs "pkg.mod:spec"
    # group=limit/window[:user|:ip|:user_or_ip][:closed]; "" turns rate limiting off
    rate_limits: str = "api=600/60,login=10/60,generation=30/60,default=1200/60"
    # start-up keeps probing a backend that does not answer (busy, or still starting) this long
    startup_wait_s: float = 30.0
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    mongodb: MongodbSettings = msgspec.field(default_factory=MongodbSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    s3: S3Settings = msgspec.field(default_factory=S3Settings)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    jobs: JobsSettings = msgspec.field(default_factory=JobsSettings)
    encryption: EncryptionSettings = msgspec.field(default_factory=EncryptionSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    events: EventsSettings = msgspec.field(default_factory=EventsSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path:
        """The embedded database's file (used when no database URL is set)."""
        return self.data_path / "inescape.db"

    @property
    def embedded(self) -> bool:
        return not (self.database.url or self.redis.url or self.mongodb.url or self.s3_enabled)

    @property
    def s3_enabled(self) -> bool:
        return self.s3.enabled or bool(self.s3.endpoint_url)


def _read(cls: type[msgspec.Struct], env: Mapping[str, str], prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    hints = get_type_hints(cls)
    for name in cls.__struct_fields__:
        hint = hints[name]
        key = f"{prefix}{name.upper()}"
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            nested = _read(hint, env, key + "_")
            if nested:
                values[name] = nested
            continue
        raw = env.get(key)
        if raw is None:
            continue
        raw = raw.strip()
        if get_origin(hint) is list:
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif raw == "" and type(None) in get_args(hint):
            values[name] = None
        else:
            values[name] = _convert(raw, hint, key)
    return values


def _convert(raw: str, hint: Any, key: str) -> Any:
    if hint is bool or bool in get_args(hint):
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(key, f"expected true or false, got {raw!r}")
    if get_origin(hint) is Literal:
        raw = raw.upper() if all(str(a).isupper() for a in get_args(hint)) else raw.lower()
    try:
        return msgspec.convert(raw, hint, strict=False)
    except msgspec.ValidationError:
        wanted = (
            " or ".join(str(a) for a in get_args(hint))
            if get_origin(hint) is Literal
            else _type_name(hint).replace(" | None", "")
        )
        raise ConfigurationError(key, f"expected {wanted}, got {raw!r}") from None


_SCHEMES = {
    "INESCAPE_DATABASE_URL": (
        "postgresql://",
        "postgres://",
        "postgresql+psycopg://",
        "sqlite:///",
        "sqlite+aiosqlite:///",
    ),
    "INESCAPE_MONGODB_URL": ("mongodb://", "mongodb+srv://"),
    "INESCAPE_REDIS_URL": ("redis://", "rediss://", "unix://"),
    "INESCAPE_S3_ENDPOINT_URL": ("http://", "https://"),
}


def _check(settings: Settings) -> None:
    urls = {
        "INESCAPE_DATABASE_URL": settings.database.url,
        "INESCAPE_MONGODB_URL": settings.mongodb.url,
        "INESCAPE_REDIS_URL": settings.redis.url,
        "INESCAPE_S3_ENDPOINT_URL": settings.s3.endpoint_url,
    }
    for key, url in urls.items():
        if url and not url.startswith(_SCHEMES[key]):
            raise ConfigurationError(key, f"expected a URL starting with {' or '.join(_SCHEMES[key])}")
    from inescape.infra.ratelimit.rules import parse_rate_limits

    parse_rate_limits(settings.rate_limits)  # a bad rule stops start-up, naming the variable
    unknown = [m for m in settings.modules if m not in MODULE_NAMES]
    if unknown:
        raise ConfigurationError(
            "INESCAPE_MODULES", f"unknown module {unknown[0]!r}; choose from {', '.join(MODULE_NAMES)}"
        )
    for plugin in settings.plugins:
        if ":" not in plugin:
            raise ConfigurationError("INESCAPE_PLUGINS", f"{plugin!r} is not 'package.module:spec'")
    check_server_settings(settings.server)
    upstreams(settings.gateway)
    if settings.events.transport == "redis" and not settings.redis.url:
        raise ConfigurationError("INESCAPE_EVENTS_TRANSPORT", "redis needs INESCAPE_REDIS_URL")
    if settings.jobs.lease_seconds <= 0 or settings.jobs.worker_threads < 1:
        raise ConfigurationError(
            "INESCAPE_JOBS_LEASE_SECONDS", "lease must be positive and worker threads at least 1"
        )
    if settings.startup_wait_s < 0:
        raise ConfigurationError("INESCAPE_STARTUP_WAIT_S", "the wait must be 0 seconds or more")


def check_server_settings(server: ServerSettings) -> None:
    """The server section alone, also after ``inescape serve`` options override it."""
    if server.port is not None and not 0 < server.port < 65536:
        raise ConfigurationError("INESCAPE_SERVER_PORT", "expected a port between 1 and 65535")
    if server.max_json_depth < 1:
        raise ConfigurationError("INESCAPE_SERVER_MAX_JSON_DEPTH", "expected 1 or more")
    if bool(server.ssl_certfile) != bool(server.ssl_keyfile):
        raise ConfigurationError(
            "INESCAPE_SERVER_SSL_CERTFILE",
            "set the certificate and its key (INESCAPE_SERVER_SSL_KEYFILE) together, or neither",
        )
    for key, path in (
        ("INESCAPE_SERVER_SSL_CERTFILE", server.ssl_certfile),
        ("INESCAPE_SERVER_SSL_KEYFILE", server.ssl_keyfile),
    ):
        if path and not Path(path).is_file():
            raise ConfigurationError(key, f"no file at {path}")
    unknown = [m for m in server.cors_methods if m.upper() not in _HTTP_METHODS]
    if unknown:
        raise ConfigurationError("INESCAPE_SERVER_CORS_METHODS", f"{unknown[0]!r} is not an HTTP method")
    if server.cors_allow_credentials and "*" in server.cors_origins:
        raise ConfigurationError(
            "INESCAPE_SERVER_CORS_ORIGINS", "'*' cannot be combined with credentials; list the origins"
        )


def upstreams(gateway: GatewaySettings) -> dict[str, str]:
    """``INESCAPE_GATEWAY_UPSTREAMS`` as {module: base URL}; a bad entry names the variable."""
    key = "INESCAPE_GATEWAY_UPSTREAMS"
    found: dict[str, str] = {}
    for entry in gateway.upstreams:
        name, _, url = (part.strip() for part in entry.partition("="))
        if not name or not url.startswith(("http://", "https://")):
            raise ConfigurationError(key, f"{entry!r} is not module=http(s)://host:port")
        if name == "auth" or name in found:
            raise ConfigurationError(key, f"{name!r} cannot be forwarded (the gateway's own, or given twice)")
        found[name] = url.rstrip("/")
    if gateway.timeout_s <= 0 or gateway.connect_timeout_s <= 0:
        raise ConfigurationError("INESCAPE_GATEWAY_TIMEOUT_S", "timeouts must be positive")
    return found


S = TypeVar("S", bound=msgspec.Struct)


def read_settings(cls: type[S], prefix: str, env: Mapping[str, str] | None = None) -> S:
    """A module's own settings Struct from ``<prefix><FIELD>`` variables (e.g. the auth
    module's ``AuthSettings`` from ``INESCAPE_AUTH_*``), with the same one-line errors."""
    env = os.environ if env is None else env
    return msgspec.convert(_read(cls, env, prefix), cls, strict=False)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings; raise ``ConfigurationError`` naming the bad variable."""
    env = os.environ if env is None else env
    values = _read(Settings, env, PREFIX)
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:  # pragma: no cover - _convert catches field errors
        raise ConfigurationError("INESCAPE_*", str(exc)) from None
    _check(settings)
    return settings


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, type, default) for every setting: the README's table is made from this."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: type[msgspec.Struct], prefix: str, instance: Any) -> None:
        hints = get_type_hints(cls)
        for name in cls.__struct_fields__:
            hint, value = hints[name], getattr(instance, name)
            if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
                walk(hint, f"{prefix}{name.upper()}_", value)
            else:
                shown = ",".join(value) if isinstance(value, list) else value
                rows.append((f"{prefix}{name.upper()}", _type_name(hint), repr(shown)))

    walk(Settings, PREFIX, Settings())
    return rows


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
