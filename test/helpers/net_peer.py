"""Test peers for the socket tests: one process per side, so records can be attributed.

Usage: net_peer.py MODE ARGS...  (servers print "ready" once listening)
  tcp-server HOST PORT REPLY [rst]   accept one connection, read to EOF, send REPLY bytes,
                                     close (with "rst": abort with a reset instead)
  tcp-client HOST PORT SEND          connect, send SEND bytes, half-close, read to EOF
  udp-server HOST PORT REPLY         answer one datagram with REPLY bytes
  udp-client HOST PORT SEND [connected] [linger]
                                     send SEND bytes, read the answer; "linger": then wait 3 s
  unix-server dgram|stream PATH REPLY
  unix-client dgram|stream PATH SEND
  dns-server HOST PORT               answer one A query over UDP with 10.1.2.3 (TTL 300)
  dns-client HOST PORT NAME          send one A query for NAME over UDP, read the answer
  udp-send HOST PORT TEXT            send one datagram
  udp-recv HOST PORT                 receive one datagram
  udp-flood-recv HOST PORT           bind with the smallest receive buffer, wait for
                                     "go" on stdin, receive one datagram
  udp-flood HOST PORT COUNT SIZE     send COUNT datagrams of SIZE bytes
  unix-dgram-recv PATH               bind PATH, receive one datagram
  unix-dgram-send PATH TEXT          send one datagram to PATH (connected)
"""
import os
import socket
import struct
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def ready():
    print("ready", flush=True)


def read_all(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)


def main(mode, *a):
    # a peer whose counterpart never comes must not hang the test run
    socket.setdefaulttimeout(10)
    if mode == "tcp-server":
        host, port, reply = a[0], int(a[1]), int(a[2])
        srv = socket.socket(family(host), socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(1)
        ready()
        conn, _ = srv.accept()
        read_all(conn)
        if reply:
            conn.sendall(b"r" * reply)
        if len(a) > 3 and a[3] == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        srv.close()
    elif mode == "tcp-client":
        host, port, send = a[0], int(a[1]), int(a[2])
        c = socket.socket(family(host), socket.SOCK_STREAM)
        try:
            c.connect((host, port))
        except ConnectionRefusedError:
            sys.exit(3)
        c.sendall(b"s" * send)
        c.shutdown(socket.SHUT_WR)
        try:
            read_all(c)
        except ConnectionResetError:
            pass
        c.close()
    elif mode == "udp-server":
        host, port, reply = a[0], int(a[1]), int(a[2])
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.bind((host, port))
        ready()
        _, peer = s.recvfrom(65536)
        s.sendto(b"r" * reply, peer)
        s.close()
    elif mode == "udp-client":
        host, port, send = a[0], int(a[1]), int(a[2])
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        if "connected" in a[3:]:
            s.connect((host, port))
            s.send(b"s" * send)
        else:
            s.sendto(b"s" * send, (host, port))
        s.recv(65536)
        if "linger" in a[3:]:
            time.sleep(3)
        s.close()
    elif mode == "unix-server":
        kind, path, reply = a[0], a[1], int(a[2])
        t = socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, t)
        s.bind(path)
        if t == socket.SOCK_STREAM:
            s.listen(1)
            ready()
            conn, _ = s.accept()
            read_all(conn)
            conn.sendall(b"r" * reply)
            conn.close()
        else:
            ready()
            s.recv(65536)
        s.close()
    elif mode == "unix-client":
        kind, path, send = a[0], a[1], int(a[2])
        t = socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM
        c = socket.socket(socket.AF_UNIX, t)
        c.connect(path)
        c.send(b"s" * send)
        if t == socket.SOCK_STREAM:
            c.shutdown(socket.SHUT_WR)
            read_all(c)
        c.close()
    elif mode == "dns-server":
        host, port = a[0], int(a[1])
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.bind((host, port))
        ready()
        q, peer = s.recvfrom(512)
        answer = struct.pack(">HHIH", 1, 1, 300, 4) + bytes([10, 1, 2, 3])
        s.sendto(q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + q[12:] + b"\xc0\x0c" + answer, peer)
        s.close()
    elif mode == "dns-client":
        host, port, name = a[0], int(a[1]), a[2]
        labels = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
        q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.sendto(q, (host, port))
        s.recv(512)
        s.close()
    elif mode == "udp-send":
        s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
        s.sendto(a[2].encode(), (a[0], int(a[1])))
        s.close()
    elif mode == "udp-recv":
        s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
        s.bind((a[0], int(a[1])))
        ready()
        s.recv(65536)
        s.close()
    elif mode == "udp-flood-recv":
        s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        s.bind((a[0], int(a[1])))
        ready()
        sys.stdin.readline()
        s.recv(65536)
        s.close()
    elif mode == "udp-flood":
        s = socket.socket(family(a[0]), socket.SOCK_DGRAM)
        for _ in range(int(a[2])):
            s.sendto(b"u" * int(a[3]), (a[0], int(a[1])))
        s.close()
    elif mode == "unix-dgram-recv":
        if os.path.exists(a[0]):
            os.unlink(a[0])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(a[0])
        try:
            ready()
            s.recv(65536)
        finally:
            s.close()
            os.unlink(a[0])
    elif mode == "unix-dgram-send":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.connect(a[0])
        s.send(a[1].encode())
        s.close()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
