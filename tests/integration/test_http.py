"""The HTTP layer seen from a raw socket: keep-alive, pipelining, limits, framing, timeouts,
the connection cap, Expect: 100-continue and the graceful drain on SIGTERM.

Raw sockets, because http.client hides exactly what is tested here (framing, interim
responses, who closes the connection and when).
"""
import hashlib
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import TMP_ROOT, Daemon, DaemonTestCase, make_clip, write_padded_mp4

# A timer of 1 s may fire a little late on a loaded 2-core machine with sanitizers.
SLACK_S = 3.0


class Reply:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason, self.headers, self.body = version, status, reason, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Reply(%s %s %r %r)" % (self.status, self.reason, self.headers, self.body[:200])


class RawClient:
    """One TCP connection; sends bytes as given and parses responses by hand."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection; unparsed bytes: %r" % self.buffer[:200])
        self.buffer += chunk

    def read_response(self, head=False):
        """Reads one response (interim 1xx ones included). head=True: the body is not sent."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status)
        body = b""
        if not head and status >= 200 and status not in (204, 304):
            self.assert_not_chunked(headers)
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(version, status, reason, headers, body)

    def early_reply(self, wait=0.3):
        """A response the server sent without waiting for the request body, or None."""
        readable, _, _ = select.select([self.sock], [], [], wait)
        return self.read_response() if readable else None

    @staticmethod
    def assert_not_chunked(headers):
        if "transfer-encoding" in headers:
            raise AssertionError("unexpected chunked response: %r" % headers)

    def wait_closed(self, timeout):
        """Seconds until the server closed the connection (FIN or RST), or None if it stayed open.
        Bytes that arrive meanwhile are kept in self.buffer."""
        start = time.monotonic()
        self.sock.settimeout(0.05)
        try:
            while time.monotonic() - start < timeout:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return time.monotonic() - start
                if not chunk:
                    return time.monotonic() - start
                self.buffer += chunk
            return None
        finally:
            self.sock.settimeout(10)


def request(method, target, headers=(), body=b"", version="HTTP/1.1", host=True):
    """The bytes of one request. headers: (name, value) pairs, sent in this order."""
    lines = ["%s %s %s" % (method, target, version)]
    if host:
        lines.append("Host: 127.0.0.1")
    lines += ["%s: %s" % pair for pair in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def put_video_header(daemon, length, key=None, extra=()):
    key = daemon.key if key is None else key
    return request("PUT", "/api/v1/videos?title=raw", [("Authorization", "Bearer " + key),
                                                       ("Content-Length", str(length)), *extra])


def wait_until(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class RawTestCase(DaemonTestCase):
    def connect(self):
        client = RawClient(self.daemon.port)
        self.addCleanup(client.close)
        return client

    def assert_closed(self, client, within=SLACK_S):
        elapsed = client.wait_closed(within)
        self.assertIsNotNone(elapsed, "the server kept the connection open")
        return elapsed

    def assert_error(self, reply, status, code=None):
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.headers.get("content-type"), "application/json", reply)
        if code is not None:
            self.assertEqual(reply.json()["error"]["code"], code, reply)


class KeepAliveTest(RawTestCase):
    def test_two_requests_on_one_connection(self):
        """HTTP/1.1 keeps the connection open: a second request on it is answered too."""
        client = self.connect()
        for path, body in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
            client.send(request("GET", path))
            reply = client.read_response()
            self.assertEqual((reply.status, reply.json()), (200, body))
            self.assertNotEqual(reply.headers.get("connection", "").lower(), "close")
        self.assertIsNone(client.wait_closed(0.3), "the connection was closed after two requests")

    def test_pipelined_requests_are_answered_in_order(self):
        """Requests sent back to back in one send() get their answers in the order they came."""
        client = self.connect()
        client.send(request("GET", "/healthz") + request("GET", "/readyz") + request("GET", "/healthz"))
        bodies = [client.read_response().json() for _ in range(3)]
        self.assertEqual(bodies, [{"status": "ok"}, {"status": "ready"}, {"status": "ok"}])
        self.assertEqual(client.buffer, b"", "bytes beyond the three responses")

    def test_error_without_body_keeps_the_connection(self):
        """A 404 for a request without a body does not cost the connection: the next request is served."""
        client = self.connect()
        client.send(request("GET", "/no/such/thing"))
        self.assert_error(client.read_response(), 404, "not_found")
        client.send(request("GET", "/healthz"))
        self.assertEqual(client.read_response().status, 200)

    def test_connection_close_is_honoured(self):
        """A request with Connection: close is answered with Connection: close, then the server closes."""
        client = self.connect()
        client.send(request("GET", "/healthz", [("Connection", "close")]))
        reply = client.read_response()
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers.get("connection", "").lower(), "close")
        self.assert_closed(client)

    def test_http_1_0_closes_after_the_response(self):
        """An HTTP/1.0 request (no Host needed) is answered, then the connection closes."""
        client = self.connect()
        client.send(request("GET", "/healthz", version="HTTP/1.0", host=False))
        reply = client.read_response()
        self.assertEqual((reply.status, reply.json()), (200, {"status": "ok"}))
        self.assert_closed(client)

    def test_head_has_content_length_and_no_body(self):
        """HEAD /healthz: GET's status and Content-Length, no body bytes (the next response follows at once)."""
        client = self.connect()
        client.send(request("GET", "/healthz"))
        get = client.read_response()
        client.send(request("HEAD", "/healthz") + request("GET", "/readyz"))
        head = client.read_response(head=True)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.headers.get("content-length"), str(len(get.body)))
        self.assertEqual(head.headers.get("content-type"), "application/json")
        # Had a body been sent, this would not parse as the /readyz response.
        self.assertTrue(client.buffer.startswith(b"HTTP/1.1 200") or client.buffer == b"", client.buffer[:80])
        after = client.read_response()
        self.assertEqual((after.status, after.json()), (200, {"status": "ready"}))


class LimitsTest(RawTestCase):
    def test_header_over_max_header_bytes_is_431_and_closes(self):
        """Request line plus headers over http.max_header_bytes (16 KiB): 431 JSON, then the connection closes."""
        client = self.connect()
        client.send(request("GET", "/healthz", [("X-Filler", "a" * 20000)]))
        self.assert_error(client.read_response(), 431, "header_too_large")
        self.assert_closed(client)

    def test_header_just_under_the_limit_is_fine(self):
        """A header a little under the limit is an ordinary request."""
        client = self.connect()
        client.send(request("GET", "/healthz", [("X-Filler", "a" * 15000)]))
        self.assertEqual(client.read_response().status, 200)

    def test_url_over_max_url_bytes_is_414(self):
        """A request target over http.max_url_bytes (4096) is refused with 414."""
        client = self.connect()
        client.send(request("GET", "/healthz?pad=" + "a" * 5000))
        self.assert_error(client.read_response(), 414, "uri_too_long")

    def test_url_under_max_url_bytes_is_served(self):
        """A long request target under the limit reaches the route."""
        client = self.connect()
        client.send(request("GET", "/healthz?pad=" + "a" * 3000))
        self.assertEqual(client.read_response().status, 200)


class FramingTest(RawTestCase):
    """RFC 9112 §6: ambiguous framing is refused and the connection closed, so no bytes of the
    refused request can be read as a second request (request smuggling)."""

    def refused(self, headers, body, status=400, host=True):
        client = self.connect()
        # The "body" holds a complete second request: it must never be answered.
        client.send(request("POST", "/api/v1/videos", headers, body, host=host))
        reply = client.read_response()
        self.assert_error(reply, status)
        self.assertEqual(reply.headers.get("connection", "").lower(), "close", reply)
        self.assert_closed(client)
        self.assertNotIn(b"HTTP/1.1", client.buffer, "a smuggled request was answered")
        return reply

    smuggled = b"0\r\n\r\n" + request("GET", "/healthz")

    def test_chunked_and_content_length_is_400(self):
        """Transfer-Encoding: chunked with Content-Length: 400 and close."""
        self.refused([("Transfer-Encoding", "chunked"), ("Content-Length", "5")], self.smuggled)

    def test_content_length_then_chunked_is_400(self):
        """The same, headers in the other order."""
        self.refused([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], self.smuggled)

    def test_unknown_transfer_encoding_is_501(self):
        """Transfer-Encoding: gzip (not chunked): 501 and close."""
        reply = self.refused([("Transfer-Encoding", "gzip")], self.smuggled, status=501)
        self.assertTrue(reply.json()["error"]["message"])

    def test_chunked_twice_is_400(self):
        """Transfer-Encoding: chunked, chunked: 400 and close."""
        self.refused([("Transfer-Encoding", "chunked, chunked")], self.smuggled)

    def test_two_transfer_encoding_headers_are_400(self):
        """Transfer-Encoding: chunked sent twice as separate headers: 400 and close."""
        self.refused([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], self.smuggled)

    def test_xchunked_is_400(self):
        """Transfer-Encoding: xchunked (a near miss): 400 and close."""
        self.refused([("Transfer-Encoding", "xchunked")], self.smuggled)

    def test_two_content_lengths_are_400(self):
        """Two Content-Length headers, even equal: 400 and close."""
        self.refused([("Content-Length", "5"), ("Content-Length", "5")], b"abcde" + request("GET", "/healthz"))

    def test_two_different_content_lengths_are_400(self):
        """Two Content-Length headers that disagree: 400 and close."""
        self.refused([("Content-Length", "5"), ("Content-Length", "6")], b"abcdef" + request("GET", "/healthz"))

    def test_content_length_list_is_400(self):
        """Content-Length: 5, 5 (a list): 400 and close."""
        self.refused([("Content-Length", "5, 5")], b"abcde" + request("GET", "/healthz"))

    def test_http_1_1_without_host_is_400(self):
        """HTTP/1.1 requires Host: without it, 400 and close."""
        client = self.connect()
        client.send(request("GET", "/healthz", host=False) + request("GET", "/healthz"))
        self.assert_error(client.read_response(), 400, "invalid_argument")
        self.assert_closed(client)
        self.assertNotIn(b"HTTP/1.1", client.buffer)

    def test_two_host_headers_are_400(self):
        """Two Host headers: 400 and close."""
        client = self.connect()
        client.send(request("GET", "/healthz", [("Host", "other")]))
        self.assert_error(client.read_response(), 400, "invalid_argument")
        self.assert_closed(client)


class IdleTimeoutTest(RawTestCase):
    extra_args = ("--http.idle_timeout_s", "1", "--http.first_byte_timeout_s", "1")

    def test_idle_keep_alive_connection_is_closed(self):
        """An idle keep-alive connection is closed after http.idle_timeout_s (1 s), not before."""
        client = self.connect()
        client.send(request("GET", "/healthz"))
        self.assertEqual(client.read_response().status, 200)
        elapsed = self.assert_closed(client, within=1 + SLACK_S)
        self.assertGreater(elapsed, 0.7)
        self.assertEqual(client.buffer, b"", "the server sent bytes on an idle connection")

    def test_a_connection_that_never_sends_is_closed(self):
        """A connection that sends nothing at all is closed by the first byte timeout."""
        client = self.connect()
        self.assertGreater(self.assert_closed(client, within=1 + SLACK_S), 0.7)


class SlowClientTest(RawTestCase):
    extra_args = ("--http.header_timeout_s", "1", "--http.body_stall_timeout_s", "1")

    def test_half_a_header_is_closed_after_the_header_timeout(self):
        """A client that sends half a request header and stops is closed after http.header_timeout_s (1 s)."""
        client = self.connect()
        client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        elapsed = self.assert_closed(client, within=1 + SLACK_S)
        self.assertGreater(elapsed, 0.7)

    def test_trickled_header_is_closed_after_the_header_timeout(self):
        """The header timeout is a deadline from the first byte: a header trickled byte by byte
        (slowloris) is closed after ~1 s although bytes keep coming."""
        client = self.connect()
        data = request("GET", "/healthz", [("X-Slow", "x" * 100)])
        start = time.monotonic()
        closed_at = None
        for byte in data[:-4]:
            try:
                client.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - start
                break
            if client.wait_closed(0.1) is not None:
                closed_at = time.monotonic() - start
                break
        self.assertIsNotNone(closed_at, "a trickled header was never cut off")
        self.assertLess(closed_at, 1 + SLACK_S)
        self.assertGreater(closed_at, 0.7)

    def test_stalled_upload_is_dropped_and_leaves_no_staging_file(self):
        """A PUT upload that stops sending is dropped after http.body_stall_timeout_s (1 s), and its
        staging file in data/tmp is removed."""
        client = self.connect()
        client.send(put_video_header(self.daemon, 10 << 20) + os.urandom(256 << 10))
        staged = wait_until(self.temp_files, 5)
        self.assertTrue(staged, "no staging file while the upload is in flight")
        elapsed = self.assert_closed(client, within=1 + SLACK_S)
        self.assertGreater(elapsed, 0.5)
        self.assertTrue(wait_until(lambda: self.temp_files() == [], 3), "left behind: %s" % self.temp_files())
        self.assertEqual(self.objects(), [])
        self.assertEqual(self.db_rows("videos"), 0)

    def test_slow_but_steady_upload_is_not_dropped(self):
        """The stall timeout restarts on progress: an upload that takes ~2.5 s in pieces 0.4 s apart
        (each gap under the 1 s stall timeout, the total over it and over the header timeout) succeeds."""
        clip = make_clip(os.path.join(self.tmp, "clip.mp4"))
        with open(clip, "rb") as f:
            data = f.read()
        client = self.connect()
        client.send(put_video_header(self.daemon, len(data)))
        pieces = 6
        step = (len(data) + pieces - 1) // pieces
        for i in range(0, len(data), step):
            time.sleep(0.4)
            client.send(data[i:i + step])
        reply = client.read_response()
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.json()["state"], "queued")


class ConnectionCapTest(RawTestCase):
    extra_args = ("--http.max_connections", "5")

    def test_connection_over_the_cap_gets_503_and_is_closed(self):
        """With http.max_connections 5 and 5 idle connections open, a 6th is answered 503 JSON and
        closed; once one of the 5 closes, a new connection is served."""
        idle = [self.connect() for _ in range(5)]
        for client in idle:  # each one really is a working connection
            client.send(request("GET", "/healthz"))
            self.assertEqual(client.read_response().status, 200)
        sixth = self.connect()
        reply = sixth.read_response()
        self.assert_error(reply, 503, "unavailable")
        self.assertEqual(reply.headers.get("connection", "").lower(), "close")
        self.assert_closed(sixth)

        idle[0].close()

        def healthy():
            client = RawClient(self.daemon.port)
            try:
                client.send(request("GET", "/healthz"))
                return client.read_response().status == 200
            except (EOFError, ConnectionResetError, BrokenPipeError):
                return False
            finally:
                client.close()
        self.assertTrue(wait_until(healthy, 3, interval=0.1), "no connection served after one closed")
        # The other four are still served.
        for client in idle[1:]:
            client.send(request("GET", "/healthz"))
            self.assertEqual(client.read_response().status, 200)


def chunked(data, size=64 << 10):
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


class UploadBodyTest(RawTestCase):
    """Large bodies are streamed, whatever their framing: the answer is the handler's (here 415,
    random bytes are not a video), never a framing error."""

    def test_upload_over_1_mib_with_content_length_is_read(self):
        """PUT of 3 MiB with Content-Length reaches the handler (415 not a video), nothing left behind."""
        client = self.connect()
        client.send(put_video_header(self.daemon, 3 << 20))
        early = client.early_reply()
        self.assertIsNone(early, "answered before the body was sent")
        client.send(os.urandom(3 << 20))
        self.assert_error(client.read_response(), 415, "unsupported_media")
        self.assertEqual(self.temp_files(), [])

    def test_chunked_upload_over_1_mib_is_read(self):
        """PUT of 3 MiB with Transfer-Encoding: chunked reaches the handler too."""
        client = self.connect()
        client.send(request("PUT", "/api/v1/videos?title=raw", [("Authorization", "Bearer " + self.daemon.key),
                                                                ("Transfer-Encoding", "chunked")])
                    + chunked(os.urandom(3 << 20)))
        self.assert_error(client.read_response(), 415, "unsupported_media")
        self.assertEqual(self.temp_files(), [])

    def test_a_chunked_upload_cut_anywhere_is_stored_byte_for_byte(self):
        """A chunked PUT of a real 3 MiB video in chunks of uneven sizes, sent in pieces that cut
        chunk-size lines, their CRLFs and the data at odd places, with a request pipelined right
        behind its last chunk: 201 with the file's exact SHA-256, then the next answer; then a
        small body that arrives whole with its header."""
        clip = make_clip(os.path.join(self.tmp, "clip.mp4"))
        padded = os.path.join(self.tmp, "padded.mp4")
        sha256 = write_padded_mp4(padded, clip, 3 << 20)
        with open(padded, "rb") as f:
            data = f.read()
        head = request("PUT", "/api/v1/videos?title=cut", [("Authorization", "Bearer " + self.daemon.key),
                                                            ("Transfer-Encoding", "chunked")])
        wire, at, cuts = bytearray(head), 0, [len(head) - 2]
        for size in itertools.cycle((1, 17, 4095, 65537, 3, 1 << 20, 300001)):
            if at == len(data):
                break
            piece = data[at:at + size]
            line = b"%x\r\n" % len(piece)
            # Cut after the size's first digit, between its CR and LF, and inside the data.
            cuts += [len(wire) + 1, len(wire) + len(line) - 1, len(wire) + len(line) + len(piece) // 2]
            wire += line + piece + b"\r\n"
            at += len(piece)
        cuts += [len(wire) + 1, len(wire) + 4]  # inside the last chunk, "0\r\n\r\n"
        wire += b"0\r\n\r\n" + request("GET", "/healthz")
        client = self.connect()
        start = 0
        for cut in sorted(set(cuts)) + [len(wire)]:  # each piece on a read of its own
            client.send(bytes(wire[start:cut]))
            start = cut
            time.sleep(0.005)
        reply = client.read_response()
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.json()["source"]["sha256"], sha256)
        self.assertEqual(client.read_response().status, 200)
        client.send(put_video_header(self.daemon, 2000) + os.urandom(2000))
        self.assert_error(client.read_response(), 415, "unsupported_media")


class UploadLimitTest(RawTestCase):
    extra_args = ("--uploads.max_upload_bytes", "1000000")

    def test_content_length_over_the_limit_is_413_before_the_body(self):
        """Content-Length over uploads.max_upload_bytes: 413 at once (body not sent), and close."""
        client = self.connect()
        client.send(put_video_header(self.daemon, 2000000))
        self.assert_error(client.read_response(), 413, "too_large")
        self.assert_closed(client)
        self.assertEqual(self.temp_files(), [])

    def test_chunked_body_over_the_limit_is_413(self):
        """A chunked body that grows past uploads.max_upload_bytes: 413, and its staging file is removed."""
        client = self.connect()
        client.send(request("PUT", "/api/v1/videos?title=raw", [("Authorization", "Bearer " + self.daemon.key),
                                                                ("Transfer-Encoding", "chunked")]))
        try:
            client.send(chunked(os.urandom(2000000)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has answered
        self.assert_error(client.read_response(), 413, "too_large")
        self.assertTrue(wait_until(lambda: self.temp_files() == [], 3), self.temp_files())


class ExpectContinueTest(RawTestCase):
    def test_authorised_put_gets_100_continue_before_the_body(self):
        """PUT with Expect: 100-continue and a valid key: 'HTTP/1.1 100 Continue' arrives before any
        body byte is sent; then the body is sent and the upload is answered 201."""
        clip = make_clip(os.path.join(self.tmp, "clip.mp4"))
        with open(clip, "rb") as f:
            data = f.read()
        client = self.connect()
        client.send(put_video_header(self.daemon, len(data), extra=[("Expect", "100-continue")]))
        interim = client.read_response()
        self.assertEqual((interim.version, interim.status, interim.reason), ("HTTP/1.1", 100, "Continue"))
        client.send(data)
        reply = client.read_response()
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.json()["source"]["sha256"], hashlib.sha256(data).hexdigest())

    def test_unauthorised_put_gets_401_without_reading_the_body(self):
        """PUT with Expect: 100-continue and a wrong key: 401 (no 100 Continue first), and the
        connection closes without waiting for the body."""
        client = self.connect()
        client.send(put_video_header(self.daemon, 50 << 20, key="cv_" + "0" * 64, extra=[("Expect", "100-continue")]))
        reply = client.read_response()
        self.assert_error(reply, 401, "unauthorized")
        self.assertEqual(reply.headers.get("www-authenticate"), "Bearer")
        self.assert_closed(client)
        self.assertEqual(self.temp_files(), [])

    def test_missing_key_with_expect_is_401(self):
        """The same with no Authorization header at all."""
        client = self.connect()
        client.send(request("PUT", "/api/v1/videos?title=x", [("Content-Length", "1000"), ("Expect", "100-continue")]))
        self.assert_error(client.read_response(), 401, "unauthorized")
        self.assert_closed(client)


class ShutdownTest(unittest.TestCase):
    """SIGTERM drains: requests in flight finish, idle connections and new ones are turned away,
    and the process exits 0. A second SIGTERM stops at once."""

    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=type(self).__name__ + "-", dir=TMP_ROOT)
        self.data_dir = os.path.join(self.tmp, "data")
        self.daemon = Daemon(self.data_dir).start()
        self.clients = []
        clip = make_clip(os.path.join(self.tmp, "clip.mp4"))
        with open(clip, "rb") as f:
            self.clip = f.read()

    def tearDown(self):
        for client in self.clients:
            client.close()
        if self.daemon.process.poll() is None:
            self.daemon.kill9()
        elif not self.daemon.log_file.closed:
            self.daemon.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def connect(self):
        client = RawClient(self.daemon.port)
        self.clients.append(client)
        return client

    def start_upload(self):
        """An upload whose first half is sent; returns once the server is reading its body."""
        client = self.connect()
        client.send(put_video_header(self.daemon, len(self.clip)) + self.clip[:len(self.clip) // 2])
        tmp = os.path.join(self.data_dir, "tmp")
        self.assertTrue(wait_until(lambda: os.listdir(tmp), 5), "the upload never reached its body")
        return client

    def refuses_connections(self):
        try:
            socket.create_connection(("127.0.0.1", self.daemon.port), timeout=1).close()
            return False
        except (ConnectionRefusedError, ConnectionResetError):
            return True  # reset: the connection was queued as the listening socket closed

    def test_sigterm_lets_the_upload_in_flight_finish(self):
        """After SIGTERM: an idle keep-alive connection is closed, new connections are refused, the
        upload in flight completes with its normal 201 (sent with Connection: close), and the
        process exits 0 with the video committed."""
        idle = self.connect()
        idle.send(request("GET", "/healthz"))
        self.assertEqual(idle.read_response().status, 200)
        upload = self.start_upload()

        self.daemon.process.send_signal(signal.SIGTERM)
        self.assertTrue(wait_until(self.refuses_connections, 5), "new connections still accepted")
        self.assertIsNotNone(idle.wait_closed(SLACK_S), "the idle connection was not closed by the drain")
        time.sleep(0.3)
        self.assertIsNone(self.daemon.process.poll(), "the daemon exited with an upload in flight")

        upload.send(self.clip[len(self.clip) // 2:])
        reply = upload.read_response()
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.headers.get("connection", "").lower(), "close")
        self.assertIsNotNone(upload.wait_closed(SLACK_S))

        code = self.daemon.process.wait(15)
        self.assertEqual(code, 0, self.daemon.log()[-3000:])
        self.assertIn("stopped cleanly", self.daemon.log())
        count = subprocess.run(["sqlite3", os.path.join(self.data_dir, "cinevault.db"), "SELECT count(*) FROM videos"],
                               capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(count, "1")

    def test_sigterm_with_nothing_in_flight_exits_at_once(self):
        """SIGTERM with only idle connections: the process exits 0 promptly."""
        idle = self.connect()
        idle.send(request("GET", "/healthz"))
        self.assertEqual(idle.read_response().status, 200)
        start = time.monotonic()
        self.daemon.process.send_signal(signal.SIGTERM)
        code = self.daemon.process.wait(15)
        self.assertEqual(code, 0, self.daemon.log()[-3000:])
        self.assertLess(time.monotonic() - start, SLACK_S)

    def test_second_sigterm_during_the_drain_stops_at_once(self):
        """While a drain waits for a stalled upload (grace 15 s), a second SIGTERM makes the process exit at once."""
        self.start_upload()
        self.daemon.process.send_signal(signal.SIGTERM)
        self.assertTrue(wait_until(self.refuses_connections, 5))
        time.sleep(0.3)
        self.assertIsNone(self.daemon.process.poll(), "the daemon did not wait for the upload in flight")
        start = time.monotonic()
        self.daemon.process.send_signal(signal.SIGTERM)
        try:
            self.daemon.process.wait(SLACK_S + 2)
        except Exception:
            self.fail("still running %.1f s after the second SIGTERM" % (time.monotonic() - start))
        self.assertLess(time.monotonic() - start, SLACK_S)
        log = self.daemon.log()
        self.assertIn("second signal", log)
        self.assertNotIn("Sanitizer", log, log[-3000:])


if __name__ == "__main__":
    unittest.main()
