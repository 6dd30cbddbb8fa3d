#!/usr/bin/env bash
# test_bench_cli.sh - rcache-bench's command line end to end: a replay in
# text and JSON, a sweep with a gnuplot curve, a byte capacity, and errors
# (missing file, damaged file, bad options) that exit non-zero with a
# message instead of printing figures.
# usage: test_bench_cli.sh RCACHE_BENCH TRACES_DIR
set -u
bench=$1; traces=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$bench" trace "$traces/caffeine/lirs/sprite.trace.gz" --capacity 1%) || fail "replay"
grep -q '^hit ratio    0.1633$' <<<"$out" || fail "sprite 1% hit ratio: $out"
grep -q '^capacity     70 items' <<<"$out" || fail "sprite 1% capacity: $out"

out=$("$bench" trace "$traces/caffeine/cache2k/web12.trace.xz" --capacity 1375 --json) || fail "json"
grep -q '"hit_ratio": 0.6848' <<<"$out" || fail "web12 json: $out"
grep -q '"unique_keys": 13756' <<<"$out" || fail "web12 unique: $out"

out=$("$bench" trace "$traces/caffeine/lirs/cpp.trace.gz" --sweep 1%,10% --plot "$tmp/c.png") || fail "sweep"
grep -q '| 10% | 122 | .* | 0.7572 |' <<<"$out" || fail "sweep table: $out"
[ -s "$tmp/c.png" ] || fail "no plot"
head -c 8 "$tmp/c.png" | od -An -tx1 | grep -q '89 50 4e 47' || fail "plot is not a PNG"

# Policies: every one in one table with ratios to lru, one curve each.
out=$("$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy all --sweep 1%,10% \
      --plot "$tmp/p.png") || fail "policy sweep"
grep -q '| lru | s3fifo | sieve | wtinylfu | wtinylfu-fixed | gdsf | s3fifo / lru |' <<<"$out" ||
  fail "policy header: $out"
grep -q '| 10% | 568 | 0.6308 | 0.5070 | 0.6384 |' <<<"$out" || fail "policy row: $out"
head -c 8 "$tmp/p.png" | od -An -tx1 | grep -q '89 50 4e 47' || fail "policy plot is not a PNG"
out=$("$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy sieve --capacity 568 --json) ||
  fail "policy json"
grep -q '"policy": "sieve"' <<<"$out" || fail "policy json: $out"
grep -q '"miss_ratio": 0.638364' <<<"$out" || fail "sieve miss ratio: $out"
if "$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy fifo 2>/dev/null; then
  fail "unknown policy accepted"; fi
# opt: Belady's offline bound, a column like a policy's; item capacities only.
out=$("$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy lru,opt --sweep 1%,10%) ||
  fail "opt"
grep -q '| 10% | 568 | 0.6308 | 0.4510 | 0.715 |' <<<"$out" || fail "opt row: $out"
out=$("$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy all,opt --capacity 1%) ||
  fail "all,opt"
grep -q '| lru | s3fifo | sieve | wtinylfu | wtinylfu-fixed | gdsf | opt | s3fifo / lru |' <<<"$out" ||
  fail "all,opt header: $out"
if err=$("$bench" trace "$traces/caffeine/lirs/multi2.trace.gz" --policy opt --capacity-bytes 1mb 2>&1)
then fail "opt with a byte capacity accepted"; fi
grep -q 'count-bounded' <<<"$err" || fail "opt bytes message: $err"

# Cost model: the same seed gives the same figures, another seed others;
# gdsf is compared with the best cost-blind policy; JSON carries the sums.
m2=$traces/caffeine/lirs/multi2.trace.gz
out=$("$bench" trace "$m2" --policy lru,s3fifo,gdsf --capacity 10% --cost lognormal:1,2 --seed 7) ||
  fail "cost"
grep -q '^compute time recomputed, s (cost model lognormal:1,2 seed 7' <<<"$out" || fail "cost title: $out"
row=$(grep '^| 10% | 568 |' <<<"$out" | tail -1)
grep -qE '^\| 10% \| 568 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| s3fifo \| 0\.[0-9]+ \|$' <<<"$row" ||
  fail "cost row: $out"
again=$("$bench" trace "$m2" --policy lru,s3fifo,gdsf --capacity 10% --cost lognormal:1,2 --seed 7) ||
  fail "cost again"
[ "$(grep '^| 10%' <<<"$out")" = "$(grep '^| 10%' <<<"$again")" ] || fail "cost not reproducible"
other=$("$bench" trace "$m2" --policy lru --capacity 10% --cost lognormal:1,2 --seed 8) || fail "seed 8"
[ "$(grep 'every request' <<<"$out")" != "$(grep 'every request' <<<"$other")" ] || fail "seed ignored"
out=$("$bench" trace "$m2" --policy gdsf --capacity 10% --cost lognormal --json) || fail "cost json"
grep -qE '"compute_ms_recomputed": [1-9][0-9]*, "compute_ms_total": [1-9]' <<<"$out" || fail "cost json: $out"
grep -q '"cost_model": "lognormal:1,2 seed 1"' <<<"$out" || fail "cost json model: $out"
out=$("$bench" trace "$traces/caffeine/adapt_size/request.trace.xz" --policy lru,gdsf --capacity 1% \
      --cost size:4096) || fail "cost size"
grep -q 'cost model size:4096' <<<"$out" || fail "cost size: $out"
for bad in nope lognormal:1 lognormal:1,-2 size:0 size:x; do
  if "$bench" trace "$m2" --cost "$bad" 2>/dev/null; then fail "--cost $bad accepted"; fi
done
if err=$("$bench" trace "$m2" --cost size 2>&1); then fail "--cost size without sizes accepted"; fi
grep -q 'needs a trace with object sizes' <<<"$err" || fail "cost size message: $err"
if "$bench" trace "$m2" --cost lognormal --seed x 2>/dev/null; then fail "--seed x accepted"; fi

out=$("$bench" trace "$traces/libcachesim/cloudPhysicsIO.oracleGeneral.bin" --capacity-bytes 64mb) || fail "bytes"
grep -q '^requests     113872$' <<<"$out" || fail "bytes replay: $out"

# Damaged input: a cut copy must fail, naming the file and an offset.
head -c 100000 "$traces/caffeine/lirs/2_pools.trace.gz" >"$tmp/cut.gz"
if err=$("$bench" trace "$tmp/cut.gz" --format lirs-txt 2>&1); then fail "cut file accepted: $err"; fi
grep -q "cut.gz: truncated gzip stream.*byte offset" <<<"$err" || fail "cut message: $err"
if "$bench" trace "$tmp/none.txt" 2>/dev/null; then fail "missing file accepted"; fi
if "$bench" trace "$traces/libcachesim/cloudPhysicsIO.txt" --capacity 0 2>/dev/null; then fail "capacity 0 accepted"; fi
if "$bench" trace "$traces/libcachesim/cloudPhysicsIO.txt" --format nope 2>/dev/null; then fail "bad format accepted"; fi
# micro, tiny, so the subcommand cannot rot: JSON with every figure.
out=$("$bench" micro --entries 2000 --runs 1 --threads 2 --json) || fail "micro"
for k in '"op": "get hit"' '"op": "get miss"' '"op": "set new"' '"op": "set overwrite"' \
         '"op": "delete"' '"op": "mix 90/10 get/set"' '"op": "memoize hit"' '"keys": "zipf0.99"' \
         '"threads": 2' '"rss_bytes_per_entry"' '"memoize_overhead_ns"'; do
  grep -qF "$k" <<<"$out" || fail "micro JSON lacks $k"
done
if "$bench" micro --entries x 2>/dev/null; then fail "micro accepted --entries x"; fi
echo "ok"
