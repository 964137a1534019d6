"""Configuration from the environment (twelve-factor): nothing is read from files."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # SQLAlchemy URL; postgresql://user:pass@host/db (psycopg 3) or sqlite:///path.
    database_url: str = "sqlite:///comments.db"
    # Largest request body accepted; larger ones get 413.
    max_body_bytes: int = 16 * 1024
    # Connection pool per worker process (PostgreSQL).
    pool_size: int = 5
    pool_max_overflow: int = 5
    # Test each pooled connection with a query before use: one more round trip per request. Off:
    # a dropped connection is found on use instead (reads retry, writes answer 503).
    pool_pre_ping: bool = False
    # Apply the schema when the app starts (off: run `python -m comments migrate` instead).
    migrate_on_start: bool = True
    # What the image was built from: the Dockerfile sets them from the REVISION and VERSION build
    # args, which imgbuild fills from git (the commit, and `git describe --tags` or the short one).
    revision: str = "unknown"
    version: str = "dev"

    @staticmethod
    def from_env(env=os.environ):
        url = env.get("DATABASE_URL") or Config.database_url
        # Platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return Config(
            database_url=url,
            max_body_bytes=int(env.get("MAX_BODY_BYTES", Config.max_body_bytes)),
            pool_size=int(env.get("DB_POOL_SIZE", Config.pool_size)),
            pool_max_overflow=int(env.get("DB_POOL_MAX_OVERFLOW", Config.pool_max_overflow)),
            pool_pre_ping=_flag(env.get("DB_POOL_PRE_PING", "false")),
            migrate_on_start=_flag(env.get("MIGRATE_ON_START", "true")),
            revision=env.get("APP_REVISION") or Config.revision,
            version=env.get("APP_VERSION") or Config.version,
        )


def _flag(text):
    return text.lower() in ("1", "true", "yes")
