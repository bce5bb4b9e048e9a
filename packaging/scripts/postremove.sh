#!/bin/sh
# Let systemd forget the removed unit.
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
