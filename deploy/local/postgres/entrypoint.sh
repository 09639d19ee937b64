#!/bin/sh
# First start: initdb (trust auth, local stack only), create POSTGRES_DB owned by
# POSTGRES_USER, run /docker-entrypoint-initdb.d/*.sql once. Then postgres is PID 1.
#   POSTGRES_USER (orders), POSTGRES_DB (orders), PGPORT (5432), LISTEN (* : all interfaces)
set -eu
user=${POSTGRES_USER:-orders}
db=${POSTGRES_DB:-orders}
listen=${LISTEN:-*}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --username="$user" --auth=trust --encoding=UTF8 --no-instructions -D "$PGDATA" >/dev/null
  printf "host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  [ "$db" = postgres ] || createdb -h /tmp -U "$user" "$db"
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$f" ] && psql -h /tmp -U "$user" -d "$db" -v ON_ERROR_STOP=1 -q -f "$f"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "pg-entrypoint: initialised $db for $user"
fi
exec postgres -D "$PGDATA" -c listen_addresses="$listen" -p "$PGPORT" -k /tmp
