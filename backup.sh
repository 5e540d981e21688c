#!/bin/sh
# Nightly backup of Arbiter: consistent copies of its databases (taken while it runs, each checked with
# PRAGMA integrity_check), its environment file and roles.json, in $BACKUP_DIR/arbiter-<UTC time>/; the newest
# $KEEP are kept. It prints one line: "backup ok: ..." on stdout, or "backup failed: ..." on stderr and exits
# non-zero, so that cron mails it.
#
# Install as /etc/cron.d/arbiter (run as the service user, who can read the data and the environment file):
#
#   MAILTO=root
#   15 3 * * * arbiter /opt/arbiter/backup.sh
#
# cron mails whatever a job prints, so the "backup ok" line arrives every night too; to be mailed only when it
# fails, end the line with >/dev/null (failures go to stderr).
#
# Settings, from the environment (set them in the crontab line or /etc/cron.d/arbiter):
#   ARBITER_DIR  where Arbiter is installed (default /opt/arbiter; runs $ARBITER_DIR/dist/cli.js)
#   ENV_FILE     the service's environment file (default /etc/arbiter/arbiter.env)
#   BACKUP_DIR   where backups go (default /var/backups/arbiter; made 0700)
#   KEEP         how many backups to keep, 1 to 365 (default 7)
#   ARBITER_CLI  the command that runs the CLI, instead of node $ARBITER_DIR/dist/cli.js (split on spaces)
set -eu

ARBITER_DIR=${ARBITER_DIR:-/opt/arbiter}
ENV_FILE=${ENV_FILE:-/etc/arbiter/arbiter.env}
BACKUP_DIR=${BACKUP_DIR:-/var/backups/arbiter}
KEEP=${KEEP:-7}
umask 077

if [ -n "${ARBITER_CLI:-}" ]; then
  # shellcheck disable=SC2086 # a command and its arguments
  exec $ARBITER_CLI backup --env "$ENV_FILE" --to "$BACKUP_DIR" --keep "$KEEP"
fi
exec node "$ARBITER_DIR/dist/cli.js" backup --env "$ENV_FILE" --to "$BACKUP_DIR" --keep "$KEEP"
