#!/usr/bin/env bash
# Runs units of Redis 7.0.15's own test suite (tests/ from the redis repo at tag 7.0.15, unpacked in
# $SUITE) against an external server on 127.0.0.1:$1, printing ok/err/exception counts per unit.
# Usage: redis-suite.sh PORT [unit ...]
# The suite: `git -C <redis clone> archive 7.0.15 tests | tar -x -C /tmp/redis-suite` (a clone of
# github.com/redis/redis; the tool library's `fetch github:redis/redis` gives one). Start a fresh
# `cache-node --policy retain --port PORT` per unit, so that no unit's leftovers reach the next.
# --durable goes on past a test's exception (most are commands of types the node does not have).
set -u
port=$1; shift
SUITE=${SUITE:-/tmp/redis-suite}
units=${*:-"type/string type/incr keyspace expire protocol info-command introspection introspection-2 scan other multi"}
cd "$SUITE"
mkdir -p tests/tmp
for u in $units; do
  out=/tmp/suite-$port-${u//\//_}.log
  timeout 300 tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$port" --singledb --ignore-encoding --ignore-digest --single unit/$u --durable --timeout 60 --tags -needs:debug --tags -needs:repl --tags -needs:save 2>&1 | sed "s/\x1b\[[0-9;]*m//g" > "$out"
  ok=$(grep -c '^\[ok\]' "$out"); err=$(grep -c '^\[err\]' "$out"); exc=$(grep -c '\[exception\]' "$out"); skip=$(grep -c '^\[skip\]' "$out")
  printf '%-16s ok %3d  err %3d  exception %d  skip %d\n' "$u" "$ok" "$err" "$exc" "$skip"
done
