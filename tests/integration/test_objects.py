"""GET/HEAD /objects/<sha256><ext>: immutable bytes with ETag, Range, 304 and CORS.

The object these tests fetch is an upload's original, which only a key holder may download: they send
the admin key. What anonymous players get (segments, posters) is in test_hostile.py."""
import hashlib
import json
import os
import socket
import struct
import time
import unittest

from harness import DaemonTestCase, make_clip, plant_object, write_padded_mp4


def read_answer(stream):
    """One answer from a socket's file: its status line, its fields (lower-case names) and its body."""
    status_line = stream.readline().decode()
    headers = {}
    while True:
        line = stream.readline().decode().rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, stream.read(int(headers.get("content-length", "0")))


class ObjectTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.clip = make_clip(self.tmp + "/clip.mp4")
        with open(self.clip, "rb") as f:
            self.bytes = f.read()
        with open(self.clip, "rb") as f:
            status, video = self.daemon.json("PUT", "/api/v1/videos?title=o", f, self.daemon.auth())
        self.assertEqual(status, 201, video)
        self.sha = video["source"]["sha256"]
        self.url = "/objects/%s.mp4" % self.sha

    def request(self, method, path, headers=None):
        """A request with the admin key, which the original upload needs."""
        return self.daemon.request(method, path, headers=self.daemon.auth(headers or {}))

    def test_whole_object_with_immutable_caching(self):
        """The bytes are the upload's, named by their hash, cacheable forever, readable from any origin."""
        status, headers, body = self.request("GET", self.url)
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), self.sha)
        # An original is a download of bytes, whatever they are, never shown in the browser.
        self.assertEqual(headers["content-type"], "application/octet-stream")
        self.assertEqual(headers["content-disposition"], "attachment")
        self.assertEqual(headers["etag"], '"%s"' % self.sha)
        self.assertEqual(headers["cache-control"], "public, max-age=31536000, immutable")
        self.assertEqual(headers["accept-ranges"], "bytes")
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertEqual(int(headers["content-length"]), len(self.bytes))
        # The Content-Type comes from what the object is, not from the URL's extension.
        status, headers, _ = self.request("GET", "/objects/%s.m4s" % self.sha)
        self.assertEqual((status, headers["content-type"]), (200, "application/octet-stream"))
        # Without the key: 404, with nothing of the object, as if it were not there.
        status, _, body = self.daemon.request("GET", self.url)
        self.assertEqual(status, 404, body[:200])

    def test_an_object_no_video_uses_is_not_served(self):
        """A file in the store that no video refers to (left over, or planted) is 404, before and after the
        garbage collection that removes it; the upload's own object is still served."""
        content = os.urandom(50000)
        digest = hashlib.sha256(content).hexdigest()
        plant_object(self.daemon.data_dir, content)
        status, _, _ = self.request("GET", "/objects/%s.m4s" % digest)
        self.assertEqual(status, 404)
        status, _, body = self.daemon.request("POST", "/api/v1/admin/gc", headers=self.daemon.auth())
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(json.loads(body)["objects_removed"], 1, body)
        status, _, _ = self.request("GET", "/objects/%s.m4s" % digest)
        self.assertEqual(status, 404)
        status, _, body = self.request("GET", self.url)
        self.assertEqual((status, hashlib.sha256(body).hexdigest()), (200, self.sha))

    def test_head_has_the_length_and_no_body(self):
        conn = self.daemon.connection()
        conn.request("HEAD", self.url, headers=self.daemon.auth())
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(int(response.getheader("content-length")), len(self.bytes))
        self.assertEqual(response.read(), b"")
        # The connection is still usable: no stray body bytes were sent.
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_single_ranges(self):
        """206 with Content-Range for a-b, a- and -n; 416 past the end."""
        n = len(self.bytes)
        for header, first, last in (("bytes=0-9", 0, 9), ("bytes=100-", 100, n - 1), ("bytes=-50", n - 50, n - 1),
                                    ("bytes=10-99999999", 10, n - 1)):
            status, headers, body = self.request("GET", self.url, headers={"Range": header})
            self.assertEqual(status, 206, header)
            self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (first, last, n), header)
            self.assertEqual(body, self.bytes[first:last + 1], header)
        status, headers, _ = self.request("GET", self.url, headers={"Range": "bytes=%d-" % n})
        self.assertEqual(status, 416)
        self.assertEqual(headers["content-range"], "bytes */%d" % n)
        # An If-Range that does not match the ETag gets the whole object.
        status, _, body = self.request("GET", self.url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((status, len(body)), (200, n))

    def test_if_none_match_gives_304(self):
        status, headers, body = self.request("GET", self.url, headers={"If-None-Match": '"%s"' % self.sha})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(headers["etag"], '"%s"' % self.sha)
        status, _, _ = self.request("GET", self.url, headers={"If-None-Match": '"0000"'})
        self.assertEqual(status, 200)

    def test_only_hashes_with_known_extensions_are_served(self):
        for path in ("/objects/%s" % self.sha, "/objects/%s.exe" % self.sha, "/objects/%s.mp4" % ("0" * 64),
                     "/objects/%s.mp4" % self.sha.upper(), "/objects/..%2fcinevault.db", "/objects/%2e%2e"):
            status, _, _ = self.daemon.request("GET", path)
            self.assertIn(status, (400, 404), path)

    def test_pipelined_file_answers_come_whole_and_in_order(self):
        """Forty requests for the object, whole and in ranges, sent at once before reading anything: the
        answers fill the socket, so headers meet a full socket as well as an empty one, and each answer must
        still come whole, in order, with the bytes it names."""
        ranges = [None if i % 3 == 0 else (i * 997 % len(self.bytes), min(len(self.bytes) - 1, i * 997 % len(self.bytes) + i * 4099))
                  for i in range(40)]
        requests = b"".join(
            b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n" % (
                self.url.encode(), self.daemon.key.encode(), b"" if r is None else b"Range: bytes=%d-%d\r\n" % r)
            for r in ranges)
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=60)
        try:
            sock.sendall(requests)
            time.sleep(0.5)  # let the daemon fill the socket before anything is read
            stream = sock.makefile("rb")
            for i, r in enumerate(ranges):
                status_line, headers, body = read_answer(stream)
                if r is None:
                    self.assertIn(" 200 ", status_line, i)
                    self.assertEqual(body, self.bytes, i)
                else:
                    self.assertIn(" 206 ", status_line, i)
                    self.assertEqual(headers["content-range"], "bytes %d-%d/%d" % (r[0], r[1], len(self.bytes)), i)
                    self.assertEqual(body, self.bytes[r[0]:r[1] + 1], i)
        finally:
            sock.close()

    def test_a_request_that_comes_while_an_answer_is_written_is_answered(self):
        """The next request arrives while the daemon still writes the last answer (the client
        reads nothing yet and its receive buffer is small, so the daemon waits for room): once
        the client reads, both answers come, the second not held until the idle timeout."""
        padded = os.path.join(self.tmp, "padded.mp4")
        sha = write_padded_mp4(padded, self.clip, 8 << 20)
        with open(padded, "rb") as f:
            status, _ = self.daemon.json("PUT", "/api/v1/videos?title=big", f, self.daemon.auth())
        self.assertEqual(status, 201)
        get = b"GET /objects/%s.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (
            sha.encode(), self.daemon.key.encode())
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.daemon.port))
        try:
            sock.sendall(get)
            time.sleep(0.3)  # the daemon has read it, filled the socket, and waits to write on
            sock.sendall(get)
            time.sleep(0.3)
            stream = sock.makefile("rb")
            for i in range(2):
                status_line, headers, body = read_answer(stream)
                self.assertIn(" 200 ", status_line, i)
                self.assertEqual(int(headers["content-length"]), 8 << 20, i)
                self.assertEqual(hashlib.sha256(body).hexdigest(), sha, i)
        finally:
            sock.close()

    def test_cors_preflight(self):
        status, headers, _ = self.daemon.request("OPTIONS", self.url, headers={
            "Origin": "http://elsewhere.example", "Access-Control-Request-Headers": "range"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertIn("Range", headers["access-control-allow-headers"])


class SlowReaderTest(DaemonTestCase):
    extra_args = ("--http.write_timeout_s", "2")

    def upload_big_clip(self):
        clip = make_clip(self.tmp + "/big.mp4", seconds=2, size="1280x720",
                         extra=("-qp", "0", "-vf", "noise=alls=60:allf=t"))
        self.assertGreater(os.path.getsize(clip), 8 << 20)  # more than loopback socket buffers hold
        status, _, video = self.daemon.upload(clip, "title=big")
        self.assertEqual(status, 201, video)
        return clip, video

    def test_clients_hanging_up_mid_body_do_not_hurt_the_daemon(self):
        """Clients that reset the connection in the middle of a big body (sendfile gets EPIPE or ECONNRESET,
        with no MSG_NOSIGNAL to stop SIGPIPE) leave the daemon serving."""
        _, video = self.upload_big_clip()
        request = b"GET /objects/%s.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (
            video["source"]["sha256"].encode(), self.daemon.key.encode())
        clients = []
        for _ in range(40):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", self.daemon.port))
            client.sendall(request)
            clients.append(client)
        time.sleep(0.3)  # the daemon has filled the buffers and waits to write more
        for i, client in enumerate(clients):
            if i % 2:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # unread data: a reset, with most of the body unsent
        time.sleep(0.5)
        self.assertIsNone(self.daemon.process.poll(), "the daemon died:\n" + self.daemon.log()[-2000:])
        status, _, _ = self.daemon.request("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_a_client_reading_1_kb_per_second_is_dropped_by_the_write_timeout(self):
        """A client that reads a 20 MB object at about 1 KB/s (tiny receive buffer) is cut off once the write
        timeout has passed, long before the object is sent; meanwhile other requests are served at once."""
        clip, video = self.upload_big_clip()

        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", self.daemon.port))
        client.sendall(b"GET /objects/%s.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n" % (
            video["source"]["sha256"].encode(), self.daemon.key.encode()))
        client.settimeout(1)
        started, received, closed = time.time(), 0, False
        while time.time() - started < 20:
            try:
                chunk = client.recv(1024)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            except socket.timeout:
                chunk = None
            if chunk == b"":
                closed = True
                break
            received += len(chunk or b"")
            if time.time() - started < 3:  # while the slow read is pinned, the server still answers
                status, _, _ = self.daemon.request("GET", "/healthz", timeout=2)
                self.assertEqual(status, 200)
            time.sleep(1)
        elapsed = time.time() - started
        client.close()
        self.assertTrue(closed, "the slow reader was not disconnected within 20 s")
        self.assertLess(elapsed, 10)
        self.assertLess(received, os.path.getsize(clip) // 2)


if __name__ == "__main__":
    unittest.main()
