"""tus 1.0 conformance of /api/v1/uploads, with raw http.client requests.

Checked against https://tus.io/protocols/resumable-upload (1.0.x): core protocol and the
creation, creation-with-upload, termination, checksum and expiration extensions, plus what
docs/api.md adds (401 without a key, 423 for a second writer, the video made on the last byte).
"""
import base64
import email.utils
import hashlib
import os
import re
import socket
import time
import unittest

from harness import DaemonTestCase, make_clip, sha256_file, write_padded_mp4

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
ENDPOINT = "/api/v1/uploads"


def encode_metadata(pairs):
    """Upload-Metadata: 'key base64(value)' pairs separated by commas; a None value is a bare key."""
    parts = []
    for key, value in pairs.items():
        parts.append(key if value is None else key + " " + base64.b64encode(value.encode()).decode())
    return ",".join(parts)


def decode_metadata(header):
    result = {}
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        result[key] = base64.b64decode(value).decode() if value else None
    return result


def checksum(algorithm, data):
    return "%s %s" % (algorithm, base64.b64encode(hashlib.new(algorithm, data).digest()).decode())


def http_date_seconds(text):
    """Seconds since the epoch of an RFC 9110 HTTP-date (IMF-fixdate)."""
    parsed = email.utils.parsedate_to_datetime(text)
    return parsed.timestamp()


class TusTestCase(DaemonTestCase):
    """Helpers to speak tus to the daemon; every tus response must carry Tus-Resumable: 1.0.0."""

    def tus(self, method, path, body=None, headers=None, key=True, version="1.0.0"):
        all_headers = {}
        if version is not None:
            all_headers["Tus-Resumable"] = version
        if key:
            all_headers["Authorization"] = "Bearer " + self.daemon.key
        all_headers.update(headers or {})
        status, response_headers, data = self.daemon.request(method, path, body=body, headers=all_headers)
        self.assertEqual(response_headers.get("tus-resumable"), "1.0.0",
                         "%s %s -> %s has no Tus-Resumable: 1.0.0 (%r %r)" % (method, path, status, response_headers, data))
        return status, response_headers, data

    def create(self, length, metadata=None, body=None, headers=None):
        """POST a new upload; returns its path (/api/v1/uploads/{id}) and the response headers."""
        all_headers = {"Upload-Length": str(length)}
        if metadata is not None:
            all_headers["Upload-Metadata"] = encode_metadata(metadata)
        if body is not None:
            all_headers["Content-Type"] = OCTETS
        all_headers.update(headers or {})
        status, response_headers, data = self.tus("POST", ENDPOINT, body=body, headers=all_headers)
        self.assertEqual(status, 201, data)
        location = response_headers["location"]
        if location.startswith("http://"):
            location = "/" + location.split("/", 3)[3]
        self.assertRegex(location, r"^/api/v1/uploads/[0-9a-f]+$")
        return location, response_headers

    def patch(self, path, offset, data, headers=None, **kwargs):
        all_headers = {"Upload-Offset": str(offset), "Content-Type": OCTETS}
        all_headers.update(headers or {})
        return self.tus("PATCH", path, body=data, headers=all_headers, **kwargs)

    def head_offset(self, path):
        status, headers, _ = self.tus("HEAD", path)
        self.assertEqual(status, 200)
        return int(headers["upload-offset"])

    def part_files(self):
        directory = os.path.join(self.data_dir, "uploads")
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []

    def clip(self, name="clip.mp4", **kwargs):
        return make_clip(self.path(name), **kwargs)

    def open_patch(self, path, offset, total_length, first_part):
        """A PATCH on a raw socket: headers announcing TOTAL_LENGTH bytes, then only FIRST_PART."""
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=30)
        head = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\nUpload-Offset: %d\r\n"
                "Content-Length: %d\r\n\r\n" % (path, self.daemon.key, OCTETS, offset, total_length))
        sock.sendall(head.encode() + first_part)
        return sock

    def wait_for(self, predicate, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)


class TusProtocolTest(TusTestCase):
    def test_options_advertises_version_extensions_limits_and_checksums(self):
        """OPTIONS (no key needed) answers 204 with Tus-Version, the five extensions, Tus-Max-Size and sha1+sha256."""
        status, headers, body = self.daemon.request("OPTIONS", ENDPOINT)
        self.assertIn(status, (200, 204))
        self.assertEqual(body, b"")
        self.assertIn("1.0.0", [v.strip() for v in headers["tus-version"].split(",")])
        self.assertEqual(headers.get("tus-resumable"), "1.0.0")
        extensions = {e.strip() for e in headers["tus-extension"].split(",")}
        self.assertLessEqual({"creation", "creation-with-upload", "termination", "checksum", "expiration"}, extensions)
        self.assertEqual(int(headers["tus-max-size"]), 64 << 30)
        algorithms = {a.strip() for a in headers["tus-checksum-algorithm"].split(",")}
        self.assertLessEqual({"sha1", "sha256"}, algorithms)

    def test_creation_answers_201_with_location_and_expiry(self):
        """POST with Upload-Length and Upload-Metadata creates an upload: 201, Location, Upload-Expires in the future."""
        location, headers = self.create(1000, {"filename": "a.mp4", "title": "A"})
        expires = http_date_seconds(headers["upload-expires"])
        self.assertGreater(expires, time.time())
        self.assertEqual(self.part_files(), [location.rsplit("/", 1)[1] + ".part"])
        status, body = self.daemon.json("GET", location, headers=self.daemon.auth())
        self.assertEqual(status, 200)
        self.assertEqual((body["length"], body["offset"], body["video_id"]), (1000, 0, None))

    def test_creation_without_valid_upload_length_is_400(self):
        """Upload-Length missing, negative or not a number: 400, nothing created (no Upload-Defer-Length support)."""
        for value in (None, "-1", "ten", "1e3"):
            headers = {} if value is None else {"Upload-Length": value}
            status, _, _ = self.tus("POST", ENDPOINT, headers=headers)
            self.assertEqual(status, 400, value)
        status, _, _ = self.tus("POST", ENDPOINT, headers={"Upload-Defer-Length": "1"})
        self.assertEqual(status, 400)
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assertEqual(self.part_files(), [])

    def test_invalid_metadata_is_refused_at_creation(self):
        """Upload-Metadata that can never make a video (bad base64, a title over 500 bytes or with control
        characters, a duplicate key) is refused 400 by the POST, before any data is sent; nothing is created."""
        bad = [
            "title !!!notbase64",
            "title " + base64.b64encode(b"x" * 600).decode(),
            "title " + base64.b64encode(b"a\x01b").decode(),
            "filename " + base64.b64encode(b"a\nb.mp4").decode(),
            "title eA==,title eQ==",
        ]
        for header in bad:
            status, _, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": "1000", "Upload-Metadata": header})
            self.assertEqual(status, 400, "Upload-Metadata %r: %s %s" % (header[:40], status, body))
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assertEqual(self.part_files(), [])

    def test_zero_length_upload_is_refused(self):
        """Upload-Length: 0 is an upload complete at creation that can never be a video: refused (4xx), nothing left.

        (Answered 201 instead, tus clients report success for an upload that never becomes a video.)"""
        status, headers, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": "0", "Upload-Metadata": "title eA=="})
        self.assertIn(status, (400, 415, 422), "POST Upload-Length: 0 answered %s %r" % (status, headers))
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assertEqual(self.part_files(), [])

    def test_head_reports_offset_length_metadata_and_no_store(self):
        """HEAD: 200, Upload-Offset (0 too), Upload-Length, Upload-Metadata as created, Cache-Control: no-store."""
        metadata = {"filename": "holiday 2024.mp4", "title": "Holiday — été", "tags": "a,b", "is_draft": None}
        location, _ = self.create(1234, metadata)
        status, headers, body = self.tus("HEAD", location)
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(headers["upload-offset"], "0")
        self.assertEqual(headers["upload-length"], "1234")
        self.assertEqual(decode_metadata(headers["upload-metadata"]), metadata)
        self.assertIn("no-store", headers["cache-control"])
        self.assertGreater(http_date_seconds(headers["upload-expires"]), time.time())

    def test_head_of_unknown_upload_is_404_without_offset(self):
        """HEAD or PATCH of an upload that does not exist: 404, and no Upload-Offset header."""
        status, headers, _ = self.tus("HEAD", ENDPOINT + "/0123456789abcdef0123456789abcdef")
        self.assertEqual(status, 404)
        self.assertNotIn("upload-offset", headers)
        status, _, _ = self.patch(ENDPOINT + "/0123456789abcdef0123456789abcdef", 0, b"x")
        self.assertEqual(status, 404)

    def test_patch_appends_and_answers_new_offset(self):
        """PATCH at the current offset: 204 with the new Upload-Offset and Upload-Expires; HEAD agrees."""
        location, _ = self.create(100)
        status, headers, body = self.patch(location, 0, b"a" * 40)
        self.assertEqual(status, 204)
        self.assertEqual(body, b"")
        self.assertEqual(headers["upload-offset"], "40")
        self.assertGreater(http_date_seconds(headers["upload-expires"]), time.time())
        status, headers, _ = self.patch(location, 40, b"b" * 30)
        self.assertEqual((status, headers["upload-offset"]), (204, "70"))
        self.assertEqual(self.head_offset(location), 70)
        part = os.path.join(self.data_dir, "uploads", location.rsplit("/", 1)[1] + ".part")
        with open(part, "rb") as f:
            self.assertEqual(f.read(), b"a" * 40 + b"b" * 30)

    def test_large_patch_is_taken(self):
        """A 3 MiB PATCH (tus-js-client sends the whole file in one PATCH by default): 204 with the new offset."""
        location, _ = self.create(4 << 20)  # not complete: these bytes are no video
        data = os.urandom(3 << 20)
        # On a raw socket, so that a server answering before the whole body is sent shows its answer.
        response = self.daemon.raw(
            ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: %s\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n"
             % (location, self.daemon.key, OCTETS, len(data))).encode(),
            [data[i:i + (256 << 10)] for i in range(0, len(data), 256 << 10)])
        self.assertEqual(response.status, 204, response.body)
        self.assertEqual(response.headers["upload-offset"], str(3 << 20))
        self.assertEqual(self.head_offset(location), 3 << 20)

    def test_patches_larger_than_the_disk_backlog_arrive_intact(self):
        """Two 40 MiB PATCHes, the second resuming where the first ended, each with Upload-Checksum: the
        server pauses reading while the disk catches up (and says so), and the part file holds the exact bytes."""
        size = 40 << 20
        location, _ = self.create(3 * size)  # not complete: these bytes are no video
        first, second = os.urandom(size), os.urandom(size)
        for offset, data in ((0, first), (size, second)):
            status, headers, body = self.patch(location, offset, data, {"Upload-Checksum": checksum("sha256", data)})
            self.assertEqual((status, headers.get("upload-offset")), (204, str(offset + size)), body)
        part = os.path.join(self.data_dir, "uploads", location.rsplit("/", 1)[1] + ".part")
        self.assertEqual(sha256_file(part), hashlib.sha256(first + second).hexdigest())
        self.assertEqual(len(re.findall(r"upload: %d bytes; reading paused \d+ times" % size, self.daemon.log())), 2)

    def test_a_large_chunk_that_does_not_match_its_checksum_is_discarded(self):
        """A 12 MiB PATCH (hashed by a thread of its own) whose Upload-Checksum does not match: 460, offset 0,
        the part file cut back; the same bytes with the right checksum then arrive."""
        size = 12 << 20
        location, _ = self.create(2 * size)  # not complete: these bytes are no video
        data = os.urandom(size)
        status, _, body = self.patch(location, 0, data, {"Upload-Checksum": checksum("sha1", data[:-1] + b"x")})
        self.assertEqual(status, 460, body)
        self.assertEqual(self.head_offset(location), 0)
        part = os.path.join(self.data_dir, "uploads", location.rsplit("/", 1)[1] + ".part")
        self.assertEqual(os.path.getsize(part), 0)
        status, headers, body = self.patch(location, 0, data, {"Upload-Checksum": checksum("sha1", data)})
        self.assertEqual((status, headers.get("upload-offset")), (204, str(size)), body)
        self.assertEqual(sha256_file(part), hashlib.sha256(data).hexdigest())

    def test_creation_with_upload_answers_offset(self):
        """POST with a body (creation-with-upload): 201 with Upload-Offset = bytes taken; HEAD agrees."""
        location, headers = self.create(100, {"title": "x"}, body=b"z" * 25)
        self.assertEqual(headers["upload-offset"], "25")
        self.assertEqual(self.head_offset(location), 25)
        status, headers, _ = self.patch(location, 25, b"y" * 5)
        self.assertEqual((status, headers["upload-offset"]), (204, "30"))

    def test_creation_with_upload_of_wrong_content_type_is_415(self):
        """POST with data that is not application/offset+octet-stream: 415 and no upload is created."""
        status, _, _ = self.tus("POST", ENDPOINT, body=b"abc",
                                headers={"Upload-Length": "10", "Content-Type": "application/octet-stream"})
        self.assertEqual(status, 415)
        self.assertEqual(self.db_rows("uploads"), 0)

    def test_wrong_or_missing_tus_resumable_is_412_with_tus_version(self):
        """Every tus request but OPTIONS without Tus-Resumable: 1.0.0 is refused 412 with Tus-Version, and changes nothing."""
        location, _ = self.create(100)
        self.patch(location, 0, b"a" * 10)
        for version in (None, "0.2.2", "1.0"):
            attempts = [
                ("POST", ENDPOINT, None, {"Upload-Length": "10"}),
                ("HEAD", location, None, {}),
                ("PATCH", location, b"b" * 10, {"Upload-Offset": "10", "Content-Type": OCTETS}),
                ("DELETE", location, None, {}),
            ]
            for method, path, body, headers in attempts:
                status, response_headers, _ = self.tus(method, path, body=body, headers=headers, version=version)
                self.assertEqual(status, 412, (method, version))
                self.assertIn("1.0.0", response_headers.get("tus-version", ""), (method, version))
        self.assertEqual(self.db_rows("uploads"), 1)
        self.assertEqual(self.head_offset(location), 10)

    def test_wrong_offset_is_409_and_changes_nothing(self):
        """PATCH whose Upload-Offset is not the upload's offset: 409, the upload is unchanged."""
        location, _ = self.create(100)
        status, _, _ = self.patch(location, 5, b"x" * 5)
        self.assertEqual(status, 409)
        self.assertEqual(self.head_offset(location), 0)
        self.patch(location, 0, b"a" * 20)
        for offset in (0, 10, 21):
            status, _, _ = self.patch(location, offset, b"x" * 5)
            self.assertEqual(status, 409, offset)
        self.assertEqual(self.head_offset(location), 20)
        status, _, _ = self.patch(location, 20, b"b" * 5)
        self.assertEqual(status, 204)

    def test_missing_or_bad_upload_offset_is_400(self):
        """PATCH without Upload-Offset, or with one that is not a non-negative integer: 400."""
        location, _ = self.create(100)
        for value in (None, "-1", "abc"):
            headers = {"Content-Type": OCTETS}
            if value is not None:
                headers["Upload-Offset"] = value
            status, _, _ = self.tus("PATCH", location, body=b"x", headers=headers)
            self.assertEqual(status, 400, value)
        self.assertEqual(self.head_offset(location), 0)

    def test_wrong_content_type_is_415(self):
        """PATCH whose Content-Type is not application/offset+octet-stream (or missing): 415, nothing written."""
        location, _ = self.create(100)
        for content_type in ("application/octet-stream", "text/plain", None):
            headers = {"Upload-Offset": "0"}
            if content_type:
                headers["Content-Type"] = content_type
            status, _, _ = self.tus("PATCH", location, body=b"x" * 10, headers=headers)
            self.assertEqual(status, 415, content_type)
        self.assertEqual(self.head_offset(location), 0)

    def test_checksums_sha1_and_sha256_are_verified(self):
        """Upload-Checksum with sha1 and with sha256 matching the chunk: 204 each."""
        location, _ = self.create(100)  # not complete: these bytes are no video
        chunk1, chunk2 = os.urandom(30), os.urandom(30)
        status, headers, _ = self.patch(location, 0, chunk1, {"Upload-Checksum": checksum("sha1", chunk1)})
        self.assertEqual((status, headers["upload-offset"]), (204, "30"))
        status, headers, _ = self.patch(location, 30, chunk2, {"Upload-Checksum": checksum("sha256", chunk2)})
        self.assertEqual(status, 204)
        self.assertEqual(headers["upload-offset"], "60")

    def test_checksum_mismatch_is_460_and_discards_the_chunk(self):
        """A chunk that does not match its Upload-Checksum: 460, offset unchanged; the right chunk then completes the upload."""
        clip = self.clip()
        with open(clip, "rb") as f:
            data = f.read()
        half = len(data) // 2
        location, _ = self.create(len(data), {"filename": "clip.mp4", "title": "checksummed"})
        self.patch(location, 0, data[:half], {"Upload-Checksum": checksum("sha256", data[:half])})
        for algorithm in ("sha256", "sha1"):
            corrupted = data[half:-1] + bytes([data[-1] ^ 1])
            status, headers, body = self.patch(location, half, corrupted,
                                               {"Upload-Checksum": checksum(algorithm, data[half:])})
            self.assertEqual(status, 460, body)
            self.assertEqual(self.head_offset(location), half)
        status, headers, _ = self.patch(location, half, data[half:], {"Upload-Checksum": checksum("sha256", data[half:])})
        self.assertEqual(status, 204)
        self.assertEqual(int(headers["upload-offset"]), len(data))
        video_id = headers["cinevault-video-id"]
        with open(self.object_path(sha256_file(clip)), "rb") as f:
            self.assertEqual(f.read(), data)
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
        self.assertEqual((status, video["source"]["sha256"]), (200, sha256_file(clip)))

    def test_unsupported_or_malformed_checksum_is_400(self):
        """Upload-Checksum with an algorithm not in Tus-Checksum-Algorithm, or a malformed digest: 400, nothing written."""
        location, _ = self.create(10)
        for value in (checksum("md5", b"x" * 10), "sha256", "sha256 not-base64!", "sha1 " + base64.b64encode(b"short").decode()):
            status, _, _ = self.patch(location, 0, b"x" * 10, {"Upload-Checksum": value})
            self.assertEqual(status, 400, value)
        self.assertEqual(self.head_offset(location), 0)

    def test_data_past_upload_length_is_413(self):
        """A PATCH (or a creation-with-upload) carrying bytes past Upload-Length: 413, nothing kept."""
        location, _ = self.create(10)
        status, _, _ = self.patch(location, 0, b"x" * 11)
        self.assertEqual(status, 413)
        self.assertEqual(self.head_offset(location), 0)
        self.patch(location, 0, b"x" * 6)
        status, _, _ = self.patch(location, 6, b"y" * 5)
        self.assertEqual(status, 413)
        self.assertEqual(self.head_offset(location), 6)
        # Chunked: the length is only known as the bytes come.
        conn = self.daemon.connection()
        try:
            conn.request("PATCH", location, body=iter([b"y" * 3, b"y" * 3]), encode_chunked=True,
                         headers={**TUS, **self.daemon.auth(), "Upload-Offset": "6", "Content-Type": OCTETS,
                                  "Transfer-Encoding": "chunked"})
            response = conn.getresponse()
            response.read()
            self.assertEqual(response.status, 413)
        finally:
            conn.close()
        self.assertEqual(self.head_offset(location), 6)
        status, headers, _ = self.patch(location, 6, b"y" * 3)  # 9 of 10: not complete (these bytes are no video)
        self.assertEqual((status, headers["upload-offset"]), (204, "9"))
        status, _, _ = self.tus("POST", ENDPOINT, body=b"z" * 11, headers={"Upload-Length": "10", "Content-Type": OCTETS})
        self.assertEqual(status, 413)
        self.assertEqual(self.db_rows("uploads"), 1)

    def test_termination_removes_the_upload(self):
        """DELETE: 204; then HEAD and PATCH answer 404, and the partial file and row are gone."""
        location, _ = self.create(100)
        self.patch(location, 0, b"x" * 10)
        status, _, body = self.tus("DELETE", location)
        self.assertEqual((status, body), (204, b""))
        status, headers, _ = self.tus("HEAD", location)
        self.assertEqual(status, 404)
        self.assertNotIn("upload-offset", headers)
        status, _, _ = self.patch(location, 10, b"x")
        self.assertEqual(status, 404)
        status, _, _ = self.tus("DELETE", location)
        self.assertEqual(status, 404)
        self.assertEqual(self.part_files(), [])
        self.assertEqual(self.db_rows("uploads"), 0)

    def test_second_writer_is_423(self):
        """While one PATCH is still sending its body, a PATCH (or DELETE) from another connection is refused 423."""
        location, _ = self.create(2000)  # not complete at 1000: these bytes are no video
        data = os.urandom(1000)
        sock = self.open_patch(location, 0, 1000, data[:500])
        time.sleep(0.3)
        try:
            # A probe at a wrong offset: 423 once the first PATCH holds the upload (409 before, harmlessly).
            self.wait_for(lambda: self.patch(location, 999, b"x")[0] == 423, "the first PATCH to hold the upload")
            status, _, body = self.patch(location, 0, data)
            self.assertEqual(status, 423, body)
            status, _, _ = self.tus("DELETE", location)
            self.assertEqual(status, 423)
            sock.sendall(data[500:])
            response = sock.recv(4096).decode("latin-1")
        finally:
            sock.close()
        self.assertTrue(response.startswith("HTTP/1.1 204"), response)
        self.assertIn("upload-offset: 1000", response.lower())
        status, headers, _ = self.tus("HEAD", location)
        self.assertEqual(headers["upload-offset"], "1000")

    def test_requests_that_change_something_need_a_key(self):
        """POST, PATCH and DELETE without a key, or with a wrong one: 401 with WWW-Authenticate; nothing changes."""
        location, _ = self.create(100)
        for auth in (None, "Bearer cv_not_a_real_key"):
            extra = {} if auth is None else {"Authorization": auth}
            status, headers, _ = self.tus("POST", ENDPOINT, headers={"Upload-Length": "10", **extra}, key=False)
            self.assertEqual(status, 401)
            self.assertIn("Bearer", headers.get("www-authenticate", ""))
            status, _, _ = self.tus("PATCH", location, body=b"x" * 10, key=False,
                                    headers={"Upload-Offset": "0", "Content-Type": OCTETS, **extra})
            self.assertEqual(status, 401)
            status, _, _ = self.tus("DELETE", location, headers=extra, key=False)
            self.assertEqual(status, 401)
        self.assertEqual(self.db_rows("uploads"), 1)
        self.assertEqual(self.head_offset(location), 0)

    def test_completed_upload_makes_a_video(self):
        """The last byte makes the video: Cinevault-Video-Id on the PATCH and on HEAD, video_id in GET, the video exists."""
        clip = self.clip()
        with open(clip, "rb") as f:
            data = f.read()
        location, _ = self.create(len(data), {"filename": "beach.mp4", "title": "Beach day", "tags": "sea, sun"})
        third = len(data) // 3
        status, headers, _ = self.patch(location, 0, data[:third])
        self.assertNotIn("cinevault-video-id", headers)
        status, headers, _ = self.patch(location, third, data[third:2 * third])
        status, headers, _ = self.patch(location, 2 * third, data[2 * third:])
        self.assertEqual(status, 204)
        self.assertEqual(int(headers["upload-offset"]), len(data))
        video_id = headers["cinevault-video-id"]

        status, headers, _ = self.tus("HEAD", location)
        self.assertEqual((status, int(headers["upload-offset"])), (200, len(data)))
        self.assertEqual(headers["cinevault-video-id"], video_id)
        status, upload = self.daemon.json("GET", location, headers=self.daemon.auth())
        self.assertEqual((status, upload["video_id"], upload["offset"]), (200, video_id, len(data)))
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
        self.assertEqual(status, 200)
        self.assertEqual((video["title"], video["tags"], video["state"]), ("Beach day", ["sea", "sun"], "queued"))
        self.assertEqual(video["source"], {"sha256": sha256_file(clip), "filename": "beach.mp4"})
        self.assertEqual(sha256_file(self.object_path(sha256_file(clip))), sha256_file(clip))
        self.assertEqual(self.part_files(), [])
        # Complete: no more data is taken.
        status, _, _ = self.patch(location, len(data), b"x")
        self.assertIn(status, (409, 413))

    def test_large_patches_make_a_video_with_the_hash_of_every_byte(self):
        """Two PATCHes of 12 MiB each (large enough that the server hashes on a thread of its own, reading
        back what it wrote), the second going on from the first's running hash: the video's sha256 is the
        file's, and the stored object holds the exact bytes."""
        clip = self.clip()
        big = self.path("big.mp4")
        sha256 = write_padded_mp4(big, clip, 24 << 20)
        with open(big, "rb") as f:
            data = f.read()
        location, _ = self.create(len(data), {"filename": "big.mp4"})
        half = len(data) // 2
        self.assertEqual(self.patch(location, 0, data[:half])[0], 204)
        status, headers, body = self.patch(location, half, data[half:])
        self.assertEqual(status, 204, body)
        status, video = self.daemon.json("GET", "/api/v1/videos/" + headers["cinevault-video-id"],
                                         headers=self.daemon.auth())
        self.assertEqual((status, video["source"]["sha256"]), (200, sha256))
        self.assertEqual(sha256_file(self.object_path(sha256)), sha256)

    def test_creation_with_upload_of_the_whole_file_makes_the_video(self):
        """A POST carrying every byte (creation-with-upload): 201 with Location, Upload-Offset = length and Cinevault-Video-Id."""
        clip = self.clip()
        with open(clip, "rb") as f:
            data = f.read()
        location, headers = self.create(len(data), {"filename": "one.mp4", "title": "in one POST"}, body=data)
        self.assertEqual(int(headers["upload-offset"]), len(data))
        video_id = headers["cinevault-video-id"]
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
        self.assertEqual((status, video["title"], video["source"]["sha256"]), (200, "in one POST", sha256_file(clip)))
        self.assertEqual(self.tus("HEAD", location)[1]["cinevault-video-id"], video_id)

    def test_upload_of_known_bytes_gives_the_existing_video(self):
        """Uploading the same bytes again through tus: the last PATCH names the existing video; nothing is stored twice."""
        clip = self.clip()
        with open(clip, "rb") as f:
            data = f.read()
        first, _ = self.create(len(data), {"title": "first"})
        video_id = self.patch(first, 0, data)[1]["cinevault-video-id"]
        second, _ = self.create(len(data), {"title": "second"})
        status, headers, _ = self.patch(second, 0, data)
        self.assertEqual((status, headers["cinevault-video-id"]), (204, video_id))
        self.assertEqual(self.db_rows("videos"), 1)
        self.assertEqual(self.objects(), [sha256_file(clip)])
        self.assertEqual(self.part_files(), [])

    def test_completed_non_media_is_415_and_leaves_nothing(self):
        """An upload whose bytes are not a video: the last PATCH answers 415; the upload, its file and every row are gone."""
        data = b"this is a text file, not a video\n" * 3000
        location, _ = self.create(len(data), {"filename": "notes.mp4", "title": "not a video"})
        self.patch(location, 0, data[:50000])
        status, headers, body = self.patch(location, 50000, data[50000:])
        self.assert_error(status, headers, body, 415, "unsupported_media")
        self.assertNotIn("cinevault-video-id", headers)
        status, _, _ = self.tus("HEAD", location)
        self.assertEqual(status, 404)
        self.assertEqual(self.part_files(), [])
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assert_nothing_stored()

    def test_connection_dropped_mid_patch_keeps_the_bytes_received(self):
        """A PATCH whose connection drops after half its body: HEAD reports the bytes received; the rest completes byte-exact."""
        clip = self.clip()
        with open(clip, "rb") as f:
            data = f.read()
        location, _ = self.create(len(data), {"filename": "dropped.mp4", "title": "dropped"})
        half = len(data) // 2
        sock = self.open_patch(location, 0, len(data), data[:half])
        time.sleep(0.2)
        sock.shutdown(socket.SHUT_WR)
        sock.close()
        self.wait_for(lambda: self.head_offset(location) == half, "HEAD to report the %d bytes received" % half)
        status, headers, _ = self.patch(location, half, data[half:])
        self.assertEqual(status, 204)
        self.assertIn("cinevault-video-id", headers)
        self.assertEqual(sha256_file(self.object_path(sha256_file(clip))), sha256_file(clip))

    def test_expired_upload_is_410(self):
        """An upload past its Upload-Expires answers 410 Gone to HEAD and PATCH."""
        location, _ = self.create(100)
        upload_id = location.rsplit("/", 1)[1]
        self.db_query("UPDATE uploads SET expires_at = 1000 WHERE id = '%s'" % upload_id)
        status, headers, _ = self.tus("HEAD", location)
        self.assertEqual(status, 410)
        self.assertNotIn("upload-offset", headers)
        status, _, _ = self.patch(location, 0, b"x")
        self.assertEqual(status, 410)

    def test_default_expiry_is_a_day(self):
        """With the default uploads.expire_after_hours (24), Upload-Expires is about a day ahead."""
        _, headers = self.create(100)
        ahead = http_date_seconds(headers["upload-expires"]) - time.time()
        self.assertAlmostEqual(ahead, 24 * 3600, delta=120)


class TusMaxSizeTest(TusTestCase):
    extra_args = ("--uploads.max_upload_bytes", "1000000")

    def test_upload_length_over_max_size_is_413(self):
        """Tus-Max-Size follows uploads.max_upload_bytes; an Upload-Length over it is 413, at it is 201."""
        status, headers, _ = self.daemon.request("OPTIONS", ENDPOINT)
        self.assertEqual(headers["tus-max-size"], "1000000")
        status, _, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": "1000001"})
        self.assertEqual(status, 413, body)
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assertEqual(self.part_files(), [])
        self.create(1000000)


class TusExpirationTest(TusTestCase):
    extra_args = ("--uploads.expire_after_hours", "1")

    def test_upload_expires_follows_the_setting(self):
        """With uploads.expire_after_hours 1, Upload-Expires (an HTTP-date) is about an hour ahead on POST, PATCH and HEAD."""
        location, headers = self.create(100)
        self.assertRegex(headers["upload-expires"], r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$")
        self.assertAlmostEqual(http_date_seconds(headers["upload-expires"]) - time.time(), 3600, delta=60)
        status, headers, _ = self.patch(location, 0, b"x" * 10)
        self.assertAlmostEqual(http_date_seconds(headers["upload-expires"]) - time.time(), 3600, delta=60)
        status, headers, _ = self.tus("HEAD", location)
        self.assertAlmostEqual(http_date_seconds(headers["upload-expires"]) - time.time(), 3600, delta=60)


if __name__ == "__main__":
    unittest.main()
