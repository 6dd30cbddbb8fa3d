# admin_lib.sh - helpers shared by the admin end-to-end tests (sourced):
# HTTP requests with curl, tiny JSON field extraction (jansson's compact
# output, so no jq/python is needed), and pass/fail bookkeeping.

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rcache-admin-test.XXXXXX")
FAILS=0
CHECKS=0
PORT=
TOKEN=
# Client deadline of every request, in seconds: generous, for a machine
# where other jobs take both cores (nothing here measures time).
HTTP_MAX_S=${ADMIN_TEST_HTTP_MAX_S:-60}

ok()   { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }

# req METHOD PATH [curl args...]: sets CODE; body in $TMP/b, headers in $TMP/h.
req() {
  local m=$1 p=$2; shift 2
  local mflag=(-X "$m")
  [ "$m" = HEAD ] && mflag=(-I)
  CODE=$(curl -s -m "$HTTP_MAX_S" "${mflag[@]}" -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' \
         "http://127.0.0.1:$PORT$p" "$@")
  BODY=$(cat "$TMP/b")
}
# areq: req with the bearer token.
areq() { local m=$1 p=$2; shift 2; req "$m" "$p" -H "Authorization: Bearer $TOKEN" "$@"; }

expect_code() { # want description
  if [ "$CODE" = "$1" ]; then ok; else fail "$2: want HTTP $1, got $CODE: $BODY"; fi
}
expect_body() { # fixed-string description
  if grep -qF -- "$1" "$TMP/b"; then ok; else fail "$2: body lacks '$1': $BODY"; fi
}
expect_no_body() {
  if grep -qF -- "$1" "$TMP/b"; then fail "$2: body has '$1': $BODY"; else ok; fi
}
expect_header() { # regex description
  if grep -qiE -- "$1" "$TMP/h"; then ok; else fail "$2: no header matching '$1' in: $(cat "$TMP/h")"; fi
}
expect_eq() { # got want description
  if [ "$1" = "$2" ]; then ok; else fail "$3: want '$2', got '$1'"; fi
}
# jfield NAME: the first scalar value of "NAME" in the last body.
jfield() { grep -o "\"$1\":[^,}]*" "$TMP/b" | head -n1 | cut -d: -f2- | tr -d '"'; }
expect_json() { # name value description
  local v; v=$(jfield "$1")
  if [ "$v" = "$2" ]; then ok; else fail "$3: want \"$1\":$2, got '$v' in $BODY"; fi
}

finish() {
  echo "$CHECKS checks, $FAILS failed"
  rm -rf "$TMP"
  [ "$FAILS" -eq 0 ]
}
