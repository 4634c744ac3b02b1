"""Opens N keep-alive connections to a server, each answered once (GET /path), then idle;
prints the server's RSS growth per connection (from /proc/PID/status)."""
import socket
import sys
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def main():
    port, count, pids, path = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3].split(",")], sys.argv[4]
    before = sum(rss_kib(p) for p in pids)
    sockets, closed = [], 0
    request = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        sockets.append(s)
    for s in sockets:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                closed += 1
                break
            data += chunk
    time.sleep(1)
    after = sum(rss_kib(p) for p in pids)
    print("%d %d %d %.2f" % (count - closed, before, after, (after - before) / count))
    for s in sockets:
        s.close()


if __name__ == "__main__":
    main()
