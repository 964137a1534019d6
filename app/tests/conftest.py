"""Every API test runs twice: on the embedded SQLite default and on a real PostgreSQL
(TEST_DATABASE_URL, which scripts/app-test points at the local stack's PostgreSQL)."""

import os

import pytest

from comments import create_app
from comments.config import Config
from kit import own_schema


def postgres_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'comments.db'}"
        return
    url = postgres_url()
    if not url:
        pytest.skip("no TEST_DATABASE_URL: PostgreSQL tests need scripts/app-test")
    with own_schema(url) as schema_url:
        yield schema_url


@pytest.fixture
def config(database_url):

    return Config.from_env({"DATABASE_URL": database_url})


@pytest.fixture
def client(config):
    app = create_app(config)
    yield app.test_client()
    app.extensions["store"].dispose()
