"""The app when its database is away: a PostgreSQL server of the test's own, stopped and started
again, and a black hole (a socket that accepts connections and never answers). Every case must
be a quick 503 UNAVAILABLE with Retry-After, one log line without personal data, /healthz still
answering, and service back by itself once the database is."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from comments import create_app
from comments.config import Config
from kit import Gunicorn, free_port
from pgfaults import PostgresFaults

PERSONAL = "outage-person@example.com"


class OwnPostgres:
    """A PostgreSQL cluster for one test module, on a free port, that the test may stop. Under root
    it runs as the `postgres` user (PostgreSQL refuses root), with its files in /var/tmp."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not bins:
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail("REQUIRE_POSTGRES=1 but no PostgreSQL server binaries are installed")
            pytest.skip("no PostgreSQL server binaries")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="comments-test-pg-", dir="/var/tmp")
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [*self.as_user, f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True, capture_output=True,
        )
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [*self.as_user, f"{self.bin}/postgres", "-D", f"{self.dir}/data", "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # a fast shutdown, as `pg_ctl stop` does
        self.proc.wait(timeout=30)

    def remove(self):
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def own_postgres():
    pg = OwnPostgres()
    yield pg
    pg.remove()


@pytest.fixture
def faults(own_postgres):
    """own_postgres behind the PostgreSQL fault front."""
    front = PostgresFaults(own_postgres.port)
    yield front
    front.close()


def stored(own_postgres, content_id):
    with psycopg.connect(own_postgres.url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM comments WHERE content_id = %s", (content_id,)).fetchone()[0]


@pytest.fixture
def black_hole():
    """A socket that completes TCP handshakes (the kernel does, from its backlog) and never reads
    or answers: a database host that hangs, or a firewall that lets SYNs through."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"postgresql://nobody@127.0.0.1:{s.getsockname()[1]}/none"


def post(client, content_id, email=PERSONAL):
    return client.post("/api/comment/new", json={"email": email, "comment": "a private thought", "content_id": content_id})


def assert_unavailable(r):
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.get_json()["status"] in ("UNAVAILABLE", "unavailable")
    assert r.headers["Retry-After"].isdigit()


def test_a_stopped_database_is_503_then_service_comes_back(own_postgres, capfd):
    app = create_app(Config.from_env({"DATABASE_URL": own_postgres.url}))
    client = app.test_client()
    assert post(client, "outage").status_code == 200
    capfd.readouterr()

    own_postgres.stop()
    try:
        answers = [client.get("/api/comment/list/outage"), post(client, "outage"), client.get("/readyz")]
        for _ in range(20):
            answers.append(post(client, "outage"))
        for r in answers:
            assert_unavailable(r)
        assert client.get("/healthz").status_code == 200, "liveness never depends on the database"
    finally:
        own_postgres.start()
    time.sleep(1.1)  # the Retry-After the app gave
    assert post(client, "outage").status_code == 200
    assert [c["comment"] for c in client.get("/api/comment/list/outage").get_json()] == ["a private thought"] * 2
    app.extensions["store"].dispose()

    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    failures = [line for line in lines if line["level"] == "WARNING"]
    assert len(failures) == len(answers), err
    assert all(line["request_id"] and "traceback" not in line for line in failures), err
    assert PERSONAL not in err and "a private thought" not in err
    assert "Traceback" not in err


def test_a_black_hole_costs_one_connect_timeout_then_fails_fast(black_hole):
    app = create_app(Config.from_env({"DATABASE_URL": black_hole, "DB_CONNECT_TIMEOUT": "2"}))
    client = app.test_client()
    started = time.monotonic()
    assert_unavailable(client.get("/readyz"))
    first = time.monotonic() - started
    assert first < 4, f"the connect timeout bounds the first attempt: {first:.1f} s"
    started = time.monotonic()
    assert_unavailable(client.get("/api/comment/list/1"))
    assert_unavailable(post(client, "1"))
    assert time.monotonic() - started < 0.5, "within the back-off, no second connect is waited for"
    assert client.get("/healthz").status_code == 200


def test_a_statement_that_hangs_is_cut_by_the_statement_timeout(own_postgres):
    config = Config.from_env({"DATABASE_URL": own_postgres.url, "DB_STATEMENT_TIMEOUT": "1"})
    app = create_app(config)
    client = app.test_client()
    assert post(client, "locked").status_code == 200
    with psycopg.connect(own_postgres.url) as locker:
        locker.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        started = time.monotonic()
        assert_unavailable(client.get("/api/comment/list/locked"))
        assert_unavailable(post(client, "locked"))
        assert time.monotonic() - started < 5
    assert client.get("/api/comment/list/locked").status_code == 200
    app.extensions["store"].dispose()


def test_gunicorn_on_a_black_hole_listens_and_stays_alive(tmp_path, black_hole):
    """MIGRATE_ON_START with a database that hangs: the server still listens, every API request is
    a bounded 503, and /healthz answers at once all along (a liveness probe must not restart a Pod
    for its database's sake)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    app = Gunicorn(tmp, tmp_path / "gunicorn.log", env={"DATABASE_URL": black_hole, "MIGRATE_ON_START": "true"})
    try:
        stop = threading.Event()

        def load():
            answers = []
            while not stop.is_set():
                started = time.monotonic()
                answers.append((app.get("/api/comment/list/1")[0], time.monotonic() - started))
            return answers

        with ThreadPoolExecutor(8) as pool:
            loads = [pool.submit(load) for _ in range(8)]
            health = []
            for _ in range(10):
                started = time.monotonic()
                health.append((app.get("/healthz")[0], time.monotonic() - started))
                time.sleep(0.3)
            stop.set()
            answers = [a for f in loads for a in f.result()]
        assert all(status == 200 and took < 1 for status, took in health), health
        assert answers and all(status == 503 and took < 4 for status, took in answers), answers[:20]
    finally:
        app.stop()


def test_migrate_waits_for_a_database_that_is_not_there_yet(own_postgres):
    own_postgres.stop()
    env = {**os.environ, "DATABASE_URL": own_postgres.url, "MIGRATE_WAIT": "60"}
    cli = subprocess.Popen(
        [sys.executable, "-m", "comments", "migrate"], cwd=os.path.dirname(os.path.dirname(__file__)),
        env=env, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(3)
    own_postgres.start()
    _, err = cli.communicate(timeout=30)
    assert cli.returncode == 0, err
    assert "trying again" in err and "schema is up to date" in err


def test_migrate_gives_up_with_the_reason(black_hole):
    app_dir = os.path.dirname(os.path.dirname(__file__))
    env = {**os.environ, "DATABASE_URL": black_hole, "MIGRATE_WAIT": "1"}
    out = subprocess.run([sys.executable, "-m", "comments", "migrate"], cwd=app_dir, env=env,
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 1
    assert "gave up after 1 s" in out.stderr and "check DATABASE_URL" in out.stderr, out.stderr


@pytest.fixture
def front_client(faults):
    """The app on own_postgres through the fault front, with a pooled connection (one POST made)."""
    app = create_app(Config.from_env({"DATABASE_URL": faults.url()}))
    client = app.test_client()
    assert post(client, "warm-up").status_code == 200
    yield client
    app.extensions["store"].dispose()


def test_a_read_whose_answer_is_lost_is_answered_from_a_new_connection(faults, front_client):
    assert post(front_client, "lost-read").status_code == 200
    faults.lose_next_answer()
    r = front_client.get("/api/comment/list/lost-read")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [c["comment"] for c in r.get_json()] == ["a private thought"]
    assert faults.lost == 1


@pytest.mark.parametrize("fault, kept", [("lose_next_answer", 1), ("cut_next", 0)])
def test_a_write_that_fails_on_the_wire_is_503_and_never_written_twice(own_postgres, faults, front_client, fault, kept):
    # An answer lost after the commit (kept) or a statement cut before it arrived (not): the app
    # cannot tell them apart, so it never writes again; the client decides.
    getattr(faults, fault)()
    assert_unavailable(post(front_client, fault))
    assert faults.lost + faults.cut == 1
    assert stored(own_postgres, fault) == kept
    assert post(front_client, fault).status_code == 200, "the next request gets a new connection"
    assert stored(own_postgres, fault) == kept + 1


def test_a_keyed_write_whose_answer_is_lost_can_be_sent_again_and_is_stored_once(own_postgres, faults, front_client):
    body = {"email": PERSONAL, "comment": "a private thought", "content_id": "lost-keyed"}
    key = {"Idempotency-Key": "lost-keyed-1"}
    faults.lose_next_answer()
    assert_unavailable(front_client.post("/api/comment/new", json=body, headers=key))
    again = front_client.post("/api/comment/new", json=body, headers=key)  # what the client does next
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert stored(own_postgres, "lost-keyed") == 1
