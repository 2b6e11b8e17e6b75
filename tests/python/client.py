"""A client written with Python's standard socket module, as the originals are, that checks
soc_server the way they never do: a message longer than one recv(1024), and a half-close.

    python3 tests/python/client.py PORT        exit 0 if every check passed
"""
import socket
import sys


def recv_exactly(sock, size):
    """One send() is not one recv(): read until all `size` bytes are here."""
    chunks, received = [], 0
    while received < size:
        chunk = sock.recv(min(1024, size - received))
        if not chunk:
            raise SystemExit(f"the server closed after {received} of {size} bytes")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def main():
    port = int(sys.argv[1])
    message = bytes(range(256)) * 40  # 10240 bytes: ten recv(1024)s at least, every byte value
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(message)
        echo = recv_exactly(sock, len(message))
        if echo != message:
            raise SystemExit("the long message came back altered")

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"half-closed, no newline")
        sock.shutdown(socket.SHUT_WR)  # we are done sending; the echo must still come back
        chunks = []
        while chunk := sock.recv(1024):
            chunks.append(chunk)
        if b"".join(chunks) != b"half-closed, no newline":
            raise SystemExit(f"half-close echo differs: {b''.join(chunks)!r}")
    print("ok")


if __name__ == "__main__":
    main()
