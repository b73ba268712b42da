"""Servers for tests/wan/test_wan.py, run inside a WAN host (ip netns exec NS python3 wan_peer.py):
  echo PORT      every byte received is sent back at once
  source PORT    reads one line "N\\n", sends N bytes, closes
Listens on 0.0.0.0 (the relay connects from the link's side of the veth pair), prints "ready"
once every port listens, and exits by itself after --lifetime seconds so nothing outlives a test.
"""
import socket
import sys
import threading
import time


def serve(port, handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)

    def loop():
        while True:
            c, _ = s.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def echo(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)


def source(c):
    with c:
        line = b""
        while not line.endswith(b"\n"):
            d = c.recv(64)
            if not d:
                return
            line += d
        left = int(line)
        block = b"x" * 65536
        while left > 0:
            n = min(left, len(block))
            c.sendall(block[:n])
            left -= n


def main():
    args = sys.argv[1:]
    lifetime = 120.0
    if "--lifetime" in args:
        i = args.index("--lifetime")
        lifetime = float(args[i + 1])
        del args[i:i + 2]
    for kind, port in zip(args[0::2], args[1::2]):
        serve(int(port), echo if kind == "echo" else source)
    print("ready", flush=True)
    time.sleep(lifetime)


if __name__ == "__main__":
    main()
