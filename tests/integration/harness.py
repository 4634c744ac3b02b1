"""Runs the real cinevault daemon on a loopback port for integration tests.

Only the Python standard library: the tests must run on a fresh Debian 12 machine.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

BINARY = os.environ.get("CINEVAULT_BINARY", "")
TMP_ROOT = os.environ.get("CINEVAULT_TEST_TMP", tempfile.gettempdir())


class Daemon:
    """One daemon process on 127.0.0.1 with a port the kernel picked."""

    def __init__(self, data_dir, *extra_args, env=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.env = env  # the daemon's environment; None: this process's
        self.process = None
        self.port = None
        self.log_path = os.path.join(data_dir + ".log")
        self.log_file = None

    def start(self, timeout=30):
        self.log_file = open(self.log_path, "ab")
        self.log_offset = self.log_file.tell()
        # Uploads default to public here, so that the tests of playback and packaging can read
        # as players do, without credentials; test_accounts sets visibility itself.
        args = [BINARY, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0", "--log-level", "info",
                "--uploads.default_visibility", "public"]
        self.process = subprocess.Popen(args + self.extra_args, stdout=self.log_file, stderr=subprocess.STDOUT,
                                        env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if match:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                raise RuntimeError("daemon exited with %s:\n%s" % (self.process.returncode, self.log()))
            time.sleep(0.05)
        raise RuntimeError("daemon did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    @property
    def key(self):
        with open(os.path.join(self.data_dir, "admin.key")) as f:
            return f.read().strip()

    def auth(self, extra=None):
        headers = {"Authorization": "Bearer " + self.key}
        headers.update(extra or {})
        return headers

    def connection(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """Returns (status, headers dict with lowercase names, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, headers, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data else None)

    def cli(self, *args):
        """Runs `cinevault ARGS --data <this data dir>` (offline commands: keys, gc); returns CompletedProcess."""
        return subprocess.run([BINARY, *args, "--data", self.data_dir], capture_output=True, text=True, timeout=60)

    def upload(self, path, query="", headers=None, key=True, timeout=300):
        """PUT /api/v1/videos?QUERY with the file at PATH streamed as the body (never read whole into memory).

        Returns (status, headers dict with lowercase names, parsed JSON body or None)."""
        all_headers = {"Content-Length": str(os.path.getsize(path)), "Content-Type": "application/octet-stream"}
        if key:
            all_headers["Authorization"] = "Bearer " + self.key
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, blocksize=1 << 20)
        try:
            with open(path, "rb") as body:
                try:
                    conn.request("PUT", "/api/v1/videos" + ("?" + query if query else ""), body=body, headers=all_headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # answered before the whole body was sent, and closed: read that answer
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, (json.loads(data) if data else None)
        finally:
            conn.close()

    def raw(self, request, body_chunks=(), timeout=30):
        """Sends REQUEST bytes as they are (no client-side checks), then BODY_CHUNKS while the server
        still reads, and reads the answer until the server closes or TIMEOUT passes.

        For requests http.client would refuse or rewrite (dot segments, huge headers, bad framing).
        Returns a RawResponse."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            sock.sendall(request)
            for chunk in body_chunks:
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break  # the server answered early and closed: read what it said
            received = b""
            closed = False
            while True:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                except socket.timeout:
                    break
                if not data:
                    closed = True
                    break
                received += data
                response = RawResponse.parse(received)
                if response and response.complete and response.headers.get("connection", "").lower() != "close":
                    break  # a keep-alive answer: the server leaves the connection open
            response = RawResponse.parse(received)
            if response is None:
                raise AssertionError("no HTTP response; received %r" % received[:200])
            response.closed = closed
            return response
        finally:
            sock.close()

    def peak_rss_kib(self):
        with open("/proc/%d/status" % self.process.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit code (0 is a clean shutdown, LeakSanitizer included)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.log_file.close()
        return code

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self.log_file.close()


class RawResponse:
    """An HTTP/1.1 response read off a raw socket."""

    def __init__(self, status, headers, body, complete):
        self.status = status
        self.headers = headers  # lowercase names
        self.body = body
        self.complete = complete
        self.closed = False     # the server closed the connection after answering

    @classmethod
    def parse(cls, data):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = data[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = data[end + 4:]
        length = int(headers.get("content-length", "0"))
        return cls(status, headers, body[:length], len(body) >= length)

    def json(self):
        return json.loads(self.body)


class DaemonTestCase(unittest.TestCase):
    """A fresh data directory and daemon per test; the daemon must shut down cleanly."""

    extra_args = ()
    # Tests of ingest, the API and HTTP watch the data directory and the queue as uploads
    # left them: their daemon runs no transcode workers unless the test sets this.
    transcode = False

    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=type(self).__name__ + "-", dir=TMP_ROOT)
        self.data_dir = os.path.join(self.tmp, "data")
        self.daemon = Daemon(self.data_dir, *self.daemon_args()).start()

    def tearDown(self):
        code = self.daemon.stop()
        if code != 0:
            self.fail("daemon exit code %s; log:\n%s" % (code, self.daemon.log()[-5000:]))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon_args(self, extra_args=()):
        args = list(extra_args or self.extra_args)
        if not self.transcode:
            args += ["--pipeline.concurrent_jobs", "0"]
        return args

    def restart_daemon(self, *extra_args):
        """Stops the daemon (it must exit cleanly) and starts a new one on the same data directory."""
        code = self.daemon.stop()
        self.assertEqual(code, 0, "daemon exit code %s; log:\n%s" % (code, self.daemon.log()[-5000:]))
        self.daemon = Daemon(self.data_dir, *self.daemon_args(extra_args)).start()
        return self.daemon

    def crash_and_restart(self, *extra_args):
        """SIGKILLs the daemon (no clean-up runs) and starts a new one on the same data directory."""
        self.daemon.kill9()
        self.daemon = Daemon(self.data_dir, *self.daemon_args(extra_args)).start()
        return self.daemon

    def path(self, name):
        """A path in this test's scratch directory (outside the data directory)."""
        return os.path.join(self.tmp, name)

    def assert_error(self, status, headers, body, expected_status, code, *message_words):
        """A JSON error {"error": {"code", "message"}} with the status, code and a message naming the words.

        BODY may be bytes or parsed JSON."""
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        self.assertEqual(status, expected_status, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(body["error"]["code"], code, body)
        message = body["error"]["message"]
        self.assertTrue(message, body)
        for word in message_words:
            self.assertIn(word.lower(), message.lower(), body)
        return message

    def assert_still_serving(self):
        """The daemon answers /healthz: after a hostile request, it is still up."""
        status, _, body = self.daemon.request("GET", "/healthz")
        self.assertEqual(status, 200, body)

    def assert_nothing_stored(self):
        """A refused request left no video, job, object row, object file or staging file."""
        self.assertEqual(self.db_rows("videos"), 0)
        self.assertEqual(self.db_rows("jobs"), 0)
        self.assertEqual(self.db_rows("objects"), 0)
        self.assertEqual(self.objects(), [])
        self.assertEqual(self.temp_files(), [])

    # What the data directory holds, to show that a refused upload left nothing behind.
    def objects(self):
        found = []
        for root, _, files in os.walk(os.path.join(self.data_dir, "objects")):
            found += files
        return sorted(found)

    def temp_files(self):
        result = []
        for sub in ("tmp", "uploads"):
            path = os.path.join(self.data_dir, sub)
            if os.path.isdir(path):
                result += [os.path.join(sub, name) for name in os.listdir(path)]
        return sorted(result)

    def db_rows(self, table):
        out = subprocess.run(["sqlite3", os.path.join(self.data_dir, "cinevault.db"), "SELECT count(*) FROM " + table],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    def db_query(self, sql):
        """Rows of a query run by the sqlite3 CLI, as dicts."""
        out = subprocess.run(["sqlite3", "-json", os.path.join(self.data_dir, "cinevault.db"), sql],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout) if out.stdout.strip() else []

    def object_path(self, sha256):
        """Where the store keeps the object with this hash: data/objects/ab/cd/abcd…"""
        return os.path.join(self.data_dir, "objects", sha256[:2], sha256[2:4], sha256)


def vlc_copy(url, out, scratch):
    """VLC's own HLS reader (its adaptive demuxer) copies what URL plays into OUT as MPEG-TS, with no header at all.
    VLC refuses to run as root: under root it runs as nobody, with the directory SCRATCH (OUT's) opened to it."""
    os.chmod(scratch, 0o777)
    command = ["cvlc", "-I", "dummy", url, "--sout", "#std{access=file,mux=ts,dst=%s}" % out, "vlc://quit"]
    if os.getuid() == 0:
        command = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "env",
                   "HOME=" + scratch] + command
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def played(path):
    """(sorted stream kinds, duration in seconds) of what a player wrote to PATH, as ffprobe reads it; None when
    ffprobe cannot read it."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type",
                            "-of", "json", path], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return None
    facts = json.loads(probe.stdout)
    return sorted(s["codec_type"] for s in facts["streams"]), float(facts["format"]["duration"])


def make_clip(path, seconds=2, size="320x180", rate=25, extra=(), pattern="testsrc2"):
    """A short H.264/AAC (stereo, 48 kHz) clip made by the ffmpeg CLI.

    PATTERN is a lavfi video source (testsrc2, smptebars, rgbtestsrc, …): different patterns give different bytes."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "%s=size=%s:rate=%s" % (pattern, size, rate),
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
                    *extra, path],
                   check=True)
    return path


def make_audio_only(path, seconds=1):
    """An AAC-only file (an .m4a in the mp4 container): media, but with no video stream."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                    "-t", str(seconds), "-c:a", "aac", path], check=True)
    return path


def multipart_body(fields, file_part=None, boundary="cinevault-test-boundary-7d3f"):
    """(content type, body bytes) of a multipart/form-data form.

    FIELDS: dict of text fields; FILE_PART: (field name, file name, path) or None."""
    crlf = b"\r\n"
    body = b""
    for name, value in fields.items():
        body += b"--" + boundary.encode() + crlf
        body += b'Content-Disposition: form-data; name="%s"' % name.encode() + crlf + crlf
        body += value.encode("utf-8") + crlf
    if file_part:
        name, filename, path = file_part
        with open(path, "rb") as f:
            data = f.read()
        body += b"--" + boundary.encode() + crlf
        body += b'Content-Disposition: form-data; name="%s"; filename="%s"' % (name.encode(), filename.encode()) + crlf
        body += b"Content-Type: application/octet-stream" + crlf + crlf
        body += data + crlf
    body += b"--" + boundary.encode() + b"--" + crlf
    return "multipart/form-data; boundary=" + boundary, body


def plant_object(data_dir, content, age_s=3600):
    """An object file no row refers to, at its content address in data_dir's store, older than any grace
    period (garbage); returns its path."""
    digest = hashlib.sha256(content).hexdigest()
    directory = os.path.join(data_dir, "objects", digest[:2], digest[2:4])
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, digest)
    with open(path, "wb") as f:
        f.write(content)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_padded_mp4(path, clip, size):
    """A valid mp4 of exactly SIZE bytes: CLIP followed by one top-level `free` box of zeros.

    ISO BMFF readers skip `free` boxes, so this is the same 2 s video, SIZE bytes long. The
    zeros are a sparse hole, so writing it is instant. Returns its SHA-256."""
    with open(clip, "rb") as f:
        head = f.read()
    pad = size - len(head)
    assert 8 <= pad < (1 << 32)
    header = struct.pack(">I4s", pad, b"free")
    with open(path, "wb") as f:
        f.write(head + header)
        f.truncate(size)
    h = hashlib.sha256(head + header)
    zeros = memoryview(bytes(8 << 20))
    remaining = pad - len(header)
    while remaining:
        n = min(len(zeros), remaining)
        h.update(zeros[:n])
        remaining -= n
    return h.hexdigest()
