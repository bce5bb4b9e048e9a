#!/bin/sh
# The activity the matrix asserts (test/kernels/scenario.ts), with plain shell tools.
# Prints "=== PID <case> <pid>" and "=== STAT <path> <inode> <size>" for the checks.
set -e
d=$SCENARIO_DIR
mkdir -p "$d"

# create + write + close through a shell redirection (dup2 releases the file)
sh -c 'echo hi > "$1/echo.txt"; echo "=== PID echo $$"' sh "$d"
# read it back with cat (exec keeps the pid that is printed)
sh -c 'echo "=== PID cat $$"; exec cat "$1/echo.txt" >/dev/null' sh "$d"
# a process that exits with the file still open
sh -c 'exec 3>"$1/open.txt"; echo data >&3; echo more >&3; echo "=== PID exit $$"' sh "$d"
# a deep path
deep="$d/$(printf 'level%02d/' $(seq 1 40))"
deep=${deep%/}
mkdir -p "$deep"
sh -c 'echo deep > "$1/deep.txt"; echo "=== PID deep $$"' sh "$deep"

# path operations: the inode comes from the kernel's inode tier
echo x >"$d/tomove.txt"
sh -c 'echo "=== PID mv $$"; exec mv "$1/tomove.txt" "$1/moved.txt"' sh "$d"
sh -c 'echo "=== PID ln $$"; exec ln "$1/moved.txt" "$1/hard.txt"' sh "$d"
sh -c 'echo "=== PID lns $$"; exec ln -s "$1/moved.txt" "$1/soft.txt"' sh "$d"
sh -c 'echo "=== PID chmod $$"; exec chmod 600 "$1/moved.txt"' sh "$d"
sh -c 'echo "=== PID rm $$"; exec rm "$1/hard.txt"' sh "$d"
# a script: the exec passes through it to its interpreter
printf '#!/bin/sh\nexit 0\n' >"$d/script.sh"
chmod 755 "$d/script.sh"
sh -c 'echo "=== PID script $$"; exec "$1/script.sh"' sh "$d"

# the same as people type them: in a directory, by relative names (.. included)
mkdir -p "$d/rel/sub" "$d/rel/tree/x"
cd "$d/rel"
echo one >a.txt
echo 0123456789 >t.txt
echo t >tree/x/t.txt
echo u >tree/u.txt
sh -c 'echo "=== PID rmv $$"; exec mv a.txt b.txt'
sh -c 'echo "=== PID rchmod $$"; exec chmod 640 b.txt'
sh -c 'echo "=== PID rln $$"; exec ln b.txt hard.txt'
sh -c 'echo "=== PID rlns $$"; exec ln -s b.txt soft.txt'
sh -c 'echo "=== PID rrm $$"; exec rm hard.txt'
echo "=== STAT $d/rel/t.txt.before $(stat -c '%i %s' t.txt)"
sh -c 'echo "=== PID rtrunc $$"; exec truncate -s 4 t.txt'
sh -c 'echo "=== PID rtouch $$"; exec touch -d "2001-02-03 04:05:06" t.txt'
sh -c 'cd sub && echo "=== PID rup $$" && exec mv ../b.txt c.txt'
sh -c 'echo "=== PID rrmr $$"; exec rm -r tree'
cd /

# a C program's calls (by a directory descriptor too), native and as a 32-bit program,
# whose calls go through the kernel's compat table: the same records are expected
for bits in 64 32; do
  prog=$(eval echo "\${FILEOPS$bits:-}")
  [ -n "$prog" ] || continue
  mkdir -p "$d/c$bits"
  if ! sh -c 'echo "=== PID c$1 $$"; exec "$2" "$3" >/dev/null' sh "$bits" "$prog" "$d/c$bits" 2>"$d/c$bits.err"; then
    echo "=== NOTRUN c$bits $(tr '\n' ' ' <"$d/c$bits.err")"
  fi
done

# io_uring: test/fixtures/uring-ops.c does its operations through a ring, then the same
# through the syscalls, each in a directory of its own (and a loopback TCP connection on
# ports of its own); the records are compared. It names what the kernel's io_uring lacks
# ("=== URING <mode> unsupported <op>"), left out in both modes.
if [ -n "${URINGOPS:-}" ]; then
  for mode in uring sys; do
    uport=$((SCENARIO_PORT + 20))
    [ "$mode" = sys ] && uport=$((SCENARIO_PORT + 21))
    mkdir -p "$d/u$mode"
    if ! sh -c 'echo "=== PID u$1 $$"; exec "$2" "$1" "$3" "$4" >"$3.out"' sh "$mode" "$URINGOPS" "$d/u$mode" "$uport" 2>"$d/u$mode.err"; then
      echo "=== NOTRUN u$mode $(tr '\n' ' ' <"$d/u$mode.err")"
    fi
    sed -n "s/^unsupported /=== URING u$mode unsupported /p" "$d/u$mode.out"
  done
fi

# cgroups named as container runtimes name them, below the cgroup v2 hierarchy: a process
# writes its PID to cgroup.procs to move itself in. What is made is listed (deepest
# first) in $d/cgroups.made; run.sh removes it once the agent has stopped, so that every
# record's cgroup can still be named. Prints "=== CGROUP <case> <path> <container id>".
cgroot=$(grep ' - cgroup2 ' /proc/self/mountinfo | head -n1 | cut -d' ' -f5)
# without a hierarchy nothing is made (and the checks say so)
[ -n "$cgroot" ] || cgroot=/nonexistent
rm -f "$d/cgroups.list"
hexid() { head -c 32 /dev/urandom | od -An -vtx1 | tr -d ' \n'; }
# mkcg CASE PATH ID: makes the cgroup at PATH and its missing parents; $cg is its directory
mkcg() {
  cg=$cgroot
  for part in $(echo "$2" | tr / ' '); do
    cg="$cg/$part"
    if [ ! -d "$cg" ] && mkdir "$cg"; then echo "$cg" >>"$d/cgroups.list"; fi
  done
  echo "=== CGROUP $1 $2 $3"
}
docker=$(hexid)
kube=$(hexid)
crio=$(hexid)
pod=$(cat /proc/sys/kernel/random/uuid)
mkcg httpd "/system.slice/docker-$docker.scope" "$docker"
cg_httpd=$cg
mkcg wget "/kubepods/besteffort/pod$pod/$kube" "$kube"
cg_wget=$cg
mkcg cgfile "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(echo "$pod" | tr - _).slice/crio-$crio.scope" "$crio"
cg_file=$cg
tac "$d/cgroups.list" >"$d/cgroups.made" 2>/dev/null || true
# a file written in a CRI-O container's cgroup
sh -c 'echo $$ >"$2/cgroup.procs"; echo cg >"$1/cg.txt"; echo "=== PID cgfile $$"' sh "$d" "$cg_file"

# sockets: TCP from busybox wget (in a kubepods container's cgroup) to busybox httpd (in a
# docker container's), UDP from a DNS query nobody answers, and (in the guests, which
# have no /dev/log of their own) UNIX datagrams to syslogd
port=${SCENARIO_PORT:-18080}
mkdir -p "$d/www"
echo hello-from-httpd >"$d/www/index.html"
sh -c 'echo $$ >"$1/cgroup.procs"; exec httpd -f -p "127.0.0.1:$2" -h "$3/www"' sh "$cg_httpd" "$port" "$d" &
httpd=$!
echo "=== PID httpd $httpd"
sleep 0.5
sh -c 'echo $$ >"$2/cgroup.procs"; echo "=== PID wget $$"; exec wget -q -O /dev/null "http://127.0.0.1:$1/index.html"' sh "$port" "$cg_wget"
sh -c 'echo "=== PID nslookup $$"; exec nslookup kflowd.test 127.0.0.1 >/dev/null 2>&1' || true
kill $httpd
if [ -n "$KFLOWD_GUEST" ]; then
  syslogd -n -O "$d/messages" &
  syslogd=$!
  sleep 0.5
  sh -c 'echo "=== PID logger $$"; exec logger -t kflowd hello-syslog'
  sleep 0.2
  kill $syslogd
fi

# stat does not follow symlinks without -L
for f in "$d/echo.txt" "$d/open.txt" "$deep/deep.txt" "$d/moved.txt" "$d/soft.txt" "$d/script.sh" \
  "$d/rel/sub/c.txt" "$d/rel/soft.txt" "$d/rel/t.txt"; do
  echo "=== STAT $f $(stat -c '%i %s' "$f")"
done
