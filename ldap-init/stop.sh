#!/usr/bin/env bash
# Stops the slapd that start.sh started for DIR: SIGTERM, then SIGKILL after 5 seconds.
# DIR itself is left for the caller to delete. Exits 0 when nothing is running.
#
#   stop.sh DIR
set -euo pipefail

log() { printf 'ldap-init: %s\n' "$*" >&2; }
[ $# -eq 1 ] && [ "$1" != "-h" ] && [ "$1" != "--help" ] || { echo "usage: stop.sh DIR" >&2; exit 2; }
DIR=$1
[ -d "$DIR" ] || { log "no such directory: $DIR"; exit 0; }
DIR=$(cd "$DIR" && pwd)

pid=""
[ -s "$DIR/slapd.pid" ] && pid=$(tr -dc 0-9 < "$DIR/slapd.pid")
if [ -z "$pid" ] && [ -s "$DIR/env" ]; then
  pid=$(sed -n 's/^LDAP_PID=//p' "$DIR/env" | tr -dc 0-9)
fi
if [ -z "$pid" ]; then
  log "no slapd pid recorded in $DIR"
  exit 0
fi

# Only signal the process if it still is our slapd (the pid may have been reused).
ours() {
  local args=() i
  [ -r "/proc/$pid/cmdline" ] || return 1
  mapfile -d '' args < "/proc/$pid/cmdline" 2>/dev/null || return 1
  for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    if [ "${args[i]}" = "-f" ]; then [ "${args[i+1]}" -ef "$DIR/slapd.conf" ]; return; fi
  done
  return 1
}
if ! kill -0 "$pid" 2>/dev/null || ! ours; then
  log "slapd (pid $pid) for $DIR is not running"
  rm -f "$DIR/slapd.pid"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null && ours; then
  log "slapd (pid $pid) did not stop after SIGTERM, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi
if kill -0 "$pid" 2>/dev/null && ours; then
  log "slapd (pid $pid) is still running"
  exit 1
fi
rm -f "$DIR/slapd.pid"
log "stopped slapd (pid $pid) for $DIR"
