#!/usr/bin/env bash
# Start, stop or inspect every local service the pipeline and tests need.
#   scripts/services.sh start|stop|status
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-status}"
rc=0
"$HERE/postgres.sh" "$cmd" || rc=$?
"$HERE/kafka.sh" "$cmd" || rc=$?
"$HERE/dovecot.sh" "$cmd" || rc=$?
exit $rc
