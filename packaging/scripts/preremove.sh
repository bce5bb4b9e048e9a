#!/bin/sh
# Stop and disable the service when the package is removed (not when it is upgraded:
# deb passes "remove", rpm passes 0 for an erase).
set -e
case "$1" in
  remove | 0)
    if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
      systemctl disable --now kflowd.service || true
    fi
    ;;
esac
exit 0
