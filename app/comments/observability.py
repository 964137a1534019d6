"""Request ids, JSON logs and Prometheus metrics, as one WSGI middleware around the Flask app: one
function call per request instead of three Flask hooks, and an access log line written with one
write(2), not through logging's record, lock and handler chain (a third of a request's own time
when it was).

Metrics work across Gunicorn workers through prometheus_client's multiprocess mode when
PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py sets it), and in-process otherwise. The directory
is made ready by multiprocess_dir(): created when missing (the chart points it into an emptyDir,
which starts empty) and emptied of a previous run's files when Gunicorn's master starts.
"""

import ipaddress
import json
import logging
import os
import re
import sys
import time

from flask import Response, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Methods become labels only from this set; anything else (a scanner's "FOO") is "other", so no
# client can grow /metrics with made-up methods. Routes are the app's rules or "unmatched".
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))
# A caller's X-Request-ID (a load balancer's, another service's) is kept when it looks like an id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REQUEST_ID = "comments.request_id"  # environ keys
ROUTE = "comments.route"
_CONVERTER = re.compile(r"<\w+:")


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


class Observed:
    """The WSGI app with X-Request-ID and X-Revision on every response, a JSON access log line on
    stdout and the request counted and timed in /metrics."""

    def __init__(self, app, revision, trusted_proxies, access_log=True):
        self.app = app
        self.revision = revision
        self.trusted = trusted_proxies
        self.access_log = access_log
        self.children = {}  # prometheus_client's labels() takes a lock and builds a key per call
        self.clock = _Clock()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID")
        request_id = given if given and _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        environ[REQUEST_ID] = request_id
        status = []

        def start(line, headers, exc_info=None):
            status.append(line)
            headers.append(("X-Request-ID", request_id))
            headers.append(("X-Revision", self.revision))
            return start_response(line, headers, exc_info)

        body = self.app(environ, start)
        self.record(environ, int(status[-1][:3]) if status else 500, time.perf_counter() - started)
        return body

    def record(self, environ, status, elapsed):
        method = environ["REQUEST_METHOD"]
        method = method if method in METHODS else "other"
        route = environ.get(ROUTE, "unmatched")
        key = (method, route, status)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        found[0].inc()
        found[1].observe(elapsed)
        if self.access_log:
            remote = client_address(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
            line = (
                f'{{"ts":"{self.clock.now()}","request_id":"{environ[REQUEST_ID]}","method":"{method}",'
                f'"path":{json.dumps(environ.get("PATH_INFO", ""))},"route":"{route}","status":{status},'
                f'"duration_ms":{elapsed * 1000:.2f},"remote":{json.dumps(remote)}}}\n'
            )
            _write_line(line)


def _write_line(line):
    # One write(2) of a whole line: lines from threads and workers never interleave (a pipe keeps
    # writes up to 4 KiB whole), and nothing is held in a buffer a crash would lose.
    try:
        os.write(sys.stdout.fileno(), line.encode())
    except (OSError, ValueError, AttributeError):  # no stdout, or a test harness's stand-in
        sys.stdout.write(line)


class _Clock:
    """The access log's timestamp, formatted once a second instead of once a request."""

    def __init__(self):
        self.second, self.text = None, ""

    def now(self):
        second = int(time.time())
        if second != self.second:
            self.second, self.text = second, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(second))
        return self.text


def client_address(peer, forwarded_for, trusted):
    """The client: the peer, unless it is a trusted proxy with an X-Forwarded-For; then, walking
    that list from the right (each proxy appends who it heard from), the first address that is not
    a trusted proxy itself. Entries a client wrote (the left ones) are never reached past an
    untrusted hop, so they cannot spoof the log."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] or peer


def _trusted(address, trusted):
    if "*" in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


class JsonLines(logging.Formatter):
    """One JSON object per line, with the request id when there is a request: a traceback stays
    in its record instead of spreading over lines that no log query can tie together."""

    def format(self, record):
        line = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname}
        if has_request_context():
            line["request_id"] = request.environ.get(REQUEST_ID)
        line["message"] = record.getMessage()
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line)


def setup(app, config):
    """Wraps the app's WSGI callable; app.logger writes JSON lines to stderr."""
    multiprocess_dir()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    app.logger.handlers = [handler]
    app.logger.setLevel(logging.INFO)
    app.logger.propagate = False
    app.wsgi_app = Observed(app.wsgi_app, config.revision, config.forwarded_allow_ips, config.access_log)

    @app.before_request
    def matched():
        # 404s and 405s (no rule matched) keep the route "unmatched". The label drops converters
        # ("<path:content_id>" is "<content_id>"), so dashboards do not change with them.
        if request.url_rule is not None:
            request.environ[ROUTE] = _CONVERTER.sub("<", request.url_rule.rule)

    @app.get("/metrics")
    def metrics():
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
