"""Crash safety: SIGKILL the daemon at bad moments, restart it on the same data directory.

What was acknowledged survives (rows, objects, tus offsets); what was not leaves nothing
behind (no staging file, no orphan row); start-up garbage collection removes unreferenced
objects and stray temp files and keeps referenced objects.
"""
import base64
import hashlib
import os
import socket
import time
import unittest

from harness import Daemon, DaemonTestCase, make_clip, sha256_file

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


class CrashTest(DaemonTestCase):
    def clip(self, name="clip.mp4", seconds=2):
        path = make_clip(self.path(name), seconds=seconds)
        with open(path, "rb") as f:
            return path, f.read()

    def wait_for(self, predicate, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        self.fail("timed out waiting for " + what)

    def staging_bytes(self):
        """Total size of the files in data/tmp (where one-shot uploads are staged)."""
        directory = os.path.join(self.data_dir, "tmp")
        return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))

    def assert_ready(self):
        status, body = self.daemon.json("GET", "/readyz")
        self.assertEqual((status, body), (200, {"status": "ready"}))

    def tus_create(self, length, title):
        title_b64 = base64.b64encode(title.encode()).decode()
        status, headers, body = self.daemon.request(
            "POST", "/api/v1/uploads",
            headers=self.daemon.auth({**TUS, "Upload-Length": str(length), "Upload-Metadata": "title " + title_b64}))
        self.assertEqual(status, 201, body)
        return headers["location"]

    def tus_patch(self, location, offset, data):
        return self.daemon.request("PATCH", location, body=data,
                                   headers=self.daemon.auth({**TUS, "Upload-Offset": str(offset), "Content-Type": OCTETS}))

    def tus_head(self, location):
        status, headers, _ = self.daemon.request("HEAD", location, headers=self.daemon.auth(TUS))
        self.assertEqual(status, 200)
        return headers

    def assert_stored(self, video_id, clip_path):
        """The video row exists and its source object is byte-exact."""
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
        self.assertEqual(status, 200, video)
        want = sha256_file(clip_path)
        self.assertEqual(video["source"]["sha256"], want)
        self.assertEqual(sha256_file(self.object_path(want)), want)
        self.assertEqual(self.db_query("SELECT sha256 FROM objects"), [{"sha256": want}])

    def test_kill_during_one_shot_upload_leaves_nothing(self):
        """SIGKILL while a PUT body is streaming in: after a restart no staging file, no row, no object; /readyz 200."""
        _, data = self.clip(seconds=4)
        announced = 50 * 1024 * 1024
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=30)
        try:
            sock.sendall(("PUT /api/v1/videos?title=interrupted HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %d\r\n\r\n" % (self.daemon.key, announced)).encode())
            sent = 0
            for start in range(0, len(data), 16384):  # slowly: about 1.6 MB/s
                try:
                    sock.sendall(data[start:start + 16384])
                except (BrokenPipeError, ConnectionResetError):
                    self.fail("the server refused the %d-byte PUT after %d bytes: %r"
                              % (announced, sent, sock.recv(4096)))
                sent += len(data[start:start + 16384])
                time.sleep(0.01)
                if sent >= 256 * 1024 and self.staging_bytes() > 0:
                    break
            self.wait_for(lambda: self.staging_bytes() > 0, "the body to reach a staging file in data/tmp")
            self.crash_and_restart()
        finally:
            sock.close()
        self.assert_ready()
        self.assertEqual(self.temp_files(), [])
        self.assert_nothing_stored()
        status, body = self.daemon.json("GET", "/api/v1/videos")
        self.assertEqual(body["total"], 0)

    def test_kill_after_acknowledged_one_shot_upload_keeps_it(self):
        """SIGKILL right after a PUT was answered 201: after a restart the video row and its byte-exact object are there."""
        path, _ = self.clip()
        status, _, body = self.daemon.upload(path, "title=kept")
        self.assertEqual(status, 201, body)
        self.crash_and_restart()
        self.assert_ready()
        self.assert_stored(body["id"], path)
        self.assertEqual(self.db_rows("jobs"), 1)
        self.assertEqual(self.temp_files(), [])

    def test_kill_after_acknowledged_tus_patch_keeps_the_offset(self):
        """SIGKILL right after a tus PATCH was answered 204: HEAD reports that offset after a restart; the upload completes byte-exact."""
        path, data = self.clip()
        location = self.tus_create(len(data), "tus crash")
        half = len(data) // 2
        status, headers, _ = self.tus_patch(location, 0, data[:half])
        self.assertEqual((status, headers["upload-offset"]), (204, str(half)))
        self.crash_and_restart()
        self.assert_ready()
        self.assertEqual(self.tus_head(location)["upload-offset"], str(half))
        status, headers, body = self.tus_patch(location, half, data[half:])
        self.assertEqual(status, 204, body)
        self.assert_stored(headers["cinevault-video-id"], path)
        self.assertEqual(self.temp_files(), [])

    def test_kill_mid_tus_patch_keeps_the_last_acknowledged_offset(self):
        """SIGKILL while a tus PATCH body is half sent: after a restart HEAD reports the last acknowledged offset; the upload completes byte-exact."""
        path, data = self.clip()
        location = self.tus_create(len(data), "tus crash mid patch")
        third = len(data) // 3
        self.assertEqual(self.tus_patch(location, 0, data[:third])[0], 204)
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=30)
        try:
            sock.sendall(("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer %s\r\n"
                          "Content-Type: %s\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n"
                          % (location, self.daemon.key, OCTETS, third, len(data) - third)).encode())
            sock.sendall(data[third:2 * third])
            part = os.path.join(self.data_dir, "uploads", location.rsplit("/", 1)[1] + ".part")
            # Unacknowledged bytes reach the partial file; the crash comes before the offset is recorded.
            self.wait_for(lambda: os.path.getsize(part) > third, "the PATCH body to reach the partial file")
            self.crash_and_restart()
        finally:
            sock.close()
        self.assertEqual(self.tus_head(location)["upload-offset"], str(third))
        status, headers, body = self.tus_patch(location, third, data[third:])
        self.assertEqual(status, 204, body)
        self.assert_stored(headers["cinevault-video-id"], path)

    def test_kill_after_last_tus_patch_keeps_the_video(self):
        """SIGKILL right after the last tus PATCH was answered: after a restart the upload shows the video, which exists."""
        path, data = self.clip()
        location = self.tus_create(len(data), "tus crash at the end")
        status, headers, body = self.tus_patch(location, 0, data)
        self.assertEqual(status, 204, body)
        video_id = headers["cinevault-video-id"]
        self.crash_and_restart()
        headers = self.tus_head(location)
        self.assertEqual((headers["upload-offset"], headers.get("cinevault-video-id")), (str(len(data)), video_id))
        self.assert_stored(video_id, path)
        self.assertEqual(self.db_rows("videos"), 1)

    def test_startup_gc_removes_orphans_and_keeps_referenced_objects(self):
        """Planted while the daemon is stopped, an unreferenced object (file and row), stray temp files and a
        partial upload without a row are removed at start-up; the referenced object stays byte-exact."""
        path, _ = self.clip()
        status, _, body = self.daemon.upload(path, "title=referenced")
        self.assertEqual(status, 201, body)
        kept = sha256_file(path)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log()[-3000:])

        orphan_bytes = b"an object nothing refers to\n" * 100
        orphan = hashlib.sha256(orphan_bytes).hexdigest()
        os.makedirs(os.path.dirname(self.object_path(orphan)), exist_ok=True)
        with open(self.object_path(orphan), "wb") as f:
            f.write(orphan_bytes)
        self.db_query("INSERT INTO objects (sha256, size, kind, created_at) VALUES ('%s', %d, 'segment', 0)"
                      % (orphan, len(orphan_bytes)))
        orphan2 = hashlib.sha256(b"no row either").hexdigest()
        os.makedirs(os.path.dirname(self.object_path(orphan2)), exist_ok=True)
        with open(self.object_path(orphan2), "wb") as f:
            f.write(b"no row either")
        for stray in ("tmp/upload-0123456789abcdef", "tmp/put-deadbeefdeadbeef", "uploads/0123456789abcdef0123456789abcdef.part"):
            with open(os.path.join(self.data_dir, stray), "wb") as f:
                f.write(os.urandom(1000))

        self.daemon = Daemon(self.data_dir, *self.daemon_args()).start()
        self.assert_ready()
        self.assertFalse(os.path.exists(self.object_path(orphan)))
        self.assertFalse(os.path.exists(self.object_path(orphan2)))
        self.assertEqual(self.objects(), [kept])
        self.assertEqual(self.temp_files(), [])
        self.assertEqual(self.db_query("SELECT sha256 FROM objects"), [{"sha256": kept}])
        self.assert_stored(body["id"], path)


if __name__ == "__main__":
    unittest.main()
