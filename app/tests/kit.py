"""What the tests share: free ports, the app under Gunicorn as its image runs it, and a PostgreSQL
schema of a test's own."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

APP = Path(__file__).resolve().parent.parent


@contextmanager
def own_schema(url):
    """`url` with a search_path into a new schema, dropped afterwards: tests never see each other's
    comments."""
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_env(tmp, port):
    """What the chart sets (PORT, WEB_CONCURRENCY, GRACEFUL_TIMEOUT, PROMETHEUS_MULTIPROC_DIR,
    DATABASE_URL), with `tmp` standing for the Pod's /tmp."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GRACEFUL_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "DATABASE_URL": f"sqlite:///{tmp / 'comments.db'}",
        "TMPDIR": str(tmp),
    }


GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "comments:create_app()"]


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py comments:create_app()` from app/, as the image's CMD."""

    def __init__(self, tmp, log=None, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or tmp / "gunicorn.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                GUNICORN, cwd=APP, env={**gunicorn_env(tmp, self.port), **(env or {})}, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.get("/healthz")
                return
            except (ConnectionError, urllib.error.URLError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"gunicorn did not answer /healthz:\n{self.output()}")
                time.sleep(0.1)

    def request(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        return self.request(path)

    def output(self):
        return Path(self.log).read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
