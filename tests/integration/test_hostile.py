"""Hostile input never takes the daemon down: after each request below the daemon still answers.

Text that is not UTF-8 in a path, a query, tus Upload-Metadata, a multipart part name or filename
gets a 400 whose message does not echo the bytes; a media file whose track language tag is not
UTF-8 (or would break out of an HLS attribute) is taken with the tag dropped.
"""
import base64
import json
import os
import socket
import stat
import subprocess
import time

from harness import DaemonTestCase, make_clip, multipart_body

TUS = {"Tus-Resumable": "1.0.0"}
BAD_BYTES = b"\xff\xfe\xc0\xaf"


class TextAtTheEdgeTest(DaemonTestCase):
    def assert_refused_without_echo(self, response, *words):
        status, headers, body = response
        self.assertEqual(status, 400, body[:300])
        self.assertNotIn(b"\xff", body)
        self.assertNotIn(b"\\u00ff", body.lower())
        self.assert_error(status, headers, body, 400, "invalid_argument", *words)
        self.assert_still_serving()

    def raw_request(self, target, extra=b""):
        """A GET with TARGET's bytes as they are (http.client would refuse or encode them)."""
        response = self.daemon.raw(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n")
        return response.status, response.headers, response.body

    def test_paths_and_queries_that_are_not_utf8_are_400(self):
        for target in (b"/videos/\xff\xfe/master.m3u8", b"/videos/%FF%FE/master.m3u8", b"/api/v1/videos/%C0%AF",
                       b"/api/v1/videos?cursor=%FF", b"/api/v1/jobs?state=%ED%A0%80", b"/objects/%F4%90%80%80.m4s"):
            with self.subTest(target=target):
                self.assert_refused_without_echo(self.raw_request(target), "UTF-8")

    def test_tus_metadata_that_is_not_utf8_is_400_and_creates_nothing(self):
        for value in (BAD_BYTES, b"caf\xe9.mp4"):
            metadata = "filename " + base64.b64encode(value).decode()
            response = self.daemon.request("POST", "/api/v1/uploads", headers=self.daemon.auth(
                {**TUS, "Upload-Length": "1000", "Upload-Metadata": metadata}))
            with self.subTest(value=value):
                self.assert_refused_without_echo(response, "UTF-8")
        self.assertEqual(self.db_rows("uploads"), 0)

    def test_multipart_names_and_filenames_that_are_not_utf8_are_400(self):
        clip = make_clip(self.path("clip.mp4"))
        content_type, form = multipart_body({"title": "x"}, ("file", "clip.mp4", clip))
        for good, bad in ((b'filename="clip.mp4"', b'filename="clip\xff.mp4"'), (b'name="title"', b'name="ti\xfftle"')):
            with self.subTest(part=bad):
                response = self.daemon.request("POST", "/api/v1/videos", form.replace(good, bad, 1),
                                               self.daemon.auth({"Content-Type": content_type}))
                self.assert_refused_without_echo(response, "UTF-8")
                self.assert_nothing_stored()

class TextAtTheEdgeWithKeysForReadsTest(TextAtTheEdgeTest):
    """The same with auth.require_key_for_reads: the text is checked before a key is asked for."""
    extra_args = ("--auth.require_key_for_reads", "true")


class MediaTagsTest(DaemonTestCase):
    def test_a_track_language_that_is_not_a_language_tag_is_dropped(self):
        """An audio track tagged with bytes that are not UTF-8, or with a quote that would end an HLS attribute,
        is taken: the video's facts come back as JSON and the tag is gone."""
        for tag, container in ((b"\xff\xfe", "mkv"), (b'en",URI="http://example.com/x', "mkv")):
            with self.subTest(tag=tag):
                clip = self.path("tagged." + container)
                subprocess.run([b"ffmpeg", b"-v", b"error", b"-y", b"-f", b"lavfi", b"-i", b"testsrc2=size=160x90:rate=10",
                                b"-f", b"lavfi", b"-i", b"sine", b"-t", b"1", b"-c:v", b"libx264", b"-preset", b"ultrafast",
                                b"-c:a", b"aac", b"-metadata:s:a:0", b"language=" + tag, clip.encode()], check=True)
                status, _, video = self.daemon.upload(clip, "title=tagged")
                self.assertEqual(status, 201, video)
                status, headers, body = self.daemon.request("GET", "/api/v1/videos/" + video["id"])
                self.assertEqual(status, 200, body[:300])
                streams = json.loads(body)["media"]["streams"]
                audio = [s for s in streams if s["type"] == "audio"]
                self.assertEqual(len(audio), 1, streams)
                self.assertNotIn("language", audio[0])
                self.assert_still_serving()




class WhatAnonymousReadersSeeTest(DaemonTestCase):
    transcode = True
    extra_args = ("--pipeline.x264_preset", "ultrafast", "--pipeline.retry_backoff_s", "0", "--pipeline.max_attempts", "1")

    def test_the_original_upload_and_job_logs_need_a_key(self):
        """Anonymous readers get the video without its source (camera and GPS metadata live in the original) and
        jobs without log tails (server paths); the same requests with the admin key get both."""
        clip = make_clip(self.path("clip.mp4"))
        status, _, video = self.daemon.upload(clip, "title=clip")
        self.assertEqual(status, 201, video)
        self.assertIn("source", video)  # the uploader holds a key
        deadline = time.time() + 60
        while time.time() < deadline:
            _, jobs = self.daemon.json("GET", "/api/v1/jobs", headers=self.daemon.auth())
            if jobs["jobs"] and jobs["jobs"][0]["state"] in ("done", "dead"):
                break
            time.sleep(0.2)
        # A job that fails: the source object is damaged behind the daemon's back, then transcoded again.
        with open(self.object_path(video["source"]["sha256"]), "r+b") as f:
            f.truncate(4096)
        status, headers, body = self.daemon.request("POST", "/api/v1/videos/%s/transcode" % video["id"],
                                                    headers=self.daemon.auth())
        self.assertEqual(status, 202, body)
        job_id = json.loads(body)["id"]
        deadline = time.time() + 60
        while time.time() < deadline:
            _, job = self.daemon.json("GET", "/api/v1/jobs/%d" % job_id, headers=self.daemon.auth())
            if job["state"] == "dead":
                break
            time.sleep(0.2)
        self.assertEqual(job["state"], "dead", job)
        self.assertIn("log_tail", job["error"])

        # The queue is the admins' business; a viewer sees the job's state in the video's entry.
        self.assertEqual(self.daemon.request("GET", "/api/v1/jobs/%d" % job_id)[0], 401)
        self.assertEqual(self.daemon.request("GET", "/api/v1/jobs")[0], 401)
        _, anonymous_video = self.daemon.json("GET", "/api/v1/videos/" + video["id"])
        self.assertNotIn("source", anonymous_video)
        self.assertNotIn("log_tail", json.dumps(anonymous_video))
        _, library = self.daemon.json("GET", "/api/v1/videos")
        self.assertTrue(all("source" not in v for v in library["videos"]), library)
        _, keyed_video = self.daemon.json("GET", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual(keyed_video["source"]["sha256"], video["source"]["sha256"])
        # A key that is not valid is refused, not taken as anonymous.
        status, _, _ = self.daemon.request("GET", "/api/v1/videos/" + video["id"], headers={"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)


class HostCheckTest(DaemonTestCase):
    def get_health(self, host):
        return self.daemon.raw(b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")

    def test_a_foreign_host_name_is_421_and_loopback_names_are_served(self):
        """Listening on loopback, the daemon answers only to loopback names (a rebound DNS name is refused)."""
        for host in (b"evil.example.com", b"evil.example.com:%d" % self.daemon.port, b"127.0.0.1.nip.io",
                     b"192.168.1.10"):
            with self.subTest(host=host):
                response = self.get_health(host)
                self.assertEqual(response.status, 421, response.body)
                self.assertEqual(response.json()["error"]["code"], "misdirected")
                self.assertNotIn(host.split(b":")[0], response.body)
        for host in (b"127.0.0.1:%d" % self.daemon.port, b"localhost", b"LOCALHOST:1", b"[::1]:8080", b"localhost."):
            with self.subTest(host=host):
                self.assertEqual(self.get_health(host).status, 200)


class AllowedHostsTest(DaemonTestCase):
    """Behind a reverse proxy: http.allowed_hosts names what the proxy sends."""
    extra_args = ("--http.allowed_hosts", "video.example.com,Other.Example.org")

    def test_only_the_configured_names_are_served(self):
        for host, status in ((b"video.example.com", 200), (b"VIDEO.example.com:443", 200), (b"other.example.org", 200),
                             (b"127.0.0.1", 421), (b"evil.example.com", 421)):
            with self.subTest(host=host):
                response = self.daemon.raw(b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                self.assertEqual(response.status, status, response.body)


class NoSniffTest(DaemonTestCase):
    def test_every_answer_says_nosniff(self):
        clip = make_clip(self.path("clip.mp4"))
        status, _, video = self.daemon.upload(clip, "title=clip")
        self.assertEqual(status, 201, video)
        for method, path, key in (("GET", "/healthz", False), ("GET", "/api/v1/videos", False), ("GET", "/", False),
                                  ("GET", "/api/v1/videos/0123456789abcdef", False), ("GET", "/nope", False),
                                  ("GET", "/objects/%s.mp4" % video["source"]["sha256"], True)):
            with self.subTest(path=path):
                status, headers, _ = self.daemon.request(method, path, headers=self.daemon.auth() if key else {})
                self.assertEqual(headers.get("x-content-type-options"), "nosniff", (status, headers))


class FileModesTest(DaemonTestCase):
    """Started with the usual umask 022, the daemon still keeps its data directory to its owner."""

    def setUp(self):
        self.previous_umask = os.umask(0o022)
        super().setUp()

    def tearDown(self):
        super().tearDown()
        os.umask(self.previous_umask)

    def test_everything_under_the_data_directory_is_owner_only(self):
        clip = make_clip(self.path("clip.mp4"))
        status, _, video = self.daemon.upload(clip, "title=clip")
        self.assertEqual(status, 201, video)
        status, _, _ = self.daemon.request("POST", "/api/v1/uploads", headers=self.daemon.auth(
            {**TUS, "Upload-Length": "1000"}))
        self.assertEqual(status, 201)
        found = []
        for root, dirs, files in os.walk(self.data_dir):
            for name in dirs + files + ["."]:
                path = os.path.join(root, name)
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                found.append(path)
                self.assertEqual(mode & 0o077, 0, "%s is %o" % (path, mode))
        self.assertTrue(any(p.endswith("cinevault.db") for p in found), found)
        self.assertTrue(any("objects" in p for p in found), found)
        self.assertTrue(any("uploads" in p for p in found), found)


class ObjectsOfAVideoTest(DaemonTestCase):
    transcode = True
    extra_args = ("--pipeline.x264_preset", "ultrafast", "--pipeline.retry_backoff_s", "0")

    def test_objects_are_typed_by_what_they_are_and_stop_with_their_video(self):
        """Once transcoded, each object is served with the type of its use (whatever the URL's extension says);
        the original needs a key and comes as a download; deleting the video stops every one of its objects at
        once, answers that came from memory before included, long before any garbage collection."""
        clip = make_clip(self.path("clip.mp4"), seconds=3, size="320x180")
        status, _, video = self.daemon.upload(clip, "title=clip")
        self.assertEqual(status, 201, video)
        deadline = time.time() + 120
        while time.time() < deadline:
            _, current = self.daemon.json("GET", "/api/v1/videos/" + video["id"])
            if current["state"] == "ready" and current["playback"]["complete"]:
                break
            time.sleep(0.2)
        self.assertEqual(current["state"], "ready", current)
        master = self.daemon.request("GET", current["playback"]["hls"])[2].decode()
        playlists = [l for l in master.splitlines() if l and not l.startswith("#")]
        playlists += [a.split('URI="')[1].split('"')[0] for a in master.splitlines() if 'URI="' in a]
        expected = {}  # object URL: the Content-Type it must have
        for uri in playlists:
            lines = self.daemon.request("GET", uri)[2].decode().splitlines()
            init = next(l for l in lines if l.startswith("#EXT-X-MAP:")).split('URI="')[1].split('"')[0]
            expected[init] = "audio/mp4" if "audio" in uri else "video/mp4"
            expected.update({l: "video/iso.segment" for l in lines if l and not l.startswith("#")})
        poster = current["thumbnails"]["poster"][0]
        expected[poster["jpeg"]] = "image/jpeg"
        expected[poster["webp"]] = "image/webp"
        self.assertGreater(len(expected), 4, expected)
        for url, content_type in expected.items():
            for _ in range(2):  # the second answer comes from memory
                status, headers, _ = self.daemon.request("GET", url)
                self.assertEqual((status, headers.get("content-type")), (200, content_type), url)
            # The same bytes under another extension keep their own type.
            other = url.rsplit(".", 1)[0] + ".jpg"
            status, headers, _ = self.daemon.request("GET", other)
            self.assertEqual((status, headers.get("content-type")), (200, content_type), other)

        source = "/objects/%s.mp4" % video["source"]["sha256"]
        self.assertEqual(self.daemon.request("GET", source)[0], 404)
        status, headers, body = self.daemon.request("GET", source, headers=self.daemon.auth())
        self.assertEqual((status, headers.get("content-disposition")), (200, "attachment"))

        status, _, _ = self.daemon.request("DELETE", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual(status, 204)
        for url in list(expected) + [source]:
            status, _, _ = self.daemon.request("GET", url, headers=self.daemon.auth())
            self.assertEqual(status, 404, url)
        self.assertTrue(self.objects(), "the files are still there: only their serving stopped")


class PerAddressCapTest(DaemonTestCase):
    """One address opening a hundred idle sockets (the default cap is 64 per address) cannot keep
    others out; its sockets are let go after the first byte timeout."""
    extra_args = ("--http.first_byte_timeout_s", "2")

    def connect_from(self, address):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((address, 0))
        sock.connect(("127.0.0.1", self.daemon.port))
        return sock

    def health_from(self, address):
        sock = self.connect_from(address)
        try:
            sock.settimeout(10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return int(data.split(b" ", 2)[1])
        finally:
            sock.close()

    def test_one_address_holding_idle_sockets_cannot_lock_out_another(self):
        hoarded = [self.connect_from("127.0.0.2") for _ in range(100)]
        try:
            time.sleep(0.3)
            self.assertEqual(self.health_from("127.0.0.2"), 503, "the hoarding address is over its cap")
            self.assertEqual(self.health_from("127.0.0.1"), 200, "another address is served")
            # The hoarded sockets are closed after the first byte timeout; then the address is served again.
            time.sleep(3)
            closed = 0
            for sock in hoarded:
                sock.settimeout(0.5)
                try:
                    closed += sock.recv(1) == b""
                except (socket.timeout, ConnectionResetError):
                    closed += 0
            self.assertGreaterEqual(closed, 64, "idle sockets still open after the first byte timeout")
            self.assertEqual(self.health_from("127.0.0.2"), 200)
        finally:
            for sock in hoarded:
                sock.close()
