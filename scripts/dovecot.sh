#!/usr/bin/env bash
# A local IMAP server (Debian's dovecot) for the email connector and its
# tests: 127.0.0.1:10143, user tingjian / tingjian, Maildir under .run/.
#   scripts/dovecot.sh start|stop|status
set -euo pipefail
# Not under the checkout: Dovecot's auth and mail processes run as unprivileged
# users and must traverse every parent directory, which a private clone
# directory (mode 0700, as mktemp makes it) forbids.
RUN="${TINGJIAN_DOVECOT_DIR:-/var/tmp/tingjian-dovecot-$(id -u)}"
PORT="${TINGJIAN_IMAP_PORT:-10143}"
CONF="$RUN/dovecot.conf"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  [ -x /usr/sbin/dovecot ] && return 0
  echo "dovecot: installing from Debian packages ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
}

configure() {
  mkdir -p "$RUN/mail" "$RUN/run"
  chmod 755 "$RUN"
  local uid gid
  # Dovecot refuses root as a mail user: the mailbox belongs to "nobody"
  # (or to the caller when not root).
  if [ "$(id -u)" = 0 ]; then uid="$(id -u nobody)"; gid="$(id -g nobody)"; chown -R "$uid:$gid" "$RUN/mail"
  else uid="$(id -u)"; gid="$(id -g)"; fi
  # passwd-file: user:{PLAIN}password:uid:gid::home
  echo "tingjian:{PLAIN}tingjian:$uid:$gid::$RUN/mail/tingjian" >"$RUN/users"
  chmod 644 "$RUN/users"
  cat >"$CONF" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $RUN/run
state_dir = $RUN/state
log_path = $RUN/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $RUN/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $RUN/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
namespace inbox {
  inbox = yes
  mailbox Processed {
    auto = create
  }
}
CONF
  mkdir -p "$RUN/state"
}

start() {
  if port_open "$PORT"; then echo "dovecot: running on 127.0.0.1:$PORT"; return 0; fi
  install
  configure
  /usr/sbin/dovecot -c "$CONF"
  for _ in $(seq 1 40); do port_open "$PORT" && { echo "dovecot: started on 127.0.0.1:$PORT"; return 0; }; sleep 0.25; done
  echo "dovecot: not listening; see $RUN/dovecot.log" >&2; tail -20 "$RUN/dovecot.log" >&2 || true; exit 1
}

stop() {
  [ -f "$CONF" ] && /usr/sbin/dovecot -c "$CONF" stop 2>/dev/null || true
  echo "dovecot: stopped"
}

status() {
  if port_open "$PORT"; then echo "dovecot: running on 127.0.0.1:$PORT"; else echo "dovecot: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
