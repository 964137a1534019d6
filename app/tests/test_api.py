"""The API contract, validation, durability, health and metrics, on SQLite and PostgreSQL."""

import json
import sqlite3

import psycopg
import pytest

from comments import create_app
from comments.config import Config

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


def test_an_idempotency_key_stores_a_repeat_once_and_refuses_another_comment(client):
    body = {"email": "a@example.com", "comment": "once", "content_id": "keyed"}
    key = {"Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"}
    first, again = client.post(NEW, json=body, headers=key), client.post(NEW, json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    quoted = client.post(NEW, json=body, headers={"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'})
    assert quoted.headers["Idempotent-Replayed"] == "true", "the quoted form is the same key"
    other = client.post(NEW, json={**body, "comment": "another"}, headers=key)
    assert other.status_code == 422 and other.get_json()["status"] == "KEY-REUSED"
    assert post(client, **body).status_code == 200, "without a key every request stores"
    assert [c["comment"] for c in client.get("/api/comment/list/keyed").get_json()] == ["once", "once"]


def test_a_table_made_before_idempotency_keys_gets_the_column(database_url):
    # The table as the first versions made it, with a comment in it.
    made = "CREATE TABLE comments (id {}, content_id VARCHAR(128) NOT NULL, email VARCHAR(254) NOT NULL, comment TEXT NOT NULL)"
    old = "INSERT INTO comments (content_id, email, comment) VALUES ('old', 'a@example.com', 'kept')"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(made.format("INTEGER NOT NULL PRIMARY KEY"))
            conn.execute(old)
    else:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(made.format("BIGSERIAL PRIMARY KEY"))
            conn.execute(old)
    app = create_app(Config.from_env({"DATABASE_URL": database_url}))
    client = app.test_client()
    body = {"email": "a@example.com", "comment": "new", "content_id": "old"}
    for _ in range(2):
        assert client.post(NEW, json=body, headers={"Idempotency-Key": "k1"}).status_code == 200
    assert [c["comment"] for c in client.get("/api/comment/list/old").get_json()] == ["kept", "new"]
    app.extensions["store"].dispose()


@pytest.mark.parametrize("key", ["", "a b", "x" * 256, "caf\u00e9", '"open', 'a"b'])
def test_a_malformed_idempotency_key_is_400_and_stores_nothing(client, key):
    r = client.post(NEW, json={"email": "a@example.com", "comment": "c", "content_id": "badkey"},
                    headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert r.status_code == 400 and "Idempotency-Key" in r.get_json()["message"]
    assert client.get("/api/comment/list/badkey").status_code == 404


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


@pytest.mark.parametrize(
    "raw, says",
    [
        ('{"email": "a@example.com", "comment": "a\\u0000b", "content_id": 1}', "comment contains a NUL"),
        ('{"email": "a\\u0000@example.com", "comment": "c", "content_id": 1}', "email contains a NUL"),
        ('{"email": "a@example.com", "comment": "c", "content_id": "x\\u0000"}', "content_id contains a NUL"),
        ('{"email": "a@example.com", "comment": "\\ud800", "content_id": 1}', "lone UTF-16 surrogate"),
        ('{"email": "a@example.com", "comment": "c", "content_id": "\\udfff"}', "lone UTF-16 surrogate"),
        ("[" * 2000 + "]" * 2000, "nested too deeply"),
        ('{"email": "a@example.com\\n", "comment": "c", "content_id": 1}', "not an email"),
        (b'{"email": "a@example.com", "comment": "\xff", "content_id": 1}', "not valid JSON"),
    ],
)
def test_input_no_database_can_store_is_400_not_500(client, raw, says):
    r = client.post(NEW, data=raw, content_type="application/json")
    assert r.status_code == 400, r.get_data(as_text=True)
    assert says in r.get_json()["message"]


@pytest.mark.parametrize("path", ["/api/comment/list/a%00b", "/api/comment/list/" + "x" * 129])
def test_a_list_id_that_cannot_exist_is_400(client, path):
    r = client.get(path)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["status"] == "INVALID"


def test_limits_are_characters_not_bytes(client):
    emoji = "\U0001F600"
    assert post(client, email="a@example.com", comment=emoji * 5000, content_id="e").status_code == 200
    r = post(client, email="a@example.com", comment=emoji * 5001, content_id="e")
    assert r.status_code == 400 and "longer than 5000 characters" in r.get_json()["message"]
    # The largest valid body, every character written as a JSON escape pair, is still under the
    # byte limit: 413 is only ever for bodies no valid comment could be.
    local, comment, content_id = "a" * 249, "\\ud83d\\ude00" * 5000, "\\ud83d\\ude00" * 128
    big = f'{{"email": "{local}@e.io", "comment": "{comment}", "content_id": "{content_id}"}}'
    assert len(big) > 60_000  # far past the old 16 KiB limit
    assert client.post(NEW, data=big, content_type="application/json").status_code == 200
    assert client.get("/api/comment/list/" + emoji * 128).get_json()[0]["comment"] == emoji * 5000


def test_a_slash_in_the_content_id_round_trips(client):
    assert post(client, email="a@example.com", comment="c", content_id="a/b").status_code == 200
    assert client.get("/api/comment/list/a%2Fb").get_json() == [{"email": "a@example.com", "comment": "c"}]


def test_405_says_which_methods_are_allowed(client):
    r = client.get(NEW)
    assert r.status_code == 405 and r.get_json()["status"] == "METHOD-NOT-ALLOWED"
    assert set(r.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    r = client.delete("/api/comment/list/1")
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_made_up_methods_do_not_grow_the_metrics(client):
    for i in range(300):
        client.open("/api/comment/list/1", method=f"X{i}")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="other"' in text
    assert not any(f'method="X{i}"' in text for i in range(300))
    assert len(text) < 20_000, "300 made-up methods are one label value, not 300"


@pytest.mark.parametrize(
    "trusted, peer, header, logged",
    [
        (None, "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # anyone's header is ignored by default
        (None, "127.0.0.1", "1.2.3.4", "1.2.3.4"),  # the default trusts a local proxy (a sidecar)
        ("10.0.0.0/8", "10.1.2.3", "1.2.3.4, 10.9.9.9", "1.2.3.4"),  # past every trusted hop
        ("10.0.0.0/8", "10.1.2.3", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a client's own entry is left of it
        ("10.0.0.0/8", "192.0.2.1", "1.2.3.4", "192.0.2.1"),
        ("*", "192.0.2.1", "1.2.3.4", "1.2.3.4"),
    ],
)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(database_url, capfd, trusted, peer, header, logged):
    from comments.config import Config

    env = {"DATABASE_URL": database_url}
    if trusted:
        env["FORWARDED_ALLOW_IPS"] = trusted
    app = create_app(Config.from_env(env))
    capfd.readouterr()
    app.test_client().get("/healthz", headers={"X-Forwarded-For": header}, environ_base={"REMOTE_ADDR": peer})
    line = json.loads(capfd.readouterr().out.strip().splitlines()[-1])
    assert line["remote"] == logged
    app.extensions["store"].dispose()


def test_an_unexpected_error_is_one_json_line_with_the_request_id_and_no_body(database_url, capfd):
    from comments.config import Config

    app = create_app(Config.from_env({"DATABASE_URL": database_url}))

    def broken(*_):
        raise RuntimeError("a bug")

    app.extensions["store"].add = broken
    capfd.readouterr()
    r = post(app.test_client(), email="secret-person@example.com", comment="private words", content_id=1)
    assert r.status_code == 500 and r.get_json()["status"] == "ERROR"
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = json.loads(err[0])
    assert line["request_id"] == r.headers["X-Request-ID"]
    assert "RuntimeError: a bug" in line["traceback"]
    assert "secret-person" not in err[0] and "private words" not in err[0]
    app.extensions["store"].dispose()


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
