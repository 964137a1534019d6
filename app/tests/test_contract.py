"""The contract in app/openapi.yaml, checked by schemathesis against the app as users run it:
Gunicorn started the way the image starts it, over HTTP on 127.0.0.1, on PostgreSQL when
TEST_DATABASE_URL is set (a schema of its own) and on SQLite otherwise.

First the generated run: every operation, from valid and invalid inputs, through all of
schemathesis' checks. Then the requests its generators cannot make (a lone surrogate, deep JSON,
bodies around MAX_BODY_BYTES, chunked bodies, other methods, unknown paths, a database that is
away), each through the same checks of the operation it is sent to."""

import json
import os
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from kit import Gunicorn, own_schema

APP = Path(__file__).resolve().parent.parent
# What imgbuild would pass the image.
BUILT_FROM = {"APP_REVISION": "0123abcd" * 5, "APP_VERSION": "v1.2.3"}
NEW = "/api/comment/new"
LIST = "/api/comment/list/{content_id}"
# The default MAX_BODY_BYTES: the chart does not set it, so this is what users get.
MAX_BODY_BYTES = 128 * 1024

CONFIG = SchemathesisConfig.from_dict(
    {
        # The same requests on every run, so CI fails for the app, never for the draw.
        "seed": 1,
        # Hypothesis' one check that depends on the machine's speed; the others are deterministic.
        "suppress-health-check": ["too_slow"],
        "generation": {
            "mode": "all",  # valid inputs and invalid ones
            "max-examples": 300,  # per operation, in the fuzzing phase
            "deterministic": True,
            "database": "none",  # no .hypothesis/ replaying an earlier run's failures
        },
        "checks": {
            "enabled": True,
            # Whatever schemathesis calls invalid is a 400 here (or, for the body's framing, a
            # 413 or 415): its default list also takes 404, which hid list ids over 128.
            "negative_data_rejection": {"expected-statuses": [400, 413, 415]},
            # A valid request is answered, or not found for an id nobody stored, or (the one
            # answer that depends on an earlier request) an Idempotency-Key the generator drew
            # before with another comment.
            "positive_data_acceptance": {"expected-statuses": [200, 404, 422]},
        },
    }
)
schema = schemathesis.openapi.from_path(APP / "openapi.yaml", config=CONFIG)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'comments.db'}"
        return
    with own_schema(url) as schema_url:
        yield schema_url


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url):
    app = Gunicorn(tmp_path_factory.mktemp("tmp"), env={"DATABASE_URL": database_url, **BUILT_FROM})
    yield app
    app.stop()


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    """The app whose PostgreSQL is away: nothing listens on port 1 (tcpmux)."""
    url = "postgresql://comments@127.0.0.1:1/comments"
    app = Gunicorn(tmp_path_factory.mktemp("tmp"), env={"DATABASE_URL": url, "MIGRATE_ON_START": "false", **BUILT_FROM})
    yield app
    app.stop()


@schema.parametrize()
def test_generated_requests_keep_the_contract(case, server):
    case.call_and_validate(base_url=server.url, timeout=10)


# Requests the generators cannot make, each validated as an answer of the operation it targets.


def conforms(response, method, path, status, **validate):
    """The response has `status`, and schemathesis finds nothing wrong with it as an answer of
    the operation `method path` of the spec (status, headers, content type, body)."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text[:500]}"
    operation = schema[path][method]
    # The case only names the operation: the request that was sent is in the response.
    parameters = {"content_id": "x"} if "{content_id}" in path else None
    operation.Case(path_parameters=parameters).validate_response(response, **validate)


def valid_body(**fields):
    return {"email": "a@example.com", "comment": "hi", "content_id": "c-" + uuid.uuid4().hex, **fields}


def post_text(server, text, content_type="application/json"):
    data = text.encode() if isinstance(text, str) else text
    headers = {} if content_type is None else {"Content-Type": content_type}
    return requests.post(server.url + NEW, data=data, headers=headers, timeout=10)


def list_path(content_id):
    return "/api/comment/list/" + urllib.parse.quote(str(content_id), safe="")


def nested(depth):
    return "[" * depth + "]" * depth


# json.dumps escapes every non-ASCII character, so a lone surrogate goes out as "\ud800": the
# JSON text a client sends, which Python's json reads back as a lone surrogate.
INVALID_BODIES = {
    "NUL in email": json.dumps(valid_body(email="a\x00b@example.com")),
    "NUL in comment": json.dumps(valid_body(comment="a\x00b")),
    "NUL in content_id": json.dumps(valid_body(content_id="a\x00b")),
    "lone surrogate in email": json.dumps(valid_body(email="a\ud800@example.com")),
    "lone surrogate in comment": json.dumps(valid_body(comment="a\ud800b")),
    "lone low surrogate in comment": json.dumps(valid_body(comment="\udc00")),
    "lone surrogate in content_id": json.dumps(valid_body(content_id="\ud800")),
    "deep JSON": nested(5000),
    "deep JSON in a field": '{"email": "a@example.com", "comment": "hi", "content_id": ' + nested(5000) + "}",
    "not JSON": "{nope",
    "empty": "",
    "null": "null",
    "an array": "[1, 2]",
    "not UTF-8": b'{"email": "a@example.com", "comment": "\xff", "content_id": 1}',
    "content_id a float": json.dumps(valid_body(content_id=1.5)),
    "content_id true": json.dumps(valid_body(content_id=True)),
    "content_id of 129 digits": json.dumps(valid_body(content_id=10**128)),
    "content_id of 129 characters": json.dumps(valid_body(content_id="\U0001f600" * 129)),
    "email of 255 characters": json.dumps(valid_body(email="\U0001f600" * 250 + "@b.co")),
    "comment of 5001 characters": json.dumps(valid_body(comment="\U0001f600" * 5001)),
    "comment of whitespace": json.dumps(valid_body(comment=" \t\n\x0b\x1c\x85\xa0\u2028\u3000")),
    "email with a trailing newline": json.dumps(valid_body(email="a@example.com\n")),
}


@pytest.mark.parametrize("text", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_a_bad_body_is_400(server, text):
    conforms(post_text(server, text), "POST", NEW, 400)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_typed_is_415(server, content_type):
    conforms(post_text(server, json.dumps(valid_body()), content_type), "POST", NEW, 415)


def test_the_largest_valid_comment_is_stored_and_listed_back(server):
    """Limits in characters: the longest values, in characters that JSON writes as 12-byte
    escape pairs (about 64.6 KB of body), are one valid comment."""
    body = valid_body(email="\U0001f600" * 249 + "@b.co", comment="\U0001f600" * 5000, content_id="\U0001f600" * 128)
    conforms(post_text(server, json.dumps(body)), "POST", NEW, 200)
    listed = requests.get(server.url + list_path(body["content_id"]), timeout=10)
    conforms(listed, "GET", LIST, 200)
    assert listed.json() == [{"email": body["email"], "comment": body["comment"]}]


def padded(size):
    """A valid body of exactly `size` bytes: JSON allows whitespace after the value."""
    text = json.dumps(valid_body())
    return text + " " * (size - len(text))


def chunks(text, size=16 * 1024):
    data = text.encode()
    for i in range(0, len(data), size):
        yield data[i : i + size]


def post_chunked(server, text):
    headers = {"Content-Type": "application/json"}
    return requests.post(server.url + NEW, data=chunks(text), headers=headers, timeout=10)


def test_a_body_of_max_body_bytes_is_accepted_one_byte_more_is_413(server):
    conforms(post_text(server, padded(MAX_BODY_BYTES)), "POST", NEW, 200)
    conforms(post_text(server, padded(MAX_BODY_BYTES + 1)), "POST", NEW, 413)


def test_a_chunked_body_is_read_and_limited_the_same(server):
    conforms(post_chunked(server, padded(MAX_BODY_BYTES)), "POST", NEW, 200)
    conforms(post_chunked(server, padded(MAX_BODY_BYTES + 1)), "POST", NEW, 413)
    conforms(post_chunked(server, padded(4 * MAX_BODY_BYTES)), "POST", NEW, 413)


BAD_LIST_IDS = {"NUL": "a\x00b", "129 characters": "x" * 129, "129 wide characters": "\U0001f600" * 129}


@pytest.mark.parametrize("content_id", BAD_LIST_IDS.values(), ids=BAD_LIST_IDS.keys())
def test_a_content_id_that_cannot_exist_is_400(server, content_id):
    conforms(requests.get(server.url + list_path(content_id), timeout=10), "GET", LIST, 400)


def test_comments_are_listed_in_creation_order_per_content_id(server):
    """Every kind of content_id comes back as it was stored: an integer by its decimal form, a
    string whatever characters it holds ("/" too, sent as %2F)."""
    ids = [uuid.uuid4().int, "plain-" + uuid.uuid4().hex, "a/b ?#%é-" + uuid.uuid4().hex]
    stored = {content_id: [] for content_id in ids}
    for i in range(3):
        for content_id in ids:
            body = valid_body(email=f"u{i}@example.com", comment=f"c{i} for {content_id}", content_id=content_id)
            conforms(post_text(server, json.dumps(body)), "POST", NEW, 200)
            stored[content_id].append({"email": body["email"], "comment": body["comment"]})
    for content_id, comments in stored.items():
        listed = requests.get(server.url + list_path(content_id), timeout=10)
        conforms(listed, "GET", LIST, 200)
        assert listed.json() == comments, content_id


# A method each path does not have, and the operation of that path whose answers it is held to.
OTHER_METHODS = [
    ("GET", NEW, "POST", NEW),
    ("PUT", NEW, "POST", NEW),
    ("DELETE", "/api/comment/list/1", "GET", LIST),
    ("POST", "/api/comment/list/1", "GET", LIST),
    ("POST", "/healthz", "GET", "/healthz"),
    ("PATCH", "/readyz", "GET", "/readyz"),
    ("DELETE", "/version", "GET", "/version"),
    ("POST", "/metrics", "GET", "/metrics"),
]


@pytest.mark.parametrize("method, path, documented, operation", OTHER_METHODS)
def test_another_method_is_405_with_allow(server, method, path, documented, operation):
    response = requests.request(method, server.url + path, timeout=10)
    conforms(response, documented, operation, 405)
    allowed = {m.strip().upper() for m in response.headers["Allow"].split(",")}
    assert documented in allowed and method not in allowed, response.headers["Allow"]


@pytest.mark.parametrize("path", ["/no/such/path", "/api/comment/list/", "/api/comment/new/x", "/api/comment"])
def test_an_unknown_path_is_404_json(server, path):
    response = requests.get(server.url + path, timeout=10)
    assert response.status_code == 404, response.text[:500]
    assert response.headers.get("X-Request-ID") and response.headers.get("X-Revision"), response.headers
    body = response.json()
    assert set(body) == {"status", "message"} and all(isinstance(v, str) for v in body.values()), body


def test_without_its_database_the_app_says_unavailable(server_without_database):
    """503 UNAVAILABLE with Retry-After for what needs the database, liveness and the rest still
    answer, and a bad body is still a 400: it is refused before the database is asked."""
    url = server_without_database.url
    # A 503 is what the contract asks for here, so the not-a-5xx check stays out.
    unavailable = {"excluded_checks": [not_a_server_error]}
    conforms(requests.post(url + NEW, json=valid_body(), timeout=30), "POST", NEW, 503, **unavailable)
    conforms(requests.get(url + list_path("x"), timeout=30), "GET", LIST, 503, **unavailable)
    ready = requests.get(url + "/readyz", timeout=30)
    conforms(ready, "GET", "/readyz", 503, **unavailable)
    assert ready.json()["status"] == "unavailable"
    conforms(requests.post(url + NEW, json=valid_body(comment=" "), timeout=30), "POST", NEW, 400)
    for path in ("/healthz", "/version", "/metrics"):
        conforms(requests.get(url + path, timeout=30), "GET", path, 200)
