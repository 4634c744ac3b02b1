"""Bad input gets a clear status and JSON error, and changes nothing.

Refused uploads must leave no videos row, no jobs row, no object (row or file) and no staging
file; media files that point elsewhere (playlists, concat scripts) must never be followed.
"""
import os
import socket
import subprocess
import time
import unittest

from harness import DaemonTestCase, make_audio_only, make_clip, multipart_body


class BadMediaTest(DaemonTestCase):
    def upload_bytes(self, name, data, query=""):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return self.daemon.upload(path, query)

    def test_text_file_is_415(self):
        """A text file is not media: 415 unsupported_media."""
        status, headers, body = self.upload_bytes("notes.txt", b"Shopping list\n- milk\n- eggs\n" * 100)
        self.assert_error(status, headers, body, 415, "unsupported_media", "not a video")
        self.assert_nothing_stored()

    def test_empty_body_is_400(self):
        """An upload with no bytes at all is a malformed request: 400."""
        status, headers, body = self.upload_bytes("empty.mp4", b"")
        self.assert_error(status, headers, body, 400, "invalid_argument", "empty")
        self.assert_nothing_stored()

    def test_truncated_mp4_is_422(self):
        """An mp4 cut in half (its moov box, at the end, lost) is 422 saying it is truncated or damaged."""
        clip = make_clip(self.path("whole.mp4"))
        with open(clip, "rb") as f:
            data = f.read()
        status, headers, body = self.upload_bytes("half.mp4", data[:len(data) // 2])
        message = self.assert_error(status, headers, body, 422, "unprocessable")
        self.assertRegex(message.lower(), "truncated|damaged")
        self.assert_nothing_stored()

    def test_hls_playlist_is_refused_and_never_fetched(self):
        """An .m3u8 whose segment is on a local listening socket: 415, and the server never connects to it."""
        trap = socket.socket()
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        try:
            url = "http://127.0.0.1:%d/segment0.ts" % trap.getsockname()[1]
            playlist = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
                        "#EXTINF:2.0,\n%s\n#EXTINF:2.0,\n%s\n#EXT-X-ENDLIST\n" % (url, url)).encode()
            status, headers, body = self.upload_bytes("playlist.m3u8", playlist, "filename=playlist.m3u8")
            trap.setblocking(False)
            with self.assertRaises(BlockingIOError, msg="the server connected to the playlist's segment URL"):
                trap.accept()[0].close()
        finally:
            trap.close()
        self.assert_error(status, headers, body, 415, "unsupported_media", "playlist")
        self.assert_nothing_stored()

    def test_concat_script_reading_a_local_file_is_refused(self):
        """An ffconcat script naming /etc/passwd is not a video: 415, nothing read or stored."""
        script = b"ffconcat version 1.0\nfile /etc/passwd\nfile 'file:/etc/passwd'\n"
        status, headers, body = self.upload_bytes("list.ffconcat", script, "filename=list.ffconcat")
        message = self.assert_error(status, headers, body, 415, "unsupported_media", "concat")
        self.assertNotIn("root:", message)
        self.assert_nothing_stored()

    def test_audio_only_file_is_422_no_video_stream(self):
        """An audio-only mp4 is media, but not a video: 422 "no video stream"."""
        audio = make_audio_only(self.path("song.m4a"))
        status, headers, body = self.daemon.upload(audio, "title=Song")
        self.assert_error(status, headers, body, 422, "unprocessable", "no video stream")
        self.assert_nothing_stored()

    def test_multipart_without_file_part_is_400(self):
        """A form without a `file` part is refused 400 naming the missing part."""
        content_type, form = multipart_body({"title": "Nothing"})
        status, headers, body = self.daemon.request("POST", "/api/v1/videos", form,
                                                    self.daemon.auth({"Content-Type": content_type}))
        self.assert_error(status, headers, body, 400, "invalid_argument", "file")
        self.assert_nothing_stored()

    def test_multipart_with_unknown_field_is_400(self):
        """A form field other than file, title, description and tags is refused 400 naming the ones it takes."""
        clip = make_clip(self.path("clip.mp4"))
        content_type, form = multipart_body({"title": "x", "owner": "root"}, ("file", "clip.mp4", clip))
        status, headers, body = self.daemon.request("POST", "/api/v1/videos", form,
                                                    self.daemon.auth({"Content-Type": content_type}))
        self.assert_error(status, headers, body, 400, "invalid_argument", "unknown form field", "title")
        self.assert_nothing_stored()

    def test_bad_metadata_is_400_after_the_body(self):
        """Titles with control characters or over 500 bytes, over 50 tags, a tag over 100 bytes, or text that is
        not UTF-8 are 400, and the staged body is removed."""
        clip = make_clip(self.path("clip.mp4"))
        for query in ("title=a%01b", "title=" + "x" * 501, "tags=" + ",".join("t%d" % i for i in range(51)),
                      "tags=ok," + "t" * 101,
                      "title=%FF%FE", "filename=a%0Ab.mp4"):
            status, headers, body = self.daemon.upload(clip, query)
            with self.subTest(query=query[:40]):
                self.assert_error(status, headers, body, 400, "invalid_argument")
                self.assert_nothing_stored()

    def test_interrupted_upload_leaves_nothing(self):
        """A client that sends half of the body and disconnects leaves no staging file, row or object."""
        clip = make_clip(self.path("clip.mp4"))
        with open(clip, "rb") as f:
            data = f.read()
        sock = socket.create_connection(("127.0.0.1", self.daemon.port))
        sock.sendall(b"PUT /api/v1/videos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                     b"Content-Length: %d\r\n\r\n" % (self.daemon.key.encode(), len(data)) + data[:len(data) // 2])
        # The server has opened a staging file once it has read some of the body.
        deadline = time.time() + 10
        while not self.temp_files() and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(self.temp_files(), "the upload was never staged")
        sock.close()
        while self.temp_files() and time.time() < deadline:
            time.sleep(0.05)
        self.assert_nothing_stored()

    def test_multipart_of_text_file_is_415(self):
        """The multipart route refuses non-media the same way as PUT: 415, nothing left."""
        path = self.path("notes.txt")
        with open(path, "w") as f:
            f.write("not a video\n" * 1000)
        content_type, form = multipart_body({"title": "Notes"}, ("file", "notes.txt", path))
        status, headers, body = self.daemon.request("POST", "/api/v1/videos", form,
                                                    self.daemon.auth({"Content-Type": content_type}))
        self.assert_error(status, headers, body, 415, "unsupported_media")
        self.assert_nothing_stored()


# Matroska, AVI and Windows Media as their usual tools write them: (extension, codec arguments,
# libavformat's demuxer name).
CONTAINERS = (
    ("mkv", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"], "matroska,webm"),
    ("avi", ["-c:v", "mpeg4", "-c:a", "libmp3lame"], "avi"),
    ("wmv", ["-c:v", "wmv2", "-c:a", "wmav2"], "asf"),
)


def make_container_clip(path, codecs, output=None):
    """A 2 s clip with stereo sound, written to PATH, or to stdout redirected to PATH when OUTPUT is "-"
    (a pipe: the muxer cannot go back to write lengths or an index, as in a live recording)."""
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-ac", "2", *codecs]
    if output == "-":
        with open(path, "wb") as out:
            subprocess.run(args + ["-f", "matroska", "-"], stdout=out, check=True)
    else:
        subprocess.run(args + [path], check=True)
    return path


class TruncatedContainerTest(DaemonTestCase):
    """A Matroska, AVI or WMV file cut short reads without an error up to the cut: it must still be
    refused at upload time (422), not become a job that fails or a video that stops early."""

    def upload_cut(self, name, data, size):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data[:size])
        return self.daemon.upload(path)

    def test_truncated_mkv_avi_and_wmv_are_422(self):
        """Cut in half or by its last byte, each is 422 unprocessable saying the file is truncated."""
        for extension, codecs, _ in CONTAINERS:
            with open(make_container_clip(self.path("whole." + extension), codecs), "rb") as f:
                data = f.read()
            for size in (len(data) // 2, len(data) - 1):
                with self.subTest(container=extension, size=size, of=len(data)):
                    status, headers, body = self.upload_cut("cut." + extension, data, size)
                    self.assert_error(status, headers, body, 422, "unprocessable", "truncated")
                    self.assert_nothing_stored()

    def test_complete_mkv_avi_and_wmv_are_accepted(self):
        """The same files whole are accepted (201) and probed as their container."""
        for extension, codecs, container in CONTAINERS:
            with self.subTest(container=extension):
                clip = make_container_clip(self.path("whole." + extension), codecs)
                status, _, body = self.daemon.upload(clip)
                self.assertEqual(status, 201, body)
                self.assertEqual(body["media"]["container"], container)
                self.assertAlmostEqual(body["media"]["duration_s"], 2.0, delta=0.1)

    def test_live_recorded_mkv_without_length_or_index_is_accepted(self):
        """An mkv written to a pipe (unknown segment size, no cues, no duration) is a valid file: 201."""
        clip = make_container_clip(self.path("live.mkv"), CONTAINERS[0][1], output="-")
        status, _, body = self.daemon.upload(clip)
        self.assertEqual(status, 201, body)
        self.assertEqual(body["media"]["container"], "matroska,webm")


class DurationLimitTest(DaemonTestCase):
    extra_args = ("--media.max_duration_s", "1")

    def test_clip_longer_than_the_limit_is_422_too_long(self):
        """With media.max_duration_s 1, a 2 s clip is 422 naming "too long"."""
        clip = make_clip(self.path("clip.mp4"))
        status, headers, body = self.daemon.upload(clip)
        self.assert_error(status, headers, body, 422, "unprocessable", "too long")
        self.assert_nothing_stored()


class AuthTest(DaemonTestCase):
    def assert_unauthorized(self, status, headers, body):
        self.assert_error(status, headers, body, 401, "unauthorized")
        self.assertEqual(headers.get("www-authenticate"), "Bearer")

    def gc_with(self, key):
        """A cheap request that needs a key."""
        return self.daemon.request("POST", "/api/v1/admin/gc", headers={"Authorization": "Bearer " + key})

    def test_upload_without_key_is_401(self):
        """An upload with no Authorization header: 401 with WWW-Authenticate: Bearer, nothing stored."""
        clip = make_clip(self.path("clip.mp4"))
        status, headers, body = self.daemon.upload(clip, key=False)
        self.assert_unauthorized(status, headers, body)
        self.assert_nothing_stored()

    def test_wrong_key_is_401(self):
        """A made-up key, and a non-Bearer scheme, are 401; the request changes nothing."""
        clip = make_clip(self.path("clip.mp4"))
        status, headers, video = self.daemon.upload(clip)
        self.assertEqual(status, 201, video)
        for authorization in ("Bearer cv_" + "0" * 64, "Bearer " + self.daemon.key + "x", "Basic " + self.daemon.key):
            status, headers, body = self.daemon.request("DELETE", "/api/v1/videos/" + video["id"],
                                                        headers={"Authorization": authorization})
            self.assert_unauthorized(status, headers, body)
        status, headers, body = self.daemon.request("DELETE", "/api/v1/videos/" + video["id"])
        self.assert_unauthorized(status, headers, body)
        self.assertEqual(self.db_rows("videos"), 1)

    def test_revoked_key_is_401_and_a_new_key_works(self):
        """`cinevault keys revoke ID` while the daemon runs makes that key 401; `keys create` makes one that works."""
        created = self.daemon.cli("keys", "create", "laptop")
        self.assertEqual(created.returncode, 0, created.stderr)
        laptop = created.stdout.strip()
        self.assertTrue(laptop.startswith("cv_"))
        self.assertNotIn(laptop, created.stderr)  # the secret goes to stdout only
        self.assertEqual(self.gc_with(laptop)[0], 200)

        listed = self.daemon.cli("keys", "list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertNotIn(laptop, listed.stdout)  # only its hash is kept
        key_id = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line.split()[1:2] == ["laptop"]]
        self.assertEqual(len(key_id), 1, listed.stdout)

        revoked = self.daemon.cli("keys", "revoke", key_id[0])
        self.assertEqual(revoked.returncode, 0, revoked.stderr)
        status, headers, body = self.gc_with(laptop)
        self.assert_unauthorized(status, headers, body)
        # Revoking twice says there is no such live key.
        self.assertNotEqual(self.daemon.cli("keys", "revoke", key_id[0]).returncode, 0)

        created = self.daemon.cli("keys", "create", "phone")
        self.assertEqual(created.returncode, 0, created.stderr)
        phone = created.stdout.strip()
        self.assertNotEqual(phone, laptop)
        self.assertEqual(self.gc_with(phone)[0], 200)
        self.assertEqual(self.gc_with(self.daemon.key)[0], 200)  # the admin key is untouched


class RequestLimitTest(DaemonTestCase):
    def test_oversized_headers_are_431(self):
        """A 40 KB header field (over http.max_header_bytes, 16 KiB) is 431 header_too_large."""
        response = self.daemon.raw(b"GET /api/v1/videos HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
        self.assert_error(response.status, response.headers, response.body, 431, "header_too_large")
        self.assertTrue(response.closed)

    def test_long_url_is_414(self):
        """A request target longer than http.max_url_bytes (4096) is 414 uri_too_long."""
        status, headers, body = self.daemon.request("GET", "/api/v1/videos?cursor=" + "a" * 5000)
        self.assert_error(status, headers, body, 414, "uri_too_long")

    def test_dot_segments_are_400(self):
        """`..` in the path, plain or percent-encoded, and an encoded slash are 400, never a file outside."""
        for target in (b"/api/v1/../../etc/passwd", b"/api/v1/%2e%2e/%2e%2e/etc/passwd", b"/objects/%2E%2E/%2e%2E/etc/passwd",
                       b"/objects/..%2f..%2fetc%2fpasswd", b"/api/v1/videos/./x"):
            response = self.daemon.raw(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            with self.subTest(target=target):
                self.assert_error(response.status, response.headers, response.body, 400, "invalid_argument")
                self.assertNotIn(b"root:", response.body)

    def test_patch_with_bad_json_or_fields_is_400_and_changes_nothing(self):
        """PATCH with invalid JSON, an unknown field, an empty title or wrong types: 400, video unchanged."""
        clip = make_clip(self.path("clip.mp4"))
        status, _, video = self.daemon.upload(clip, "title=Original&tags=a,b")
        self.assertEqual(status, 201, video)
        path = "/api/v1/videos/" + video["id"]
        cases = [
            (b'{"title": "Half', "json"),
            (b"[]", "object"),
            (b'{"state": "ready"}', "state"),
            (b'{"title": ""}', "title"),
            (b'{"title": 5}', "title"),
            (b'{"tags": "a,b"}', "tags"),
            (b'{"tags": ["ok", 3]}', "tags"),
            (b'{"description": null}', "description"),
        ]
        for body, word in cases:
            status, headers, data = self.daemon.request("PATCH", path, body,
                                                        self.daemon.auth({"Content-Type": "application/json"}))
            with self.subTest(body=body):
                self.assert_error(status, headers, data, 400, "invalid_argument", word)
        status, after = self.daemon.json("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual((after["title"], after["description"], after["tags"], after["updated_at"]),
                         (video["title"], video["description"], video["tags"], video["updated_at"]))


class UploadSizeLimitTest(DaemonTestCase):
    extra_args = ("--uploads.max_upload_bytes", "100000")
    SIZE = 200_000

    def put_header(self, extra):
        return (b"PUT /api/v1/videos?title=Big HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                + self.daemon.key.encode() + b"\r\n" + extra + b"\r\n")

    def assert_refused_too_large(self, response):
        self.assert_error(response.status, response.headers, response.body, 413, "too_large")
        self.assertTrue(response.closed, "the connection must be closed after a 413")
        self.assert_nothing_stored()

    def test_declared_length_over_the_limit_is_413_before_the_body(self):
        """Content-Length 200 kB with Expect: 100-continue: 413 at once, the body is never sent."""
        response = self.daemon.raw(self.put_header(b"Content-Length: %d\r\nExpect: 100-continue\r\n" % self.SIZE))
        self.assert_refused_too_large(response)

    def test_body_over_the_limit_is_413(self):
        """Content-Length 200 kB with the body sent at once: 413, connection closed, nothing left."""
        body = os.urandom(self.SIZE)
        response = self.daemon.raw(self.put_header(b"Content-Length: %d\r\n" % self.SIZE),
                                   [body[i:i + 16384] for i in range(0, len(body), 16384)])
        self.assert_refused_too_large(response)

    def test_chunked_body_over_the_limit_is_413(self):
        """A chunked body (no length known up front) that grows past the limit: 413, staging file removed."""
        data = os.urandom(self.SIZE)
        chunks = [b"%x\r\n%s\r\n" % (len(data[i:i + 16384]), data[i:i + 16384]) for i in range(0, len(data), 16384)]
        response = self.daemon.raw(self.put_header(b"Transfer-Encoding: chunked\r\n"), chunks + [b"0\r\n\r\n"])
        self.assert_refused_too_large(response)

    def test_multipart_file_over_the_limit_is_413(self):
        """A multipart form whose file part is over the limit: 413, staging file removed."""
        path = self.path("big.mp4")
        with open(path, "wb") as f:
            f.write(os.urandom(self.SIZE))
        content_type, form = multipart_body({"title": "Big"}, ("file", "big.mp4", path))
        header = (b"POST /api/v1/videos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + self.daemon.key.encode()
                  + b"\r\nContent-Type: " + content_type.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(form))
        response = self.daemon.raw(header, [form[i:i + 16384] for i in range(0, len(form), 16384)])
        self.assert_refused_too_large(response)

    def test_upload_under_the_limit_still_works(self):
        """The limit refuses only what is over it: a small clip is accepted."""
        clip = make_clip(self.path("small.mp4"), seconds=1, size="160x90")
        self.assertLess(os.path.getsize(clip), 100_000)
        status, _, video = self.daemon.upload(clip)
        self.assertEqual(status, 201, video)


if __name__ == "__main__":
    unittest.main()
