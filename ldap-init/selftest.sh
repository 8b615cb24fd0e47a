#!/usr/bin/env bash
# Checks start.sh/stop.sh/generate.py/sample.ldif end to end against real slapd instances.
#
#   selftest.sh [--big]     --big also loads 100,000 staff + 5,000 OUs and times it
#
# Uses a temporary directory, stops every slapd it started, prints "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIG=0
[ "${1:-}" = "--big" ] && BIG=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ldap-init-selftest.XXXXXX")
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi; }
check_not() { local name=$1; shift; if "$@" >/dev/null 2>&1; then bad "$name"; else ok "$name"; fi; }
cleanup() {
  for d in "$WORK"/*/; do [ -f "$d/slapd.conf" ] && "$HERE/stop.sh" "$d" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # start NAME [args...] -> sources the env of WORK/NAME
  local name=$1; shift
  "$HERE/start.sh" "$WORK/$name" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" \
    || { cat "$WORK/$name.err"; return 1; }
  # shellcheck disable=SC1090
  . "$WORK/$name/env"
}
count() { grep -c "^$1:" || true; }

echo "# sample company"
start sample --ldif "$HERE/sample.ldif" || { echo "start.sh failed"; exit 1; }
check "stdout has exactly the 10 KEY=VALUE lines" \
  test "$(grep -cE '^(LDAP_URL|LDAPS_URL|LDAP_CA|LDAP_BASE|LDAP_BIND_DN|LDAP_BIND_PASSWORD|LDAP_ADMIN_DN|LDAP_ADMIN_PASSWORD|LDAP_PID|LDAP_DIR)=' "$WORK/sample.out")" = 10 -a "$(wc -l < "$WORK/sample.out")" = 10
SVC=(-x -H "$LDAP_URL" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD")
P=ou=Stellar,$LDAP_BASE
n=$(ldapsearch "${SVC[@]}" -LLL -b "$LDAP_BASE" -E pr=100/noprompt '(objectClass=inetOrgPerson)' uid | count uid)
check "paged search returns the 40 sample staff (got $n)" test "$n" = 40
n=$(ldapsearch "${SVC[@]}" -LLL -b "$P" '(objectClass=organizationalUnit)' ou | count ou)
check "13 OUs under ou=Stellar incl. itself (got $n)" test "$n" = 13
check "zhangwei binds with 'password'" ldapwhoami -x -H "$LDAP_URL" -D "uid=zhangwei,ou=Backend,ou=RD,$P" -w password
check_not "zhangwei with a wrong password fails" ldapwhoami -x -H "$LDAP_URL" -D "uid=zhangwei,ou=Backend,ou=RD,$P" -w wrong
check "alice binds" ldapwhoami -x -H "$LDAP_URL" -D "uid=alice,ou=Frontend,ou=RD,$P" -w password
check "ceo binds" ldapwhoami -x -H "$LDAP_URL" -D "uid=ceo,ou=Executive,$P" -w password
check "admin (rootdn) binds" ldapwhoami -x -H "$LDAP_URL" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PASSWORD"
n=$(ldapsearch -x -H "$LDAP_URL" -LLL -b "$LDAP_BASE" '(uid=*)' uid 2>/dev/null | count uid)
check "anonymous sees no entries (got $n)" test "$n" = 0
n=$(ldapsearch -x -H "$LDAP_URL" -LLL -D "uid=alice,ou=Frontend,ou=RD,$P" -w password -b "$LDAP_BASE" '(uid=ceo)' userPassword displayName | grep -c '^userPassword' || true)
check "users cannot read userPassword" test "$n" = 0
check_not "users cannot write" sh -c "printf 'dn: uid=ceo,ou=Executive,$P\nchangetype: modify\nreplace: title\ntitle: x\n' | ldapmodify -x -H '$LDAP_URL' -D 'uid=alice,ou=Frontend,ou=RD,$P' -w password"
n=$(ldapsearch "${SVC[@]}" -LLL -b "cn=managers,ou=Groups,$LDAP_BASE" -s base member | grep -c "cn=it-admins" || true)
check "managers contains the group it-admins" test "$n" = 1

echo "# TLS"
check "StartTLS (-ZZ) with LDAPTLS_CACERT" env LDAPTLS_CACERT="$LDAP_CA" ldapwhoami -ZZ "${SVC[@]}"
check_not "StartTLS without the CA fails" env LDAPTLS_REQCERT=demand ldapwhoami -ZZ "${SVC[@]}"
check "ldaps with LDAPTLS_CACERT" env LDAPTLS_CACERT="$LDAP_CA" ldapwhoami -x -H "$LDAPS_URL" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD"
check_not "ldaps without the CA fails" env LDAPTLS_REQCERT=demand ldapwhoami -x -H "$LDAPS_URL" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD"
check "ldaps to localhost" env LDAPTLS_CACERT="$LDAP_CA" ldapwhoami -x -H "${LDAPS_URL/127.0.0.1/localhost}" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD"

echo "# writes by the service account"
check "ldapmodify (replace title)" sh -c "printf 'dn: uid=zhangwei,ou=Backend,ou=RD,$P\nchangetype: modify\nreplace: title\ntitle: Senior Engineer\n' | ldapmodify -x -H '$LDAP_URL' -D '$LDAP_BIND_DN' -w '$LDAP_BIND_PASSWORD'"
check "modrdn with new superior (alice to Backend)" ldapmodrdn "${SVC[@]}" -s "ou=Backend,ou=RD,$P" "uid=alice,ou=Frontend,ou=RD,$P" uid=alice
check "alice binds at her new DN" ldapwhoami -x -H "$LDAP_URL" -D "uid=alice,ou=Backend,ou=RD,$P" -w password
check "add and delete an OU" sh -c "printf 'dn: ou=Tmp,$P\nobjectClass: organizationalUnit\nou: Tmp\n' | ldapadd -x -H '$LDAP_URL' -D '$LDAP_BIND_DN' -w '$LDAP_BIND_PASSWORD' && ldapdelete -x -H '$LDAP_URL' -D '$LDAP_BIND_DN' -w '$LDAP_BIND_PASSWORD' 'ou=Tmp,$P'"
check "set a user's password" ldappasswd "${SVC[@]}" -s newpass "uid=bob,ou=Backend,ou=RD,$P"
check "user binds with the new password" ldapwhoami -x -H "$LDAP_URL" -D "uid=bob,ou=Backend,ou=RD,$P" -w newpass

echo "# content sync (syncprov)"
ldapsearch "${SVC[@]}" -b "$LDAP_BASE" -E sync=ro '(objectClass=groupOfNames)' cn > "$WORK/sync.txt" 2>&1
check "sync=ro returns entries" grep -q '^cn: it-admins' "$WORK/sync.txt"
check "sync=ro returns a cookie" grep -q '^# cookie: rid=' "$WORK/sync.txt"

echo "# size limits (2,000 staff)"
python3 "$HERE/generate.py" --staff 2000 --departments 100 > "$WORK/c2000.ldif"
start c2000 --ldif "$WORK/c2000.ldif" || bad "start with 2,000 staff"
SVC=(-x -H "$LDAP_URL" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD")
ldapsearch "${SVC[@]}" -LLL -b "$LDAP_BASE" '(objectClass=inetOrgPerson)' uid > "$WORK/np.txt" 2>&1; rc=$?
n=$(count uid < "$WORK/np.txt")
check "non-paged search is cut at 500 with sizeLimitExceeded (got $n, rc $rc)" test "$n" = 500 -a "$rc" = 4
n=$(ldapsearch "${SVC[@]}" -LLL -b "$LDAP_BASE" -E pr=500/noprompt '(objectClass=inetOrgPerson)' uid | count uid)
check "paged search returns all 2,000 (got $n)" test "$n" = 2000
C2000_DIR=$LDAP_DIR

echo "# two instances at once"
check "sample and c2000 run on different ports" test "$(sed -n 's/^LDAP_URL=//p' "$WORK/sample.out")" != "$(sed -n 's/^LDAP_URL=//p' "$WORK/c2000.out")"
check "sample instance still answers" ldapwhoami -x -H "$(sed -n 's/^LDAP_URL=//p' "$WORK/sample.out")" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD"

if [ "$BIG" = 1 ]; then
  echo "# 100,000 staff + 5,000 OUs"
  t0=$(date +%s.%N)
  python3 "$HERE/generate.py" --staff 100000 --departments 5000 > "$WORK/big.ldif"
  t1=$(date +%s.%N)
  start big --ldif "$WORK/big.ldif" || bad "start with 100k staff"
  t2=$(date +%s.%N)
  grep 'loaded' "$WORK/big.err"
  SVC=(-x -H "$LDAP_URL" -D "$LDAP_BIND_DN" -w "$LDAP_BIND_PASSWORD")
  n=$(ldapsearch "${SVC[@]}" -LLL -b "$LDAP_BASE" -E pr=1000/noprompt '(objectClass=inetOrgPerson)' uid | count uid)
  t3=$(date +%s.%N)
  check "paged search returns all 100,000 (got $n)" test "$n" = 100000
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN{printf "generate %.1fs, start.sh incl. load %.1fs, paged search %.1fs\n", b-a, c-b, d-c}'
  "$HERE/stop.sh" "$WORK/big" 2>/dev/null
fi

echo "# stop"
"$HERE/stop.sh" "$WORK/sample" 2>/dev/null
"$HERE/stop.sh" "$C2000_DIR" 2>/dev/null
left=0
for d in "$WORK"/*/; do
  pid=$(cat "$d/slapd.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && left=$((left + 1))
done
check "no slapd of ours left running" test "$left" = 0
n=$(pgrep -a -x slapd | grep -cF "$WORK/" || true)
check "no slapd process with our config (pgrep: $n)" test "$n" = 0
check "stop.sh on a stopped DIR exits 0" "$HERE/stop.sh" "$WORK/sample"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
