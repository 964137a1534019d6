"""The comments API: an app factory, config from the environment, durable storage.

Contract kept from the original service:
  POST /api/comment/new            {"email", "comment", "content_id"} -> 200 {"status": "SUCCESS", ...}
  GET  /api/comment/list/<id>      -> 200 [{"email", "comment"}, ...] or 404 {"status": "NOT-FOUND", ...}
Plus /healthz (alive), /readyz (database reachable), /metrics (Prometheus) and /version (the
revision and version the image was built from, also in the X-Revision header of every response).
"""

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from . import observability
from .config import Config
from .store import Store, Unavailable
from .validation import Invalid, new_comment


def create_app(config=None, store=None):
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    store = store or Store(config)
    if config.migrate_on_start:
        store.migrate()
    app.extensions["store"] = store
    observability.setup(app)

    @app.after_request
    def revision_header(response):
        response.headers["X-Revision"] = config.revision
        return response

    @app.post("/api/comment/new")
    def create():
        if not request.is_json:
            raise Invalid("send the comment as JSON (Content-Type: application/json)", status=415)
        body = request.get_json(silent=True)
        if body is None:
            raise Invalid("the body is not valid JSON")
        content_id, email, comment = new_comment(body)
        store.add(content_id, email, comment)
        return jsonify(status="SUCCESS", message=f"comment created and associated with content_id {content_id}")

    @app.get("/api/comment/list/<content_id>")
    def list_comments(content_id):
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
        except Exception as e:  # any database failure means "not ready", with the reason
            app.logger.warning("readyz: database unreachable: %s", e)
            return jsonify(status="unavailable", message="database unreachable"), 503
        return jsonify(status="ok")

    @app.errorhandler(Invalid)
    def invalid(e):
        return jsonify(status="INVALID", message=e.message), e.status

    @app.errorhandler(Unavailable)
    def unavailable(e):
        app.logger.warning("database unavailable: %s", e.__cause__ or e)
        return jsonify(status="UNAVAILABLE", message=str(e)), 503, {"Retry-After": "1"}

    @app.errorhandler(HTTPException)
    def http_error(e):
        return jsonify(status=e.name.upper().replace(" ", "-"), message=e.description), e.code

    @app.errorhandler(Exception)
    def unexpected(e):
        app.logger.exception("unhandled error")
        return jsonify(status="ERROR", message="internal error; the request id identifies it in the logs"), 500

    return app
