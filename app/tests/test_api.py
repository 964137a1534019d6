"""The API contract, validation, durability, health and metrics, on SQLite and PostgreSQL."""

import pytest

from comments import create_app

NEW = "/api/comment/new"


def post(client, **body):
    return client.post(NEW, json=body)


def test_creates_and_lists_in_creation_order(client):
    for i in range(3):
        r = post(client, email=f"u{i}@example.com", comment=f"c{i}", content_id=1)
        assert r.status_code == 200
        assert r.get_json() == {"status": "SUCCESS", "message": "comment created and associated with content_id 1"}
    r = client.get("/api/comment/list/1")
    assert r.status_code == 200
    assert r.get_json() == [{"email": f"u{i}@example.com", "comment": f"c{i}"} for i in range(3)]


def test_unknown_content_is_404_json(client):
    r = client.get("/api/comment/list/nope")
    assert r.status_code == 404
    assert r.get_json() == {"status": "NOT-FOUND", "message": "content_id nope not found"}


def test_comments_survive_a_restart(config):
    first = create_app(config)
    assert post(first.test_client(), email="a@example.com", comment="kept", content_id="x").status_code == 200
    first.extensions["store"].dispose()
    second = create_app(config)
    assert second.test_client().get("/api/comment/list/x").get_json() == [{"email": "a@example.com", "comment": "kept"}]
    second.extensions["store"].dispose()


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"email": "a@example.com", "comment": "c"}, 400, "missing field(s): content_id"),
        ({"email": "not-an-email", "comment": "c", "content_id": 1}, 400, "not an email"),
        ({"email": "a@example.com", "comment": 5, "content_id": 1}, 400, "must be strings"),
        ({"email": "a@example.com", "comment": "c", "content_id": True}, 400, "string or an integer"),
        ({"email": "a@example.com", "comment": "c", "content_id": [1]}, 400, "string or an integer"),
        ({"email": "a@example.com", "comment": "x" * 5001, "content_id": 1}, 400, "longer than 5000"),
        ({"email": "a@example.com", "comment": "   ", "content_id": 1}, 400, "comment is empty"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_comments_are_400_with_a_reason(client, body, status, says):
    r = client.post(NEW, json=body)
    assert r.status_code == status
    assert says in r.get_json()["message"]


def test_bad_requests_never_give_500(client):
    cases = [
        (client.post(NEW, data="{nope", content_type="application/json"), 400),
        (client.post(NEW, data="email=a", content_type="application/x-www-form-urlencoded"), 415),
        (client.post(NEW, data="x" * (128 * 1024 + 1), content_type="application/json"), 413),
        (client.get(NEW), 405),
        (client.get("/no/such/path"), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, r.get_data(as_text=True)
        assert r.is_json and r.get_json()["message"]


def test_health_readiness_request_ids_and_metrics(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    r = client.get("/api/comment/list/1", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{method="GET",route="/api/comment/list/<content_id>",status="404"}' in text
    assert "http_request_duration_seconds_bucket" in text


def test_version_and_the_revision_header_on_every_response(database_url):
    from comments.config import Config

    config = Config.from_env({"DATABASE_URL": database_url, "APP_REVISION": "0123abcd" * 5, "APP_VERSION": "v1.2.0"})
    app = create_app(config)
    client = app.test_client()
    r = client.get("/version")
    assert r.status_code == 200
    assert r.get_json() == {"revision": "0123abcd" * 5, "version": "v1.2.0"}
    answers = [
        client.get("/healthz"),
        client.get("/readyz"),
        client.get("/metrics"),
        post(client, email="a@example.com", comment="c", content_id=1),
        client.get("/api/comment/list/1"),
        client.get("/api/comment/list/none"),  # 404
        post(client, email="nope", comment="c", content_id=1),  # 400
        client.get(NEW),  # 405
    ]
    for r in answers:
        assert r.headers["X-Revision"] == "0123abcd" * 5, (r.request.path, r.status_code)
    app.extensions["store"].dispose()


def test_a_build_without_revision_says_so(client):
    assert client.get("/version").get_json() == {"revision": "unknown", "version": "dev"}
    assert client.get("/healthz").headers["X-Revision"] == "unknown"


def test_readyz_is_503_when_the_database_is_gone(tmp_path):
    from comments.config import Config

    app = create_app(Config.from_env({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "MIGRATE_ON_START": "false"}))
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["status"] == "unavailable"


def _drop_pooled_connection(config):
    """What a database restart or failover does to the pool: the server ends the sessions of the
    app's pooled connections (the test client reuses one)."""
    import psycopg

    with psycopg.connect(config.database_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'comments' AND datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_dropped_connection_is_retried_for_reads_and_503_for_writes(config):
    if not config.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    app = create_app(config)
    client = app.test_client()
    assert post(client, email="a@example.com", comment="first", content_id="drop").status_code == 200

    _drop_pooled_connection(config)
    r = client.get("/api/comment/list/drop")
    assert r.status_code == 200, "a read retries once on a fresh connection"
    assert [c["comment"] for c in r.get_json()] == ["first"]

    _drop_pooled_connection(config)
    r = post(client, email="a@example.com", comment="second", content_id="drop")
    assert r.status_code == 503, "a write is not retried blindly: it may have committed"
    assert r.get_json()["status"] == "UNAVAILABLE"
    assert r.headers["Retry-After"] == "1"
    assert post(client, email="a@example.com", comment="second", content_id="drop").status_code == 200
    assert len(client.get("/api/comment/list/drop").get_json()) == 2
    app.extensions["store"].dispose()
