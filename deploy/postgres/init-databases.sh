#!/usr/bin/env bash
# Creates the role `ruta` and the four databases of Ruta de Empleabilidad, each owned by it:
# ruta_gateway, ruta_registry, ruta_referrals, ruta_credentials. Each service owns its
# database; none reaches another's tables.
#
# Run by the postgres image on first initialisation (mounted into /docker-entrypoint-initdb.d),
# and safe to run again by hand against a live server:
#   docker compose exec postgres /docker-entrypoint-initdb.d/10-init-databases.sh
#
# The role's password comes from the file RUTA_DB_PASSWORD_FILE (compose: the secret
# ruta_db_password), else RUTA_DB_PASSWORD (falling back to POSTGRES_PASSWORD); re-running sets
# it again, so this is also how the password is rotated.
set -Eeuo pipefail

ruta_role="${RUTA_DB_USER:-ruta}"
ruta_password="${RUTA_DB_PASSWORD:-${POSTGRES_PASSWORD:-}}"
if [[ -n "${RUTA_DB_PASSWORD_FILE:-}" ]]; then
  ruta_password="$(< "$RUTA_DB_PASSWORD_FILE")"
fi
if [[ -z "$ruta_password" ]]; then
  echo "init-databases: set RUTA_DB_PASSWORD (or POSTGRES_PASSWORD)" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 \
     --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     -v ruta_role="$ruta_role" -v ruta_password="$ruta_password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'ruta_role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'ruta_role')
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'ruta_role', :'ruta_password')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', db, :'ruta_role')
  FROM unnest(ARRAY['ruta_gateway', 'ruta_registry', 'ruta_referrals', 'ruta_credentials']) AS db
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db)
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', db, :'ruta_role'),
       format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db)
  FROM unnest(ARRAY['ruta_gateway', 'ruta_registry', 'ruta_referrals', 'ruta_credentials']) AS db
\gexec
SQL

echo "init-databases: role ${ruta_role} owns ruta_gateway, ruta_registry, ruta_referrals, ruta_credentials"
