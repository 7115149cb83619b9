"""Container health check: GET /health on this container's port, over HTTPS when the
certificate is configured. Exit 0 when it answers 200, else 1 (Docker's convention)."""

import os
import ssl
import sys
import urllib.request

port = os.environ.get("INESCAPE_HEALTHCHECK_PORT") or os.environ.get("INESCAPE_SERVER_PORT") or "8000"
tls = bool(os.environ.get("INESCAPE_SERVER_SSL_CERTFILE"))
# The certificate names the public host, not 127.0.0.1: skip verification for this loopback call.
context = ssl._create_unverified_context() if tls else None
url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/health"
try:
    with urllib.request.urlopen(url, timeout=4, context=context) as reply:
        sys.exit(0 if reply.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
