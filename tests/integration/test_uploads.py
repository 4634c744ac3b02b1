"""One-shot uploads (PUT raw body, POST multipart): stored by content hash, probed, queued.

Every accepted upload must leave exactly one object file (the uploaded bytes, named by their
SHA-256), one videos row, one queued job and no staging file; identical bytes are stored once.
"""
import filecmp
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import unittest

from harness import DaemonTestCase, make_clip, multipart_body, sha256_file, write_padded_mp4

GIB = 1 << 30
# The daemon is built with ASan (shadow memory, quarantine): generous, but far below the
# 1 GiB that holding the upload in memory would cost.
PEAK_RSS_LIMIT_KIB = 300 * 1024


class UploadTestCase(DaemonTestCase):
    def clip(self, name="clip.mp4", **kwargs):
        return make_clip(self.path(name), **kwargs)

    def curl(self, command):
        """Runs a shell command line (curl as a user types it) in the scratch directory, which holds data/."""
        command = command.replace("127.0.0.1:8080", "127.0.0.1:%d" % self.daemon.port)
        return subprocess.run(["sh", "-c", command], cwd=self.tmp, capture_output=True, timeout=120)

    def post_form(self, fields, file_part):
        content_type, body = multipart_body(fields, file_part)
        status, headers, data = self.daemon.request("POST", "/api/v1/videos", body,
                                                    self.daemon.auth({"Content-Type": content_type}))
        return status, headers, (json.loads(data) if data else None)

    def assert_created(self, status, headers, video):
        self.assertEqual(status, 201, video)
        self.assertFalse(video["duplicate"])
        self.assertEqual(headers["location"], "/api/v1/videos/" + video["id"])
        # The Location leads to the same video.
        status, fetched = self.daemon.json("GET", headers["location"])
        self.assertEqual(status, 200)
        self.assertEqual(fetched["id"], video["id"])
        self.assertEqual(fetched["media"], video["media"])

    def assert_stored(self, video, clip_path):
        """The video is queued, probed, and stored once: object file, rows, no staging file."""
        self.assertEqual(video["state"], "queued")
        sha256 = sha256_file(clip_path)
        self.assertEqual(video["source"]["sha256"], sha256)

        media = video["media"]
        self.assertIn("mp4", media["container"])
        self.assertAlmostEqual(media["duration_s"], 2.0, delta=0.1)
        self.assertEqual(media["size_bytes"], os.path.getsize(clip_path))
        videos = [s for s in media["streams"] if s["type"] == "video"]
        audios = [s for s in media["streams"] if s["type"] == "audio"]
        self.assertEqual(len(videos), 1, media)
        self.assertEqual(len(audios), 1, media)
        self.assertEqual((videos[0]["codec"], videos[0]["width"], videos[0]["height"]), ("h264", 320, 180))
        self.assertAlmostEqual(videos[0]["frame_rate"], 25.0, places=3)
        self.assertEqual(videos[0]["frame_rate_exact"], "25/1")
        self.assertEqual((audios[0]["codec"], audios[0]["channels"]), ("aac", 2))

        # The object: at data/objects/ab/cd/<sha256>, holding exactly the uploaded bytes.
        self.assertEqual(self.objects(), [sha256])
        self.assertTrue(filecmp.cmp(self.object_path(sha256), clip_path, shallow=False))
        self.assertEqual(self.db_query("SELECT sha256, size, kind FROM objects"),
                         [{"sha256": sha256, "size": os.path.getsize(clip_path), "kind": "source"}])
        # One video row and its queued transcode job, in the database itself.
        self.assertEqual(self.db_query("SELECT id, state, source_sha256 FROM videos"),
                         [{"id": video["id"], "state": "queued", "source_sha256": sha256}])
        self.assertEqual(self.db_query("SELECT video_id, state FROM jobs"), [{"video_id": video["id"], "state": "queued"}])
        self.assertEqual(self.temp_files(), [])


class RawPutTest(UploadTestCase):
    def test_put_raw_body_is_stored_probed_and_queued(self):
        """PUT /api/v1/videos?title=… with the file as the body: 201, probed facts, one object, one row, one job."""
        clip = self.clip(extra=("-metadata:s:a:0", "language=eng"))
        status, headers, video = self.daemon.upload(clip, "title=My%20movie&description=Summer&tags=family,%202024")
        self.assert_created(status, headers, video)
        self.assertEqual(video["title"], "My movie")
        self.assertEqual(video["description"], "Summer")
        self.assertEqual(video["tags"], ["family", "2024"])
        audio = [s for s in video["media"]["streams"] if s["type"] == "audio"][0]
        self.assertEqual(audio["language"], "eng")
        self.assertEqual(audio["sample_rate"], 48000)
        self.assert_stored(video, clip)

    def test_put_with_curl_as_in_the_api_docs(self):
        """The `curl -T movie.mp4 …?title=My%20movie` line of docs/api.md uploads a video."""
        clip = self.clip("movie.mp4")
        result = self.curl("curl -T movie.mp4 -H \"Authorization: Bearer $(cat data/admin.key)\" \\\n"
                           "  'http://127.0.0.1:8080/api/v1/videos?title=My%20movie'")
        self.assertEqual(result.returncode, 0, result.stderr)
        video = json.loads(result.stdout)
        self.assertFalse(video["duplicate"], video)  # a new video: the 201 path
        self.assertEqual(video["title"], "My movie")
        self.assert_stored(video, clip)

    def test_put_title_defaults_to_filename_then_untitled(self):
        """Without a title, PUT makes one from the `filename` parameter (words split at dots and
        underscores), else "Untitled"."""
        named = self.clip("a.mp4", pattern="smptebars")
        status, headers, video = self.daemon.upload(named, "filename=Beach%20day.final.mp4")
        self.assert_created(status, headers, video)
        self.assertEqual(video["title"], "Beach day final")
        self.assertEqual(video["source"]["filename"], "Beach day.final.mp4")

        unnamed = self.clip("b.mp4")
        status, headers, video = self.daemon.upload(unnamed)
        self.assert_created(status, headers, video)
        self.assertEqual(video["title"], "Untitled")
        self.assertEqual(self.db_rows("videos"), 2)

    def test_put_of_several_mib_with_content_length(self):
        """A video of a few MiB (more than any in-memory buffer) sent with Content-Length is stored whole."""
        clip = self.clip()
        big = self.path("padded.mp4")
        sha256 = write_padded_mp4(big, clip, 5 << 20)
        status, headers, video = self.daemon.upload(big, "title=Padded")
        self.assert_created(status, headers, video)
        self.assertEqual(video["source"]["sha256"], sha256)
        self.assertEqual(video["media"]["size_bytes"], 5 << 20)
        self.assertEqual(self.objects(), [sha256])
        self.assertTrue(filecmp.cmp(self.object_path(sha256), big, shallow=False))
        self.assertEqual(self.temp_files(), [])

    def test_identical_bytes_are_a_duplicate_stored_once(self):
        """Uploading the same bytes again answers 200, duplicate: true, the first video; nothing new is stored."""
        clip = self.clip()
        status, headers, first = self.daemon.upload(clip, "title=First")
        self.assert_created(status, headers, first)

        status, headers, again = self.daemon.upload(clip, "title=Second")
        self.assertEqual(status, 200, again)
        self.assertTrue(again["duplicate"])
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(again["title"], "First")  # the existing video, not a new one
        self.assertEqual(headers["location"], "/api/v1/videos/" + first["id"])

        # The same bytes through the multipart route are the same video too.
        status, _, form = self.post_form({"title": "Third"}, ("file", "clip.mp4", clip))
        self.assertEqual(status, 200, form)
        self.assertTrue(form["duplicate"])
        self.assertEqual(form["id"], first["id"])

        self.assertEqual(self.db_rows("jobs"), 1)
        self.assert_stored(first, clip)

    def test_concurrent_identical_uploads_make_one_video(self):
        """The same bytes uploaded four times at once (a double-clicked upload button): one video, created once.

        One answer is 201, the others 200 with duplicate: true and the same id; one row, one job, one object."""
        clip = self.clip()
        results = [None] * 4

        def upload(i):
            results[i] = self.daemon.upload(clip, "title=Copy%20" + str(i))

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(results))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(status for status, _, _ in results)
        ids = {video["id"] for _, _, video in results if video and "id" in video}
        self.assertEqual(statuses, [200, 200, 200, 201], [video for _, _, video in results])
        self.assertEqual(len(ids), 1, ids)
        self.assertEqual(self.db_rows("videos"), 1)
        self.assertEqual(self.db_rows("jobs"), 1)
        self.assertEqual(self.objects(), [sha256_file(clip)])
        self.assertEqual(self.temp_files(), [])

    def test_chunked_upload_from_stdin_with_curl(self):
        """`curl -T -` reads stdin and sends Transfer-Encoding: chunked (no length known): stored all the same."""
        clip = self.clip()
        with open(clip, "rb") as stdin:
            result = subprocess.run(
                ["curl", "-sS", "-v", "-T", "-", "-H", "Authorization: Bearer " + self.daemon.key,
                 "-w", "\n%{http_code}", "http://127.0.0.1:%d/api/v1/videos?title=Piped" % self.daemon.port],
                stdin=stdin, capture_output=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"transfer-encoding: chunked", result.stderr.lower())  # curl really sent it chunked
        body, _, code = result.stdout.rpartition(b"\n")
        video = json.loads(body)
        self.assertEqual(int(code), 201, video)
        self.assertEqual(video["title"], "Piped")
        self.assert_stored(video, clip)


class MultipartTest(UploadTestCase):
    def test_multipart_post_with_all_fields(self):
        """POST multipart with file, title, description and tags: 201 and every field kept."""
        clip = self.clip()
        status, headers, video = self.post_form(
            {"title": "Holiday", "description": "Two seconds\nof bars", "tags": "family, 2024 ,beach"},
            ("file", "holiday.mp4", clip))
        self.assert_created(status, headers, video)
        self.assertEqual(video["title"], "Holiday")
        self.assertEqual(video["description"], "Two seconds\nof bars")
        self.assertEqual(video["tags"], ["family", "2024", "beach"])
        self.assertEqual(video["source"]["filename"], "holiday.mp4")
        self.assert_stored(video, clip)

    def test_multipart_title_defaults_to_filename_without_extension(self):
        """With no title part the title comes from the uploaded file's name: a year after the
        words goes in parentheses."""
        clip = self.clip()
        status, headers, video = self.post_form({}, ("file", "summer_2024.mp4", clip))
        self.assert_created(status, headers, video)
        self.assertEqual(video["title"], "summer (2024)")
        self.assertEqual(video["tags"], [])
        self.assert_stored(video, clip)

    def test_multipart_with_curl_as_in_the_api_docs(self):
        """The `curl -F file=@movie.mp4 -F title=… -F tags=…` line of docs/api.md uploads a video."""
        clip = self.clip("movie.mp4")
        result = self.curl("curl -F file=@movie.mp4 -F title='My movie' -F tags=family,2024 \\\n"
                           "  -H \"Authorization: Bearer $(cat data/admin.key)\" http://127.0.0.1:8080/api/v1/videos")
        self.assertEqual(result.returncode, 0, result.stderr)
        video = json.loads(result.stdout)
        self.assertFalse(video["duplicate"], video)
        self.assertEqual(video["title"], "My movie")
        self.assertEqual(video["tags"], ["family", "2024"])
        self.assertEqual(video["source"]["filename"], "movie.mp4")
        self.assert_stored(video, clip)

    def test_multipart_larger_than_the_disk_backlog_arrives_intact(self):
        """A 40 MiB file part is more than the server lets pile up ahead of the disk: it pauses reading
        the body while the disk catches up (and says so), and the stored object is still the exact bytes."""
        big = self.path("big.mp4")
        write_padded_mp4(big, self.clip(), 40 << 20)
        status, headers, video = self.post_form({"title": "Big"}, ("file", "big.mp4", big))
        self.assert_created(status, headers, video)
        self.assert_stored(video, big)
        self.assertRegex(self.daemon.log(), r"upload: %d bytes; reading paused \d+ times" % (40 << 20))


def write_random_file(path, size):
    """SIZE random bytes (not media), written in blocks."""
    block = 8 << 20
    with open(path, "wb") as f:
        for offset in range(0, size, block):
            f.write(os.urandom(min(block, size - offset)))


class LargeUploadTest(UploadTestCase):
    def report(self, what, started, peak_kib):
        print("\n  %s: %.1f s, daemon peak RSS (VmHWM) %.1f MiB" % (what, time.time() - started, peak_kib / 1024),
              file=sys.stderr)

    def test_1gib_non_media_is_streamed_and_refused_with_bounded_memory(self):
        """A 1 GiB random file is streamed, hashed and probed without holding it in memory, then refused 415."""
        big = self.path("random.bin")
        write_random_file(big, GIB)
        try:
            started = time.time()
            status, headers, body = self.daemon.upload(big, "title=Noise")
            peak = self.daemon.peak_rss_kib()
        finally:
            os.remove(big)
        self.report("1 GiB random upload", started, peak)
        self.assert_error(status, headers, body, 415, "unsupported_media")
        self.assertLess(peak, PEAK_RSS_LIMIT_KIB)
        self.assert_nothing_stored()

    def test_1gib_video_is_accepted_with_bounded_memory(self):
        """A 1 GiB valid mp4 is streamed to the store (201, identical bytes) without holding it in memory."""
        clip = self.clip()
        big = self.path("big.mp4")
        sha256 = write_padded_mp4(big, clip, GIB)
        try:
            started = time.time()
            status, headers, video = self.daemon.upload(big, "title=Big")
            peak = self.daemon.peak_rss_kib()
        finally:
            os.remove(big)
        self.report("1 GiB mp4 upload", started, peak)
        self.assert_created(status, headers, video)
        self.assertEqual(video["source"]["sha256"], sha256)
        self.assertEqual(video["media"]["size_bytes"], GIB)
        self.assertAlmostEqual(video["media"]["duration_s"], 2.0, delta=0.1)
        self.assertLess(peak, PEAK_RSS_LIMIT_KIB)
        # The stored object is the uploaded bytes: its content hashes to its name.
        self.assertEqual(self.objects(), [sha256])
        self.assertEqual(os.path.getsize(self.object_path(sha256)), GIB)
        self.assertEqual(sha256_file(self.object_path(sha256)), sha256)
        self.assertEqual(self.db_rows("videos"), 1)
        # It came faster than the disk writes: reading paused, and what was written was flushed
        # every 64 MiB on the way, so that the fsync before the 201 had little left.
        self.assertRegex(self.daemon.log(), r"upload: %d bytes; reading paused \d+ times .*, [1-9]\d* flushes" % GIB)
        self.assertEqual(self.temp_files(), [])

    def test_mkv_with_a_huge_attachment_is_probed_with_bounded_memory(self):
        """A valid mkv carrying a 250 MiB attachment (mkv attachments are usually fonts): probing it must
        not load the attachment into memory. Either stored (201) or refused cleanly (422); memory stays bounded."""
        clip = self.clip()
        attachment = self.path("attachment.bin")
        with open(attachment, "wb") as f:
            f.truncate(250 << 20)
        big = self.path("fonts.mkv")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", clip, "-attach", attachment,
                        "-metadata:s:t", "mimetype=application/octet-stream", "-c", "copy", big], check=True)
        os.remove(attachment)
        try:
            started = time.time()
            status, headers, body = self.daemon.upload(big, "title=Fonts")
            peak = self.daemon.peak_rss_kib()
        finally:
            os.remove(big)
        self.report("250 MiB-attachment mkv upload (%s)" % status, started, peak)
        self.assertIn(status, (201, 422), body)
        if status == 201:
            self.assertIn("matroska", body["media"]["container"])
        else:
            self.assert_error(status, headers, body, 422, "unprocessable")
            self.assert_nothing_stored()
        self.assertLess(peak, PEAK_RSS_LIMIT_KIB)


if __name__ == "__main__":
    unittest.main()
