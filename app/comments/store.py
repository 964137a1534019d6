"""Durable storage of comments: PostgreSQL when DATABASE_URL says so, else an embedded SQLite
file. One schema, created by `migrate` (idempotent), and pooled connections."""

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


class Store:
    def __init__(self, config):
        options = {"pool_pre_ping": True}
        if config.database_url.startswith("sqlite"):
            # One file shared by threads and workers; SQLite serialises writers itself.
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options.update(pool_size=config.pool_size, max_overflow=config.pool_max_overflow, pool_recycle=1800)
        self.engine = sa.create_engine(config.database_url, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self):
        metadata.create_all(self.engine, checkfirst=True)

    def add(self, content_id, email, comment):
        with self.engine.begin() as conn:
            conn.execute(comments.insert().values(content_id=content_id, email=email, comment=comment))

    def list(self, content_id):
        query = (
            sa.select(comments.c.email, comments.c.comment)
            .where(comments.c.content_id == content_id)
            .order_by(comments.c.id)
        )
        with self.engine.connect() as conn:
            return [{"email": r.email, "comment": r.comment} for r in conn.execute(query)]

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
