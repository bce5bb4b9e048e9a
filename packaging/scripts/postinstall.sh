#!/bin/sh
# Reload systemd after install or upgrade and restart a running service; the service is
# not enabled here: an administrator decides that (systemctl enable --now kflowd).
# Nothing is done for installations into another root (DPKG_ROOT set) or without systemd.
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl try-restart kflowd.service || true
fi
exit 0
