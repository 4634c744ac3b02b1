"""Hostile input never takes the daemon down: after each request below the daemon still answers.

Text that is not UTF-8 in a path, a query, tus Upload-Metadata, a multipart part name or filename
gets a 400 whose message does not echo the bytes; a media file whose track language tag is not
UTF-8 (or would break out of an HLS attribute) is taken with the tag dropped.
"""
import base64
import json
import subprocess

from harness import DaemonTestCase, make_clip, multipart_body

TUS = {"Tus-Resumable": "1.0.0"}
BAD_BYTES = b"\xff\xfe\xc0\xaf"


class TextAtTheEdgeTest(DaemonTestCase):
    def assert_still_serving(self):
        status, body = self.daemon.json("GET", "/healthz")
        self.assertEqual(status, 200, body)

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
    def assert_still_serving(self):
        status, body = self.daemon.json("GET", "/healthz")
        self.assertEqual(status, 200, body)

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


