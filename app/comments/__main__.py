"""`python -m comments migrate`: apply the schema (idempotent), e.g. as the chart's Job.

It waits for a database that is not there yet (a Pod started before its database, a restart) for
up to MIGRATE_WAIT seconds (default 120), trying again every 2 s; then it fails, exit 1, and says
why. Exit 2: bad usage or configuration."""

import os
import sys
import time

from .config import Config
from .store import Unavailable, open_store


def main(argv, env=os.environ):
    if argv[1:] != ["migrate"]:
        print("usage: python -m comments migrate", file=sys.stderr)
        return 2
    try:
        config = Config.from_env(env)
        wait = float(env.get("MIGRATE_WAIT", "120"))
        store = open_store(config)
    except ValueError as e:
        print(f"migrate: {e}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + wait
    while True:
        try:
            store.migrate()
            break
        except Unavailable as e:
            if time.monotonic() >= deadline:
                print(f"migrate: gave up after {wait:.0f} s: {e}; check DATABASE_URL and that the database runs", file=sys.stderr)
                return 1
            print(f"migrate: {e}; trying again in 2 s", file=sys.stderr)
            time.sleep(2)
    store.dispose()
    print("migrate: schema is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
