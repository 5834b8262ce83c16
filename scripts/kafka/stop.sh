#!/usr/bin/env bash
# Stops the broker started by start.sh (by its PID) and waits until it is gone. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${KAFKA_DIR:-$here/../../.kafka}"
pidfile="$root/kafka.pid"
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  # A clean shutdown flushes and closes the logs, so the next start skips recovery.
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka: $pid did not stop within 30 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
fi
rm -f "$pidfile"
