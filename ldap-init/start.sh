#!/usr/bin/env bash
# Starts a private OpenLDAP slapd for development and tests. See README.md.
#
#   start.sh DIR [--port N] [--tls-port N] [--ldif FILE]... [--base DN]
#                [--loglevel LEVEL] [--svc-unlimited] [--no-tls]
#
# DIR is created (it should be a fresh directory); everything of this instance lives in it.
# stdout gets only KEY=VALUE lines (LDAP_URL, LDAPS_URL, LDAP_CA, LDAP_BASE, LDAP_BIND_DN,
# LDAP_BIND_PASSWORD, LDAP_ADMIN_DN, LDAP_ADMIN_PASSWORD, LDAP_PID, LDAP_DIR); the same lines
# go to DIR/env (sourceable). Progress and errors go to stderr. Stop it with stop.sh DIR.
# --no-tls: no certificate, no ldaps:// listener, and StartTLS refused (LDAPS_URL is empty).
set -euo pipefail

BASE="dc=example,dc=com"
ADMIN_PASSWORD="admin-secret"
SVC_PASSWORD="switchboard-secret"
SLAPD=/usr/sbin/slapd
SLAPADD=/usr/sbin/slapadd
SLAPPASSWD=/usr/sbin/slappasswd
MODULE_PATH=/usr/lib/ldap
SCHEMA_DIR=/etc/ldap/schema
START_TIMEOUT=30

log() { printf 'ldap-init: %s\n' "$*" >&2; }
die() { printf 'ldap-init: error: %s\n' "$*" >&2; exit 1; }
usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------- arguments
DIR=""
PORT=""
TLS_PORT=""
LDIFS=()
LOGLEVEL="none"
SVC_UNLIMITED=0
TLS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || usage; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#*=}"; shift ;;
    --tls-port) [ $# -ge 2 ] || usage; TLS_PORT="$2"; shift 2 ;;
    --tls-port=*) TLS_PORT="${1#*=}"; shift ;;
    --ldif) [ $# -ge 2 ] || usage; LDIFS+=("$2"); shift 2 ;;
    --ldif=*) LDIFS+=("${1#*=}"); shift ;;
    --base) [ $# -ge 2 ] || usage; BASE="$2"; shift 2 ;;
    --base=*) BASE="${1#*=}"; shift ;;
    --loglevel) [ $# -ge 2 ] || usage; LOGLEVEL="$2"; shift 2 ;;
    --svc-unlimited) SVC_UNLIMITED=1; shift ;;
    --no-tls) TLS=0; shift ;;
    -h|--help) usage ;;
    -*) log "unknown option: $1"; usage ;;
    *) [ -z "$DIR" ] || { log "only one DIR may be given"; usage; }; DIR="$1"; shift ;;
  esac
done
[ -n "$DIR" ] || usage
for p in "$PORT" "$TLS_PORT"; do
  [ -z "$p" ] || [[ "$p" =~ ^[0-9]+$ && "$p" -gt 0 && "$p" -lt 65536 ]] || die "bad port: $p"
done
for f in ${LDIFS[@]+"${LDIFS[@]}"}; do
  [ -r "$f" ] || die "cannot read LDIF file: $f"
done
shopt -s nocasematch
[[ "$BASE" =~ ^(dc|o|ou)=[^,=\"\\]+(,[A-Za-z]+=[^,=\"\\]+)*$ ]] \
  || die "--base must be a plain DN starting with dc=, o= or ou= (got: $BASE)"
shopt -u nocasematch

# ------------------------------------------------------------------------------ install
have_slapd() {
  [ -x "$SLAPD" ] && [ -x "$SLAPADD" ] && [ -x "$SLAPPASSWD" ] \
    && [ -e "$MODULE_PATH/back_mdb.la" ] && [ -e "$MODULE_PATH/syncprov.la" ] \
    && [ -r "$SCHEMA_DIR/inetorgperson.schema" ]
}
have_clients() { command -v ldapsearch >/dev/null && command -v ldapwhoami >/dev/null; }
need_install() { ! { have_slapd && have_clients && command -v openssl >/dev/null; }; }

install_packages() {
  local sudo="" policy_created=0 rc=0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null \
      || die "slapd/ldap-utils/openssl are missing and I am not root (and have no sudo): run as root once, or: apt-get install slapd ldap-utils openssl"
    sudo="sudo -n"
  fi
  # Serialise concurrent start.sh runs that all want to install.
  local lock=/tmp/ldap-init-install.lock
  { exec 9>>"$lock"; } 2>/dev/null || exec 9<"$lock"
  flock 9
  need_install || { exec 9>&-; return 0; }
  export DEBIAN_FRONTEND=noninteractive
  # Install the package without Debian's own database and without starting its service.
  echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections 2>/dev/null || true
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    policy_created=1
    # shellcheck disable=SC2064 # expand $sudo now
    trap "$sudo rm -f /usr/sbin/policy-rc.d" EXIT
  fi
  # Only what is missing, and --no-upgrade: never upgrade what is already installed.
  local pkgs=()
  have_slapd || pkgs+=(slapd)
  have_clients || pkgs+=(ldap-utils)
  command -v openssl >/dev/null || pkgs+=(openssl)
  log "installing ${pkgs[*]} with apt-get"
  local apt=(apt-get install -y -q --no-install-recommends --no-upgrade "${pkgs[@]}")
  if ! $sudo "${apt[@]}" >&2; then
    $sudo apt-get update -q >&2 || true
    $sudo "${apt[@]}" >&2 || rc=$?
  fi
  if [ "$policy_created" -eq 1 ]; then $sudo rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  # Make sure no system slapd is left running (on port 389) or enabled.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now slapd >&2 2>/dev/null || true
  elif command -v service >/dev/null; then
    $sudo service slapd stop >&2 2>/dev/null || true
  fi
  local pidf
  for pidf in /run/slapd/slapd.pid /var/run/slapd/slapd.pid; do
    if [ -s "$pidf" ]; then
      local pid; pid=$(cat "$pidf")
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "stopping the system slapd (pid $pid) started by the package"
        $sudo kill "$pid" 2>/dev/null || true
      fi
    fi
  done
  exec 9>&-
  [ "$rc" -eq 0 ] || die "apt-get install failed"
  need_install && die "slapd/ldap-utils/openssl still missing after apt-get install"
  return 0
}

if need_install; then install_packages; fi

port_in_use() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(0)
sys.exit(1)' "$1"
  else
    (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
for given in "$PORT" "$TLS_PORT"; do
  if [ -n "$given" ] && port_in_use "$given"; then die "port $given on 127.0.0.1 is already in use"; fi
done
[ -z "$PORT" ] || [ "$PORT" != "$TLS_PORT" ] || die "--port and --tls-port must differ"

# ------------------------------------------------------------------------------- layout
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[[ "$DIR" != *$'\n'* && "$DIR" != *'"'* ]] || die "DIR must not contain newlines or double quotes"
if [ -s "$DIR/slapd.pid" ] && kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null; then
  die "a slapd (pid $(cat "$DIR/slapd.pid")) is already running for $DIR; stop it with stop.sh"
fi
rm -rf "$DIR/db" "$DIR/tls" "$DIR/slapd.pid" "$DIR/slapd.args" "$DIR/env"
mkdir -p "$DIR/db" "$DIR/tls"
chmod 700 "$DIR/db"
CONF="$DIR/slapd.conf"
SVC_DN="cn=switchboard,ou=Services,$BASE"
ADMIN_DN="cn=admin,$BASE"

# ---------------------------------------------------------------------------------- TLS
log "generating a test CA and a server certificate in $DIR/tls"
(
  cd "$DIR/tls"
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -keyout ca.key -out ca.pem -subj "/O=Switchboard test/CN=Switchboard Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  openssl req -new -newkey rsa:2048 -nodes -sha256 \
    -keyout server.key -out server.csr -subj "/O=Switchboard test/CN=localhost" 2>/dev/null
  # OpenLDAP's own clients (ldapsearch, libldap) check a connection to "localhost" against
  # the machine's host name instead, so that name is in the certificate too.
  san="DNS:localhost,IP:127.0.0.1"
  for h in $(hostname 2>/dev/null) $(hostname -f 2>/dev/null); do
    if [[ "$h" =~ ^[A-Za-z0-9.-]+$ && "$h" != localhost && ",$san," != *",DNS:$h,"* ]]; then
      san="$san,DNS:$h"
    fi
  done
  cat > server.ext <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -sha256 -days 3650 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile server.ext -out server.pem 2>/dev/null
  # GnuTLS (which Debian's slapd uses) reads PEM PKCS#1 and PKCS#8 keys; write the
  # traditional RSA form, which every version accepts, readable only by us.
  openssl rsa -in server.key -out server.key.rsa -traditional 2>/dev/null \
    && mv server.key.rsa server.key
  chmod 600 ca.key server.key
  chmod 644 ca.pem server.pem
  rm -f server.csr server.ext
) || die "certificate generation with openssl failed"

# -------------------------------------------------------------------------- slapd.conf
ADMIN_HASH=$("$SLAPPASSWD" -h '{SSHA}' -s "$ADMIN_PASSWORD")
SVC_HASH=$("$SLAPPASSWD" -h '{SSHA}' -s "$SVC_PASSWORD")
if [ "$SVC_UNLIMITED" -eq 1 ]; then
  SVC_LIMITS="size=unlimited time=unlimited"
else
  SVC_LIMITS="size.soft=500 size.hard=500 size.pr=unlimited size.prtotal=unlimited time=unlimited"
fi

if [ "$TLS" -eq 1 ]; then
  TLS_CONF="TLSCACertificateFile    \"$DIR/tls/ca.pem\"
TLSCertificateFile      \"$DIR/tls/server.pem\"
TLSCertificateKeyFile   \"$DIR/tls/server.key\"
TLSVerifyClient         never"
else
  TLS_CONF="# --no-tls: no certificate, so StartTLS is refused"
fi

cat > "$CONF" <<EOF
# Generated by ldap-init/start.sh for a development/test instance. Do not edit: it is
# rewritten on every start.
include         $SCHEMA_DIR/core.schema
include         $SCHEMA_DIR/cosine.schema
include         $SCHEMA_DIR/inetorgperson.schema
include         $SCHEMA_DIR/nis.schema

modulepath      $MODULE_PATH
moduleload      back_mdb
moduleload      syncprov

pidfile         "$DIR/slapd.pid"
argsfile        "$DIR/slapd.args"
loglevel        none
tool-threads    2
password-hash   {SSHA}

$TLS_CONF
# The root DSE and the schema are public (clients read supportedControl etc. before binding).
access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read

database        mdb
suffix          "$BASE"
rootdn          "$ADMIN_DN"
rootpw          $ADMIN_HASH
directory       "$DIR/db"
maxsize         4294967296
dbnosync

index   objectClass     eq
index   uid             eq,sub
index   cn              eq,sub
index   entryUUID       eq
index   entryCSN        eq
index   member          eq
index   ou              eq
index   mail            eq

# Like a real server: 500 entries without the paged-results control (RFC 2696), everything
# with it. (The rootdn is never limited by OpenLDAP.)
sizelimit size.soft=500 size.hard=500 size.pr=unlimited size.prtotal=unlimited
limits dn.exact="$ADMIN_DN" size=unlimited time=unlimited
limits dn.exact="$SVC_DN" $SVC_LIMITS

access to attrs=userPassword
        by self write
        by anonymous auth
        by dn.exact="$SVC_DN" write
        by * none
access to *
        by dn.exact="$SVC_DN" write
        by users read
        by * none

overlay syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 10000
EOF

# ---------------------------------------------------------------------------- base data
BASE_RDN_ATTR=${BASE%%=*}; BASE_RDN_ATTR=${BASE_RDN_ATTR,,}
BASE_RDN_VAL=${BASE#*=}; BASE_RDN_VAL=${BASE_RDN_VAL%%,*}
case "$BASE_RDN_ATTR" in
  dc) BASE_ENTRY="objectClass: dcObject
objectClass: organization
dc: $BASE_RDN_VAL
o: $BASE_RDN_VAL" ;;
  o) BASE_ENTRY="objectClass: organization
o: $BASE_RDN_VAL" ;;
  ou) BASE_ENTRY="objectClass: organizationalUnit
ou: $BASE_RDN_VAL" ;;
  *) die "--base must start with dc=, o= or ou=" ;;
esac
cat > "$DIR/base.ldif" <<EOF
dn: $BASE
objectClass: top
$BASE_ENTRY

dn: ou=Services,$BASE
objectClass: top
objectClass: organizationalUnit
ou: Services
description: Service accounts

dn: $SVC_DN
objectClass: top
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: switchboard
description: Switchboard service account (reads and writes everything)
userPassword: $SVC_HASH

dn: ou=Groups,$BASE
objectClass: top
objectClass: organizationalUnit
ou: Groups
description: Groups

EOF

log "loading data with slapadd"
load_start=$(date +%s.%N)
: > "$DIR/slapadd.log"
for f in "$DIR/base.ldif" ${LDIFS[@]+"${LDIFS[@]}"}; do
  if ! "$SLAPADD" -q -w -f "$CONF" -l "$f" >>"$DIR/slapadd.log" 2>&1; then
    tail -n 20 "$DIR/slapadd.log" >&2
    die "slapadd failed for $f (full output in $DIR/slapadd.log)"
  fi
done
load_end=$(date +%s.%N)
log "loaded ${#LDIFS[@]} LDIF file(s) in $(awk -v a="$load_start" -v b="$load_end" 'BEGIN{printf "%.1f", b-a}') s"

# ------------------------------------------------------------------------------- start
free_ports() {
  # Prints two distinct free TCP ports on 127.0.0.1.
  if command -v python3 >/dev/null; then
    python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  else
    local a b
    while :; do
      a=$((20000 + RANDOM % 12000)); b=$((a + 1))
      (: </dev/tcp/127.0.0.1/$a) 2>/dev/null && continue
      (: </dev/tcp/127.0.0.1/$b) 2>/dev/null && continue
      echo "$a $b"; return
    done
  fi
}

port_clash() {
  grep -q 'bind(.*) failed\|Address already in use' "$DIR/slapd.log" 2>/dev/null \
    && { [ -z "$PORT" ] || [ -z "$TLS_PORT" ]; }
}
fail_start() {
  tail -n 30 "$DIR/slapd.log" >&2 2>/dev/null || true
  if [ -s "$DIR/slapd.pid" ]; then kill "$(cat "$DIR/slapd.pid")" 2>/dev/null || true; fi
  if [ -n "${child:-}" ]; then kill "$child" 2>/dev/null || true; fi
  die "$1 (log: $DIR/slapd.log; check the config with: $SLAPD -Tt -f $CONF)"
}

deadline=$((SECONDS + START_TIMEOUT))
ready=0
for _ in 1 2 3 4 5; do
  p="$PORT"; t="$TLS_PORT"
  if [ -z "$p" ] || [ -z "$t" ]; then
    read -r fa fb < <(free_ports)
    [ -n "$p" ] || p="$fa"
    if [ -z "$t" ]; then t="$fb"; [ "$t" != "$p" ] || t="$fa"; fi
  fi
  rm -f "$DIR/slapd.pid"
  urls="ldap://127.0.0.1:$p/"
  [ "$TLS" -eq 0 ] || urls="$urls ldaps://127.0.0.1:$t/"
  log "starting slapd on $urls"
  # slapd runs in the foreground (-d) so that its messages go to slapd.log instead of syslog;
  # "-d none" logs only errors (e.g. a port already in use), no per-operation lines.
  # setsid puts it in a session of its own, apart from the caller's terminal.
  setsid "$SLAPD" -f "$CONF" -h "$urls" -d "$LOGLEVEL" </dev/null >"$DIR/slapd.log" 2>&1 &
  child=$!
  while [ $SECONDS -lt $deadline ]; do
    if [ -s "$DIR/slapd.pid" ] && LDAPTLS_CACERT="$DIR/tls/ca.pem" ldapwhoami -x \
         -H "ldap://127.0.0.1:$p" -D "$SVC_DN" -w "$SVC_PASSWORD" >/dev/null 2>&1; then
      ready=1; break
    fi
    if [ -n "$child" ] && ! kill -0 "$child" 2>/dev/null; then
      # Exit status 0 means setsid forked (we were a process-group leader): follow the pid file.
      rc=0; wait "$child" 2>/dev/null || rc=$?
      child=""
      [ "$rc" -eq 0 ] || break
    fi
    if [ -s "$DIR/slapd.pid" ] && ! kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  [ "$ready" -eq 1 ] && break
  if [ $SECONDS -lt $deadline ] && port_clash; then
    log "port taken, retrying with other ports"; continue
  fi
  if [ $SECONDS -ge $deadline ]; then
    fail_start "slapd did not answer on ldap://127.0.0.1:$p within ${START_TIMEOUT}s"
  fi
  fail_start "slapd exited during startup"
done
[ "$ready" -eq 1 ] || fail_start "slapd could not get free ports"
PORT="$p"; TLS_PORT="$t"
PID=$(cat "$DIR/slapd.pid")

{
  echo "LDAP_URL=ldap://127.0.0.1:$PORT"
  if [ "$TLS" -eq 1 ]; then echo "LDAPS_URL=ldaps://127.0.0.1:$TLS_PORT"; else echo "LDAPS_URL="; fi
  echo "LDAP_CA=$DIR/tls/ca.pem"
  echo "LDAP_BASE=$BASE"
  echo "LDAP_BIND_DN=$SVC_DN"
  echo "LDAP_BIND_PASSWORD=$SVC_PASSWORD"
  echo "LDAP_ADMIN_DN=$ADMIN_DN"
  echo "LDAP_ADMIN_PASSWORD=$ADMIN_PASSWORD"
  echo "LDAP_PID=$PID"
  echo "LDAP_DIR=$DIR"
} > "$DIR/env.tmp"
cat "$DIR/env.tmp"
{
  # Same lines as stdout; a value with characters special to the shell is single-quoted.
  while IFS='=' read -r k v; do
    if [[ "$v" =~ ^[A-Za-z0-9_./:,=@+-]*$ ]]; then
      printf '%s=%s\n' "$k" "$v"
    else
      printf "%s='%s'\n" "$k" "${v//\'/\'\\\'\'}"
    fi
  done < "$DIR/env.tmp"
  echo "export LDAP_URL LDAPS_URL LDAP_CA LDAP_BASE LDAP_BIND_DN LDAP_BIND_PASSWORD LDAP_ADMIN_DN LDAP_ADMIN_PASSWORD LDAP_PID LDAP_DIR"
} > "$DIR/env"
rm -f "$DIR/env.tmp"
log "slapd is running (pid $PID); stop it with: $(dirname "$0")/stop.sh $DIR"
