"""Gunicorn settings, all from the environment: `gunicorn -c gunicorn.conf.py 'comments:create_app()'`."""

import multiprocessing
import os
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("THREADS", "1"))
# SIGTERM: stop accepting, let in-flight requests finish for up to graceful_timeout seconds.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("WORKER_TIMEOUT", "30"))
keepalive = 5
accesslog = None  # the app writes JSON access logs itself
errorlog = "-"
# Gunicorn's runtime control socket is not used (and the image's home is read-only for the app).
control_socket_disable = True
# Schema once, in the master, before the workers fork.
preload_app = True

# Metrics from every worker, summed at /metrics.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="comments-metrics-")


def on_starting(server):
    # Once per master start (after the preloaded app, before any worker): the directory exists and
    # holds no file of a previous run. Not on a USR2 re-exec (GUNICORN_PID set), whose old
    # master's workers still write there.
    if "GUNICORN_PID" not in os.environ:
        from comments import observability

        observability.multiprocess_dir(clear=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    # Connections must not be shared across the fork: each worker opens its own pool.
    app = server.app.callable
    if app is not None and "store" in getattr(app, "extensions", {}):
        app.extensions["store"].dispose(close=False)
