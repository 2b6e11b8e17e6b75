"""An echo server written the way the Python originals are: socket(), bind(), listen(), then
accept() and a recv()/sendall() loop, one client at a time.

    python3 tests/python/echo_server.py        prints "listening on 127.0.0.1:PORT"
"""
import socket


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    host, port = server.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)


if __name__ == "__main__":
    main()
