"""Durable storage of comments: PostgreSQL when DATABASE_URL says so, else an embedded SQLite
file. One schema, created by `migrate` (idempotent), and pooled connections.

Each request is one statement in autocommit: an INSERT commits on its own and a SELECT needs no
transaction, so there is no BEGIN/COMMIT/ROLLBACK round trip around it, and no pre-ping query
before it. A pooled connection the server has dropped (a restart, a failover) is found when it
is used: a read is retried once on a fresh connection; a write is not (it could have committed),
it fails with Unavailable and the client retries."""

import sqlalchemy as sa

metadata = sa.MetaData()

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("content_id", sa.String(128), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("comments_by_content", "content_id", "id"),
)

_INSERT = comments.insert().values(
    content_id=sa.bindparam("content_id"), email=sa.bindparam("email"), comment=sa.bindparam("comment")
)
_LIST = (
    sa.select(comments.c.email, comments.c.comment)
    .where(comments.c.content_id == sa.bindparam("content_id"))
    .order_by(comments.c.id)
)


class Unavailable(Exception):
    """The database could not be reached; the request can be retried."""


class Store:
    def __init__(self, config):
        options = {"pool_pre_ping": config.pool_pre_ping, "isolation_level": "AUTOCOMMIT"}
        if config.database_url.startswith("sqlite"):
            # One file shared by threads and workers; SQLite serialises writers itself.
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options.update(pool_size=config.pool_size, max_overflow=config.pool_max_overflow, pool_recycle=1800)
        self.engine = sa.create_engine(config.database_url, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self):
        with self.engine.connect() as conn:
            metadata.create_all(conn, checkfirst=True)

    def add(self, content_id, email, comment):
        try:
            with self.engine.connect() as conn:
                conn.execute(_INSERT, {"content_id": content_id, "email": email, "comment": comment})
        except sa.exc.DBAPIError as e:
            if e.connection_invalidated:
                raise Unavailable("the database connection was lost; retry the request") from e
            raise

    def list(self, content_id):
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(_LIST, {"content_id": content_id}).all()
                return [{"email": email, "comment": comment} for email, comment in rows]
            except sa.exc.DBAPIError as e:
                if not e.connection_invalidated:
                    raise
                if attempt == 2:
                    raise Unavailable("the database is unreachable") from e

    def ping(self):
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self, close=True):
        """close=False after a fork: drop the inherited pool without closing the parent's sockets."""
        self.engine.dispose(close=close)


def _sqlite_pragmas(dbapi_conn, _record):
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
