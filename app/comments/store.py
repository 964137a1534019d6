"""Durable storage of comments: PostgreSQL when DATABASE_URL says so (psycopg 3), else an embedded
SQLite file. One schema, applied by `migrate` (idempotent, safe to run from several Pods at once).

Each request is one prepared statement in autocommit: an INSERT commits on its own (acknowledged
only once it is durable) and a SELECT needs no transaction, so there is no BEGIN/COMMIT round trip
and no pre-ping query around it. A pooled connection the server has dropped (a restart, a failover)
is found when it is used: a read is retried once on a fresh connection; a write is not (it could
have committed), it fails with Unavailable and the client retries.

Every wait on the database is bounded (connect, statement, and the client's own wait for an answer)
so no request outlives DB_STATEMENT_TIMEOUT plus a second, and after a failed connect the process
answers Unavailable at once for a second instead of every request waiting on its own connect: a
database that is down costs one connect attempt per worker per second, not one per request.
"""

import sqlite3
import threading
import time
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

# The same shape SQLAlchemy's create_all made, so databases made by earlier versions are kept.
_PG_SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext('comments schema'))",
    """CREATE TABLE IF NOT EXISTS comments (
        id BIGSERIAL PRIMARY KEY,
        content_id VARCHAR(128) NOT NULL,
        email VARCHAR(254) NOT NULL,
        comment TEXT NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS comments_by_content ON comments (content_id, id)",
    # Added later: databases made before it get it here. NULLs never collide in a unique index.
    "ALTER TABLE comments ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(255)",
    "CREATE UNIQUE INDEX IF NOT EXISTS comments_by_idempotency_key ON comments (idempotency_key)",
)
_SQLITE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS comments (
        id INTEGER NOT NULL PRIMARY KEY,
        content_id VARCHAR(128) NOT NULL,
        email VARCHAR(254) NOT NULL,
        comment TEXT NOT NULL,
        created_at DATETIME NOT NULL DEFAULT (CURRENT_TIMESTAMP))""",
    "CREATE INDEX IF NOT EXISTS comments_by_content ON comments (content_id, id)",
)
# SQLite has no ADD COLUMN IF NOT EXISTS: the column is added when table_info lacks it.
_SQLITE_KEY_COLUMN = "ALTER TABLE comments ADD COLUMN idempotency_key VARCHAR(255)"
_SQLITE_KEY_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS comments_by_idempotency_key ON comments (idempotency_key)"
_INSERT = "INSERT INTO comments (content_id, email, comment) VALUES (%s, %s, %s)"
# With a key: a repeat inserts nothing, and what the key stored is read back to compare.
_INSERT_KEYED = (
    "INSERT INTO comments (content_id, email, comment, idempotency_key) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
_BY_KEY = "SELECT content_id, email, comment FROM comments WHERE idempotency_key = %s"
_LIST = "SELECT email, comment FROM comments WHERE content_id = %s ORDER BY id"
# sqlite3's placeholders.
_SQLITE_INSERT = _INSERT.replace("%s", "?")
_SQLITE_INSERT_KEYED = _INSERT_KEYED.replace("%s", "?")
_SQLITE_BY_KEY = _BY_KEY.replace("%s", "?")
_SQLITE_LIST = _LIST.replace("%s", "?")

# After a failed connect, how long a process answers Unavailable without trying again.
_BACKOFF_SECONDS = 1.0
# What psycopg raises when Connection.wait's timeout expires (private, hence looked up softly).
_WAIT_TIMEOUT = getattr(psycopg.errors, "_WaitTimeout", ())


class KeyReused(Exception):
    """An Idempotency-Key already stored another comment."""


def _stored(inserted, earlier, content_id, email, comment):
    """After a keyed insert: True when it stored the comment, False when an earlier request with
    the key had (a repeat), KeyReused when that request stored something else."""
    if inserted:
        return True
    if earlier is not None and tuple(earlier) == (content_id, email, comment):
        return False
    raise KeyReused("this Idempotency-Key was sent with another comment; use a new key for a new comment")


class Unavailable(Exception):
    """The database could not be reached or did not answer in time; the request can be retried."""

    retry_after = int(_BACKOFF_SECONDS)


def open_store(config):
    if config.database_url.startswith("sqlite:"):
        return SqliteStore(config)
    return PostgresStore(config)


class _Connection(psycopg.Connection):
    """A psycopg connection whose every wait for the server is bounded (psycopg has no client-side
    timeout on execute): a server that accepts and never answers costs `wait_timeout`, not a
    worker. On expiry psycopg raises an OperationalError and the connection is discarded."""

    wait_timeout = None
    born = 0.0

    def wait(self, gen, interval=0.1, timeout=None):
        return super().wait(gen, interval=interval, timeout=timeout or self.wait_timeout)


class PostgresStore:
    def __init__(self, config):
        params = conninfo_to_dict(_libpq_url(config.database_url))
        params.setdefault("application_name", "comments")
        if config.db_statement_timeout > 0:
            timeout_ms = int(config.db_statement_timeout * 1000)
            params["options"] = f"{params.get('options', '')} -c statement_timeout={timeout_ms}".strip()
        self._params = params
        self._connect_timeout = config.db_connect_timeout
        # The client gives the server its statement timeout plus a second to say so.
        self._wait_timeout = config.db_statement_timeout + 1 if config.db_statement_timeout > 0 else None
        self._pool_size = config.pool_size
        self._max_lifetime = config.db_max_lifetime
        self._migrate_on_start = config.migrate_on_start
        self._schema_applied = False  # by this process
        self._idle = []
        self._inherited = []
        self._lock = threading.Lock()
        self._healthy = False  # no connect has succeeded yet, or the last one failed
        self._retry_at = 0.0  # after a failure, no connect before this (time.monotonic())
        self._probing = False

    def migrate(self):
        with self._connection() as conn:
            if not self._schema_applied:  # else the connect just did (MIGRATE_ON_START)
                self._apply_schema(conn)

    def add(self, content_id, email, comment, key=None):
        """Stores a comment; with an Idempotency-Key `key`, once: False for a repeat."""
        with self._connection() as conn:
            if key is None:
                conn.execute(_INSERT, (content_id, email, comment), prepare=True)
                return True
            inserted = conn.execute(_INSERT_KEYED, (content_id, email, comment, key), prepare=True).fetchone()
            earlier = None if inserted else conn.execute(_BY_KEY, (key,), prepare=True).fetchone()
        return _stored(inserted, earlier, content_id, email, comment)

    def list(self, content_id):
        try:
            with self._connection(reused_only=True) as conn:
                rows = conn.execute(_LIST, (content_id,), prepare=True).fetchall()
        except _Retry:
            with self._connection() as conn:
                rows = conn.execute(_LIST, (content_id,), prepare=True).fetchall()
        return [{"email": email, "comment": comment} for email, comment in rows]

    def ping(self):
        with self._connection() as conn:
            conn.execute("SELECT 1")

    def dispose(self, close=True):
        """close=False after a fork: forget the inherited connections without closing the
        parent's sockets. They are kept referenced, never collected: freeing one would send the
        server a Terminate on the parent's session."""
        with self._lock:
            idle, self._idle = self._idle, []
        if not close:
            self._inherited.extend(idle)
            return
        for conn in idle:
            conn.close()

    @contextmanager
    def _connection(self, reused_only=False):
        """A connection for one statement, back to the pool after it. A database failure raises
        Unavailable; with reused_only, the failure of a pooled connection raises _Retry instead, so a
        read can try once more on a new connection."""
        conn, reused = self._get()
        try:
            yield conn
        except psycopg.OperationalError as e:
            conn.close()
            if isinstance(e, _WAIT_TIMEOUT):
                self._failed()  # the server hangs: its other connections would too
            elif reused_only and reused:
                raise _Retry() from e
            raise Unavailable(_reason(e)) from e
        except BaseException:
            conn.close()  # mid-statement state unknown: never reuse it
            raise
        self._put(conn)

    def _get(self):
        """A pooled connection, or a new one. Until a connect has succeeded (at start, and after a
        failure) one thread of the process connects while the others answer Unavailable at once,
        and after a failure nobody tries again for a second: a database that hangs holds one
        thread per worker, never all of them."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if time.monotonic() - conn.born < self._max_lifetime:
                    return conn, True
                conn.close()
            probe = not self._healthy
            if probe:
                if self._probing or time.monotonic() < self._retry_at:
                    raise Unavailable("the database is unreachable; retry shortly")
                self._probing = True
        try:
            return self._connect(), False
        finally:
            if probe:
                with self._lock:
                    self._probing = False

    def _connect(self):
        try:
            conn = _Connection.connect(**self._params, autocommit=True, connect_timeout=self._connect_timeout)
        except psycopg.OperationalError as e:
            self._failed()
            raise Unavailable(_reason(e)) from e
        with self._lock:
            self._healthy = True
        conn.wait_timeout = self._wait_timeout
        conn.born = time.monotonic()
        if self._migrate_on_start and not self._schema_applied:
            # On the first connection of each worker rather than before the server listens, so a
            # database that is not there yet delays nothing but requests.
            try:
                self._apply_schema(conn)
            except psycopg.OperationalError as e:
                conn.close()
                raise Unavailable(_reason(e)) from e
            except BaseException:
                conn.close()
                raise
        return conn

    def _failed(self):
        with self._lock:
            self._healthy = False
            self._retry_at = time.monotonic() + _BACKOFF_SECONDS
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _apply_schema(self, conn):
        with conn.transaction():
            for statement in _PG_SCHEMA:
                conn.execute(statement)
        self._schema_applied = True

    def _put(self, conn):
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()


class _Retry(Exception):
    """A pooled connection failed; the statement may be tried once on a new one."""


def _reason(error):
    """What went wrong with the database, in one line and without the statement or its
    parameters (psycopg's messages carry neither; the server's DETAIL could, so it is dropped)."""
    diag = getattr(error, "diag", None)
    text = (diag.message_primary if diag is not None and diag.message_primary else str(error)).strip()
    return "the database is unavailable: " + (text.splitlines()[0] if text else type(error).__name__)


def _libpq_url(url):
    """postgresql+psycopg://, postgresql:// or postgres:// as libpq's postgresql://."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError(f"DATABASE_URL scheme {scheme!r} is neither postgresql:// nor sqlite://")
    return "postgresql://" + rest


class SqliteStore:
    """An embedded file: for one Pod or a laptop. Each thread of each worker has its own
    connection; SQLite serialises writers itself (WAL: readers never wait for the writer)."""

    def __init__(self, config):
        self._path = _sqlite_path(config.database_url)
        self._busy_timeout = config.db_statement_timeout or 5.0
        self._migrate_on_start = config.migrate_on_start
        self._schema_applied = False  # by this process
        self._local = threading.local()

    def migrate(self):
        conn = self._conn()
        if not self._schema_applied:  # else the connect just did (MIGRATE_ON_START)
            self._apply_schema(conn)

    def add(self, content_id, email, comment, key=None):
        with self._errors():
            if key is None:
                self._conn().execute(_SQLITE_INSERT, (content_id, email, comment))
                return True
            inserted = self._conn().execute(_SQLITE_INSERT_KEYED, (content_id, email, comment, key)).fetchone()
            earlier = None if inserted else self._conn().execute(_SQLITE_BY_KEY, (key,)).fetchone()
        return _stored(inserted, earlier, content_id, email, comment)

    def list(self, content_id):
        with self._errors():
            rows = self._conn().execute(_SQLITE_LIST, (content_id,)).fetchall()
        return [{"email": email, "comment": comment} for email, comment in rows]

    def ping(self):
        with self._errors():
            self._conn().execute("SELECT 1")

    def dispose(self, close=True):
        conn = getattr(self._local, "conn", None)
        self._local = threading.local()
        if conn is not None and close:
            conn.close()

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: autocommit, one statement is one transaction.
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an acknowledged comment survives a power cut
            self._local.conn = conn
            if self._migrate_on_start and not self._schema_applied:
                self._apply_schema(conn)
        return conn

    def _apply_schema(self, conn):
        with conn:
            for statement in _SQLITE_SCHEMA:
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(comments)")}
            if "idempotency_key" not in columns:
                try:
                    conn.execute(_SQLITE_KEY_COLUMN)
                except sqlite3.OperationalError as e:
                    if "duplicate column" not in str(e):  # another worker added it meanwhile
                        raise
            conn.execute(_SQLITE_KEY_INDEX)
        self._schema_applied = True

    @contextmanager
    def _errors(self):
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise Unavailable("the database is busy; retry shortly") from e
            raise


def _sqlite_path(url):
    # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spelled them.
    path = unquote(urlsplit(url).path)
    return path.removeprefix("/")
