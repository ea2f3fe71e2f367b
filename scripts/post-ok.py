#!/usr/bin/env python3
"""POST {} to one path of a host, on a fresh connection, and require 200.

    python3 scripts/post-ok.py 127.0.0.1:8080 /services/query

Used by scripts/bench and scripts/soak to make a provider serve its first
call before counting. Exits 1 naming the path and the status line when the
answer is not 200, or when the host does not answer within 10 s. (Python's
standard library only: the scripts assume no curl.)
"""
import socket
import sys


def main() -> None:
    addr, path = sys.argv[1], sys.argv[2]
    host, port = addr.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=10)
        s.settimeout(10)
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nConnection: close\r\n\r\n{}".encode()
        )
        head = s.recv(64)
    except OSError as e:
        sys.exit(f"POST {path}: {e}")
    if not head.startswith(b"HTTP/1.1 200"):
        status_line = head.split(b"\r\n", 1)[0][:40]
        sys.exit(f"POST {path} answered {status_line!r}")


if __name__ == "__main__":
    main()
