#!/usr/bin/env bash
# Run every pipeline process in the background (logs and pids in .run/pipeline).
#   scripts/pipeline.sh start|stop|status|wait-tickets N
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${TINGJIAN_RUN_DIR:-$ROOT/.run}/pipeline"
BIN="$ROOT/.venv/bin"
mkdir -p "$RUN"

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

launch() {
  local name="$1"; shift
  if alive "$name"; then echo "pipeline: $name running"; return; fi
  nohup "$BIN/tingjian" "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  echo "pipeline: started $name (log $RUN/$name.log)"
}

case "${1:-status}" in
  start)
    "$BIN/tingjian" db migrate
    "$BIN/tingjian" topics create
    launch web ingest web
    launch triage triage
    launch sink-crm sink crm
    launch api api
    launch sla sla watch
    for _ in $(seq 1 60); do
      curl -fsS "http://127.0.0.1:8080/healthz" >/dev/null 2>&1 && break; sleep 0.5
    done
    ;;
  stop)
    for n in web triage sink-crm api sla; do
      if alive "$n"; then kill "$(cat "$RUN/$n.pid")"; fi
    done
    for n in web triage sink-crm api sla; do
      for _ in $(seq 1 40); do alive "$n" || break; sleep 0.25; done
      rm -f "$RUN/$n.pid"
    done
    echo "pipeline: stopped"
    ;;
  status)
    for n in web triage sink-crm api sla; do
      if alive "$n"; then echo "pipeline: $n running (pid $(cat "$RUN/$n.pid"))"; else echo "pipeline: $n stopped"; fi
    done
    ;;
  wait-tickets)
    # Spam is quarantined, not stored: wait until the count reaches N or has
    # stopped growing for 3 s after the first ticket.
    want="${2:?number of items}"; last=-1; same=0
    for _ in $(seq 1 240); do
      n="$("$BIN/python" -c 'import psycopg
from config import load_settings
with psycopg.connect(load_settings().postgres.dsn) as c:
    print(c.execute("SELECT count(*) FROM ticket_feedback").fetchone()[0])')"
      [ "$n" -ge "$want" ] && exit 0
      if [ "$n" -gt 0 ] && [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
      [ "$same" -ge 6 ] && exit 0
      last="$n"; sleep 0.5
    done
    echo "pipeline: only $n of $want items stored after 120 s; see .run/pipeline/*.log" >&2
    ;;
  console)
    # A lead's token for the agents' console, made once and kept beside the logs.
    if [ ! -s "$RUN/console-token" ]; then
      "$BIN/tingjian" api token create --name "make run" --role lead >"$RUN/console-token"
    fi
    echo "console: http://127.0.0.1:8090/console  (token: $(cat "$RUN/console-token"), also in $RUN/console-token)"
    ;;
  *) echo "usage: $0 start|stop|status|wait-tickets N|console" >&2; exit 64 ;;
esac
