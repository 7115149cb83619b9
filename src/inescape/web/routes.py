"""Serves the built dashboard at ``/``: hashed assets cached for a year, ``index.html`` for
every other path the API does not own (the app routes in the browser), always revalidated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = "assets/"
# Paths the platform owns: an unknown one there is a 404, never the app's page.
RESERVED = ("api", "fhir", "health", "metrics", "schema", "swagger", "cds-services", ".well-known")
# Set here rather than guessed: a host's mimetypes table may lack .js, and with nosniff a
# browser refuses a module script served as anything but JavaScript.
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# The dashboard loads its own scripts and styles only; charts come from the API as blob: URLs.
DASHBOARD_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def _reserved(path: str) -> bool:
    first = path.split("/", 1)[0]
    return first in RESERVED


def _asset(path: str, root: Path) -> Path | None:
    """The file under ``root`` that ``path`` names, or None; nothing outside ``root``."""
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def dashboard_response(path: str, root: Path | None = None) -> Response[bytes] | File:
    root = (root or STATIC_DIR).resolve()
    path = path.lstrip("/")
    if _reserved(path):
        raise NotFoundException(f"no route for /{path}")
    headers = {"Content-Security-Policy": DASHBOARD_CSP}
    found = _asset(path, root) if path else None
    if found is not None and found.name != "index.html":
        cache = IMMUTABLE if path.startswith(ASSETS) else "public, max-age=3600"
        return File(
            path=found,
            media_type=MEDIA_TYPES.get(found.suffix, "application/octet-stream"),
            filename=found.name,
            content_disposition_type="inline",
            headers=headers | {"Cache-Control": cache},
        )
    if path.startswith(ASSETS):
        raise NotFoundException(f"no asset /{path}")  # a stale hashed name: not the page
    index = root / "index.html"
    if not index.is_file():
        raise NotFoundException("the dashboard is not built (frontend/ci.sh builds it)")
    return Response(
        index.read_bytes(),
        media_type=MediaType.HTML,
        headers=headers | {"Cache-Control": "no-cache"},
    )


@get(
    ["/", "/{path:path}"],
    opt={"permission": "public"},
    include_in_schema=False,
    sync_to_thread=False,
)
def dashboard(request: Request[Any, Any, Any], path: str = "") -> Response[bytes] | File:
    """The dashboard's files, and its page for any path the app routes itself."""
    try:
        return dashboard_response(path)
    except NotFoundException:
        # no route of the platform's matched: metrics, traces and logs say so, as before
        request.scope.pop("path_template", None)  # type: ignore[misc]
        raise


DOCS_DIR = Path(__file__).resolve().parent / "docs"
DOCS_ASSETS = (".js", ".css")


@get(
    "/schema/assets/{name:str}",
    opt={"permission": "public"},
    include_in_schema=False,
    sync_to_thread=False,
)
def docs_asset(name: FromPath[str]) -> File:
    """Swagger UI's own files (vendored): the API documentation needs nothing from elsewhere."""
    found = _asset(name, DOCS_DIR.resolve())
    if found is None or found.suffix not in DOCS_ASSETS:
        raise NotFoundException(f"no documentation asset {name!r}")
    return File(
        path=found,
        media_type=MEDIA_TYPES[found.suffix],
        filename=found.name,
        content_disposition_type="inline",
        headers={"Cache-Control": "public, max-age=3600"},
    )
