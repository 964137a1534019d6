"""The comments API: an app factory, config from the environment, durable storage.

Contract kept from the original service (app/openapi.yaml describes it all):
  POST /api/comment/new            {"email", "comment", "content_id"} -> 200 {"status": "SUCCESS", ...}
                                   (with Idempotency-Key: a repeat is stored once; 422 for another comment)
  GET  /api/comment/list/<id>      -> 200 [{"email", "comment"}, ...] or 404 {"status": "NOT-FOUND", ...}
Plus /healthz (alive; never touches the database), /readyz (database reachable), /metrics
(Prometheus) and /version (the revision and version the image was built from, also in the
X-Revision header of every response). Client errors are JSON 4xx; a database that is away is a 503
UNAVAILABLE with Retry-After.
"""

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from . import observability
from .config import Config
from .store import KeyReused, Unavailable, open_store
from .validation import Invalid, check_text, idempotency_key, new_comment, parse_json


def create_app(config=None, store=None):
    config = config or Config.from_env()
    app = Flask(__name__)
    app.json.sort_keys = False
    store = store or open_store(config)
    app.extensions["store"] = store
    observability.setup(app, config)

    @app.post("/api/comment/new")
    def create():
        if not request.is_json:
            raise Invalid("send the comment as JSON (Content-Type: application/json)", status=415)
        key = idempotency_key(request.headers.get("Idempotency-Key"))
        content_id, email, comment = new_comment(parse_json(read_body(config.max_body_bytes)))
        stored = store.add(content_id, email, comment, key)
        response = jsonify(status="SUCCESS", message=f"comment created and associated with content_id {content_id}")
        if not stored:  # a repeat of a request whose answer the client lost: the same answer
            response.headers["Idempotent-Replayed"] = "true"
        return response

    @app.get("/api/comment/list/<path:content_id>")  # an id may hold "/" (as %2F)
    def list_comments(content_id):
        check_text("content_id", content_id)
        found = store.list(content_id)
        if not found:
            return jsonify(status="NOT-FOUND", message=f"content_id {content_id} not found"), 404
        return jsonify(found)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/version")
    def version():
        return jsonify(revision=config.revision, version=config.version)

    @app.get("/readyz")
    def readyz():
        try:
            store.ping()
        except Unavailable as e:
            app.logger.warning("readyz: %s", e)
            return jsonify(status="unavailable", message=str(e)), 503, {"Retry-After": str(e.retry_after)}
        return jsonify(status="ok")

    @app.errorhandler(Invalid)
    def invalid(e):
        return jsonify(status="INVALID", message=e.message), e.status

    @app.errorhandler(KeyReused)
    def key_reused(e):
        return jsonify(status="KEY-REUSED", message=str(e)), 422

    @app.errorhandler(Unavailable)
    def unavailable(e):
        # One line per failed request, with its id: no traceback, no statement, no parameters.
        app.logger.warning("%s %s: %s", request.method, request.path, e)
        return jsonify(status="UNAVAILABLE", message=str(e)), 503, {"Retry-After": str(e.retry_after)}

    @app.errorhandler(HTTPException)
    def http_error(e):
        response = jsonify(status=e.name.upper().replace(" ", "-"), message=e.description)
        if isinstance(e, MethodNotAllowed) and e.valid_methods:
            response.headers["Allow"] = ", ".join(e.valid_methods)  # RFC 9110 15.5.6
        if e.code == 413:
            response.headers["Connection"] = "close"  # the rest of the body is never read
        return response, e.code

    @app.errorhandler(Exception)
    def unexpected(e):
        app.logger.exception("unhandled %s on %s %s", type(e).__name__, request.method, request.path)
        return jsonify(status="ERROR", message="internal error; the request id identifies it in the logs"), 500

    return app


def read_body(limit):
    """The request body, at most `limit` bytes however it is framed: a Content-Length over the
    limit is refused before reading, a chunked body as soon as it passes the limit (never
    truncated and then parsed)."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    stream = request.environ["wsgi.input"]
    data = stream.read(limit + 1) if request.content_length is None else stream.read(request.content_length)
    if len(data) > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    return data
