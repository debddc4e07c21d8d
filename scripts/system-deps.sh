#!/usr/bin/env bash
# Debian packages the tests and services need beyond Python: Java + Maven (the
# Kafka broker), PostgreSQL, Chromium (browser test of /form) and Dovecot (the
# IMAP server of the email tests). Installs only what is missing.
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v pg_createcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
# Without a CJK font Chromium draws every Chinese character as the same box.
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
if [ "${#need[@]}" -gt 0 ]; then
  echo "system-deps: installing ${need[*]}"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
