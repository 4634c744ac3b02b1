"""Opens N keep-alive connections to a server, each answered once (GET /path, 2xx), then idle;
prints how many are still open a second later, the server's RSS before and after (from
/proc/PID/status) and the growth per open connection.

The request names 127.0.0.1 as its Host: a name the server does not answer to would be
refused and the connection closed (cinevault's http.allowed_hosts), and closed connections
cost nothing to keep."""
import select
import socket
import sys
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def read_status(s):
    """The status code of one response, or 0 if the connection closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return 0
        data += chunk
    return int(data.split(b" ", 2)[1])


def still_open(s):
    poller = select.poll()  # select() stops at descriptor 1023
    poller.register(s, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def main():
    port, count, pids, path = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3].split(",")], sys.argv[4]
    before = sum(rss_kib(p) for p in pids)
    sockets = []
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        sockets.append(s)
    statuses = {}
    for s in sockets:
        status = read_status(s)
        statuses[status] = statuses.get(status, 0) + 1
    time.sleep(1)
    after = sum(rss_kib(p) for p in pids)
    open_count = sum(1 for s in sockets if still_open(s))
    if set(statuses) - {200}:
        print("answers other than 200: %r" % statuses, file=sys.stderr)
    print("%d %d %d %.2f" % (open_count, before, after, (after - before) / max(open_count, 1)))
    for s in sockets:
        s.close()


if __name__ == "__main__":
    main()
