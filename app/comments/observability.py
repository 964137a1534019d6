"""Request ids, JSON access logs and Prometheus metrics.

Metrics work across Gunicorn workers through prometheus_client's multiprocess mode when
PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it), and in-process otherwise. The directory
is made ready by multiprocess_dir(): created when missing (the chart points it into an emptyDir,
which starts empty) and emptied of a previous run's files when Gunicorn's master starts.
"""

import json
import logging
import os
import sys
import time
import uuid

from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

access_log = logging.getLogger("comments.access")


def multiprocess_dir(clear=False):
    """PROMETHEUS_MULTIPROC_DIR ready for the workers' metric files, or None when it is not set.

    Created when missing: prometheus_client opens its files in it on the first metric write and
    does not make it, so a missing directory turned every request into a 500. `clear` (Gunicorn's
    master, before any worker runs) removes the files of a previous run, as prometheus_client's
    multiprocess documentation asks: a restarted container keeps its emptyDir, and old counters
    would be summed into /metrics. A directory that cannot be written stops the app at start
    instead of failing each request.
    """
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
        if clear:
            for name in os.listdir(path):
                if name.endswith(".db"):
                    os.remove(os.path.join(path, name))
    except OSError as e:
        raise RuntimeError(f"PROMETHEUS_MULTIPROC_DIR={path} cannot be made ready for the metrics: {e}") from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise RuntimeError(f"PROMETHEUS_MULTIPROC_DIR={path} is not writable by uid {os.getuid()}")
    return path


def setup(app):
    multiprocess_dir()
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False

    @app.before_request
    def start():
        g.started = time.perf_counter()
        # Keep the caller's id (a load balancer or another service) so one request is one id.
        g.request_id = (request.headers.get("X-Request-ID") or "")[:64] or uuid.uuid4().hex

    @app.after_request
    def finish(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        access_log.info(json.dumps({
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "request_id": g.get("request_id"),
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
            "remote": request.headers.get("X-Forwarded-For", request.remote_addr),
        }))
        return response

    @app.get("/metrics")
    def metrics():
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
