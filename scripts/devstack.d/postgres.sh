# shellcheck shell=bash
#
# postgres: Debian's PostgreSQL server, a cluster of its own on 127.0.0.1 with trust auth (a
# test database), holding the database `comments`. PostgreSQL refuses to run as root, so under
# root it runs as the `postgres` user with its data outside root's home (which that user cannot
# enter): /var/tmp/ekskit-postgres-<hash of the state directory>, so each stack has its own
# (STATE_DIR/postgres links to it). Anyone else runs it as themselves under the state directory.

PG_PORT=${EKSKIT_PG_PORT:-$((15432 + PORT_SHIFT))}
PG_DATABASE=comments

postgres_packages() { echo postgresql; }
postgres_proc() { echo postgres; }
postgres_grace() { echo 15; }
postgres_where() { echo "postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DATABASE"; }
postgres_ready() {
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d "$PG_DATABASE" -U postgres 2>/dev/null
}

postgres_dir() {
  if ((EUID == 0)); then
    echo "/var/tmp/ekskit-postgres-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)"
  else
    echo "$STATE_DIR/postgres"
  fi
}

# as_pg CMD...: run CMD as the user PostgreSQL runs as (setpriv execs, so pid files stay true).
as_pg() { "${AS_PG[@]}" "$@"; }
AS_PG=()
((EUID != 0)) || AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)

postgres_up() {
  local bin dir
  bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d | sort -V | tail -n 1)
  [[ -x $bin/postgres ]] || die "postgres: no server binaries under /usr/lib/postgresql"
  dir=$(postgres_dir)
  mkdir -p "$dir"
  if ((EUID == 0)); then
    chown postgres:postgres "$dir"
    ln -sfn "$dir" "$STATE_DIR/postgres"
  fi
  if [[ ! -s $dir/data/PG_VERSION ]]; then
    log "postgres: initdb in $dir/data"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  fi
  log "postgres: starting on 127.0.0.1:$PG_PORT"
  spawn postgres "${AS_PG[@]}" "$bin/postgres" -D "$dir/data" -p "$PG_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir" -c max_connections=200
  wait_ready postgres 30 pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" |
    grep -q 1; then
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE $PG_DATABASE"
  fi
}
