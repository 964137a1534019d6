"""The app as the image runs it: Gunicorn with gunicorn.conf.py, several workers, and
PROMETHEUS_MULTIPROC_DIR where the chart puts it, a directory that does not exist yet in a fresh,
empty /tmp (an emptyDir). The in-process tests cannot see this: prometheus_client picks its
multiprocess mode once, at import."""

import json
import signal
import socket
import subprocess
import time

from kit import APP, GUNICORN, Gunicorn, free_port, gunicorn_env


def metric(text, line_start):
    """The value of the sample whose line starts with `line_start`, or None."""
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_fresh_empty_tmp_serves_200_and_metrics_from_every_worker(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    assert not (tmp / "metrics").exists()
    app = Gunicorn(tmp, tmp_path / "gunicorn.log")
    try:
        assert app.get("/healthz") == (200, '{"status":"ok"}\n'), app.output()
        assert app.get("/readyz")[0] == 200, app.output()
        assert app.request("/api/comment/new", {"email": "a@example.com", "comment": "hi", "content_id": 7})[0] == 200
        # Enough requests that both workers, each with its own metric files, take some.
        for _ in range(20):
            assert app.get("/api/comment/list/7")[0] == 200, app.output()
        status, text = app.get("/metrics")
        assert status == 200
        listed = metric(text, 'http_requests_total{method="GET",route="/api/comment/list/<content_id>",status="200"}')
        assert listed == 20, text
        assert len(list((tmp / "metrics").glob("counter_*.db"))) >= 1
    finally:
        app.stop()
    assert "Traceback" not in app.output(), app.output()


def test_a_restart_on_the_same_tmp_starts_the_metrics_from_zero(tmp_path):
    """A container restarted by its kubelet keeps its emptyDir: the previous run's files (other
    pids) must not be summed into the new run's /metrics."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = Gunicorn(tmp, tmp_path / "first.log")
    try:
        for _ in range(5):
            assert first.get("/healthz")[0] == 200
        # Read the metrics, so the worker that answers has written its files for sure.
        assert metric(first.get("/metrics")[1], 'http_requests_total{method="GET",route="/healthz",status="200"}') >= 5
    finally:
        first.stop()
    stale = list((tmp / "metrics").glob("*.db"))
    assert stale, "the first run left its files, as a killed container would"

    second = Gunicorn(tmp, tmp_path / "second.log")
    try:
        text = second.get("/metrics")[1]
        # The readiness poll of the constructor made one /healthz request in this run.
        assert metric(text, 'http_requests_total{method="GET",route="/healthz",status="200"}') == 1, text
    finally:
        second.stop()


def test_a_metrics_dir_that_cannot_be_made_stops_the_app_at_start(tmp_path):
    """Better a Pod that does not start, and says why, than one whose every request is a 500."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "metrics").write_text("a file where the directory should be")
    env = gunicorn_env(tmp, free_port())
    out = subprocess.run(GUNICORN, cwd=APP, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={tmp / 'metrics'} cannot be made ready for the metrics" in out.stderr, out.stderr


def test_sigterm_lets_an_in_flight_request_finish_then_exits(tmp_path):
    """What a rollout does to a Pod after its preStop sleep: SIGTERM while a request is being
    served. The request still gets its answer and the server exits cleanly, well within
    GRACEFUL_TIMEOUT (the chart's gracefulTimeoutSeconds). A connection opened after SIGTERM is
    not served but reset (the kernel queues it on a socket no worker accepts on any more), which
    is why the chart's preStop sleep keeps the Pod serving until no new connection comes."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    app = Gunicorn(tmp, tmp_path / "gunicorn.log")
    body = json.dumps({"email": "a@example.com", "comment": "in flight", "content_id": "term"}).encode()
    head = (
        f"POST /api/comment/new HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        conn = socket.create_connection(("127.0.0.1", app.port), timeout=10)
        # Half the body: a worker has the request and waits for the rest of it.
        conn.sendall(head + body[:10])
        time.sleep(0.5)
        app.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        conn.sendall(body[10:])
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        conn.close()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert app.proc.wait(timeout=5) == 0, app.output()
    finally:
        app.stop()
