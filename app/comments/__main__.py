"""`python -m comments migrate`: apply the schema (idempotent), e.g. as a Kubernetes Job."""

import sys

from .config import Config
from .store import Store


def main(argv):
    if argv[1:] != ["migrate"]:
        print("usage: python -m comments migrate", file=sys.stderr)
        return 2
    store = Store(Config.from_env())
    store.migrate()
    store.dispose()
    print("schema is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
