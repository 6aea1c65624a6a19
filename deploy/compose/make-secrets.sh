#!/usr/bin/env bash
# Writes the secret files docker-compose.yml mounts under /run/secrets, once: random values,
# never overwriting an existing file (rotation is a deliberate step, see the README).
#
#   deploy/compose/make-secrets.sh [DIR]     # default ./secrets (RUTA_SECRETS_PATH)
#
# The folder is 0700 (only the operator enters it); the files are 0644 because compose
# bind-mounts them as they are and the processes run as uid 10001 (postgres as 999).
set -Eeuo pipefail
dir="${1:-${RUTA_SECRETS_PATH:-./secrets}}"
mkdir -p "$dir"
chmod 700 "$dir"
write() {  # name command...
  local file="$dir/$1"; shift
  if [[ -e "$file" ]]; then echo "kept    $file"; return; fi
  (umask 022; "$@" > "$file")
  echo "written $file"
}
hex() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }
key() { python3 -c 'import base64,json,os; print(json.dumps({"'"${RUTA_DATA_ACTIVE_KEY:-k1}"'": base64.b64encode(os.urandom(32)).decode()}))'; }
write postgres_password hex
write db_password hex
write internal_secret hex
write cursor_secret hex
write data_keys key
write bootstrap_admin_client_secret hex
