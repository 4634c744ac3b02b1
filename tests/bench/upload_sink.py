"""The least work any server does to take an upload: an HTTP/1.1 PUT with a Content-Length is
received from its socket into one 1 MiB buffer, written to a file, fsynced, and answered 204.
No hashing, no pacing, nothing else. scripts/bench-upload sends it the same file with the same
curl as the daemon, to measure the receive ceiling of this machine (loopback, page cache and
disk on the cores the client shares).

Usage: upload_sink.py DIR  -- prints the port it listens on (127.0.0.1), then serves until
killed; each upload is written to DIR/sink.out and removed once answered."""
import os
import socket
import sys


def read_header(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed inside the header")
        data += chunk
    header, rest = data.split(b"\r\n\r\n", 1)
    fields = {}
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return fields, rest


def take_upload(conn, path):
    fields, rest = read_header(conn)
    remaining = int(fields[b"content-length"])
    if fields.get(b"expect", b"").lower() == b"100-continue":
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if rest:
            os.write(fd, rest)
            remaining -= len(rest)
        while remaining > 0:
            got = conn.recv_into(view, min(remaining, len(buffer)))
            if got == 0:
                raise ConnectionError("the connection closed inside the body")
            written = 0
            while written < got:
                written += os.write(fd, view[written:got])
            remaining -= got
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
    conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")


def main():
    path = os.path.join(sys.argv[1], "sink.out")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                take_upload(conn, path)
            except (ConnectionError, KeyError, ValueError) as error:
                print("upload_sink: %s" % error, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
