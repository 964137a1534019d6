"""Configuration from the environment (twelve-factor): nothing is read from files."""

import ipaddress
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # postgresql://user:pass@host/db (also postgres:// and postgresql+psycopg://) or sqlite:///path.
    database_url: str = "sqlite:///comments.db"
    # Largest request body accepted, however it is framed; larger ones get 413. Above the largest
    # valid comment: 5,382 characters each written as a 12-byte JSON escape pair is 64.6 KB.
    max_body_bytes: int = 128 * 1024
    # Idle PostgreSQL connections each worker keeps (it opens one per thread at most).
    pool_size: int = 4
    # Bounds on every database wait, in seconds: connecting (libpq counts at least 2) and each
    # statement (the server cancels it; the client gives up a second later). 0: no statement bound.
    db_connect_timeout: float = 2
    db_statement_timeout: float = 5
    # A pooled connection is closed after this many seconds (so a failover or a DNS change is
    # picked up, and the server's per-session memory is returned).
    db_max_lifetime: float = 1800
    # Apply the schema before the first statement of each worker (off: run `python -m comments
    # migrate`, e.g. the chart's Job). A database that is not there yet never stops the server.
    migrate_on_start: bool = True
    # Peers whose X-Forwarded-For is believed (Gunicorn's FORWARDED_ALLOW_IPS): addresses or
    # networks, or "*" for any. Anyone else's header is ignored: the log shows the peer.
    forwarded_allow_ips: tuple = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    # A JSON line on stdout per request (off when a load balancer or mesh logs them already).
    access_log: bool = True
    # What the image was built from: the Dockerfile sets them from the REVISION and VERSION build
    # args, which imgbuild fills from git (the commit, and `git describe --tags` or the short one).
    revision: str = "unknown"
    version: str = "dev"

    @staticmethod
    def from_env(env=os.environ):
        """The configuration, or ValueError naming the variable that is wrong."""
        return Config(
            database_url=env.get("DATABASE_URL") or Config.database_url,
            max_body_bytes=_number(env, "MAX_BODY_BYTES", Config.max_body_bytes, int),
            pool_size=_number(env, "DB_POOL_SIZE", Config.pool_size, int),
            db_connect_timeout=_number(env, "DB_CONNECT_TIMEOUT", Config.db_connect_timeout, float),
            db_statement_timeout=_number(env, "DB_STATEMENT_TIMEOUT", Config.db_statement_timeout, float),
            db_max_lifetime=_number(env, "DB_MAX_LIFETIME", Config.db_max_lifetime, float),
            migrate_on_start=_flag(env.get("MIGRATE_ON_START", "true")),
            access_log=_flag(env.get("ACCESS_LOG", "true")),
            forwarded_allow_ips=_networks(env.get("FORWARDED_ALLOW_IPS")) or Config.forwarded_allow_ips,
            revision=env.get("APP_REVISION") or Config.revision,
            version=env.get("APP_VERSION") or Config.version,
        )


def _flag(text):
    return text.lower() in ("1", "true", "yes")


def _number(env, name, default, kind):
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} is negative")
    return value


def _networks(text):
    """FORWARDED_ALLOW_IPS as Gunicorn reads it: comma-separated addresses or networks, or "*"."""
    if not text:
        return ()
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item == "*":
            return ("*",)
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"FORWARDED_ALLOW_IPS: {item!r} is not an IP address or network") from None
    return tuple(networks)
