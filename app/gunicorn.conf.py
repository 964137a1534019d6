"""Gunicorn settings, all from the environment: `gunicorn -c gunicorn.conf.py 'comments:create_app()'`."""

import math
import os
import tempfile


def cpus():
    """The CPUs this container may use: its cgroup's quota (cpu.max, a Pod's CPU limit) when it
    has one, else the CPUs it may be scheduled on; not the node's count, which on a 64-core node
    would start 64 workers in a Pod limited to one CPU."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return len(os.sched_getaffinity(0))


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
# Threaded workers, one process per CPU (at least 2, so one crash or restart never leaves the Pod
# without a worker), THREADS threads each. A request spends part of its time waiting on
# PostgreSQL; another thread serves meanwhile. Threads also keep /healthz answering while the
# database hangs (each wait on it is bounded, but a single-threaded worker would be busy for the
# whole bound), and keep-alive connections (a load balancer's, kube-proxy's) skip a TCP handshake
# per request, which the sync worker cannot.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, cpus()))
threads = int(os.environ.get("THREADS", "4"))
# SIGTERM: stop accepting, let in-flight requests finish for up to graceful_timeout seconds.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("WORKER_TIMEOUT", "30"))
# Longer than a load balancer's idle timeout (the ALB's is 60 s): the balancer must be the side
# that closes an idle connection, or it may send a request on one the server just closed (a 502).
keepalive = int(os.environ.get("KEEPALIVE", "75"))
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
