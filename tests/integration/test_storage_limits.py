"""Storage limits: uploads cannot fill the disk, one key cannot hold all of the server's uploads,
and an unfinished upload cannot be kept alive forever.

The disk tests set uploads.reserve_bytes to the test filesystem's free space less a margin, so
that the real statvfs of the data directory decides. Other tests running beside this one move
the free space a little; the sizes below leave room for that.
"""
import os
import subprocess
import time
import unittest

from harness import BINARY, TMP_ROOT
from test_tus import ENDPOINT, TusTestCase, http_date_seconds

MiB = 1 << 20
MARGIN = 128 * MiB  # what the reserve leaves uploads


def reserve_leaving(margin):
    """uploads.reserve_bytes that leaves MARGIN bytes of the test filesystem's free space to uploads."""
    os.makedirs(TMP_ROOT, exist_ok=True)
    st = os.statvfs(TMP_ROOT)
    return str(max(0, st.f_bavail * st.f_frsize - margin))


class DiskReserveTest(TusTestCase):
    """With the reserve set MARGIN below the free space: what cannot fit is refused before its bytes."""

    def daemon_args(self, extra_args=()):
        return super().daemon_args(extra_args) + ["--uploads.reserve_bytes", reserve_leaving(MARGIN)]

    def tus_create_status(self, length):
        return self.tus("POST", ENDPOINT, headers={"Upload-Length": str(length)})

    def test_a_tus_upload_that_does_not_fit_is_507_and_leaves_nothing(self):
        status, headers, body = self.tus_create_status(4 * MARGIN)
        self.assert_error(status, headers, body, 507, "insufficient_storage", "disk space")
        self.assertEqual(self.db_rows("uploads"), 0)
        self.assertEqual(self.part_files(), [])
        # One that fits is taken, and the space it was promised is not promised again.
        first, _ = self.create(MARGIN * 3 // 4)
        status, headers, body = self.tus_create_status(MARGIN * 3 // 4)
        self.assert_error(status, headers, body, 507, "insufficient_storage")
        # Ending the first gives its space back.
        status, _, _ = self.tus("DELETE", first)
        self.assertEqual(status, 204)
        self.create(MARGIN * 3 // 4)
        self.assert_still_serving()

    def test_a_one_shot_upload_that_does_not_fit_is_507_before_its_body(self):
        """The answer comes after the headers alone: the client need not send 512 MiB to hear it."""
        response = self.daemon.raw(
            ("PUT /api/v1/videos?title=big HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
             % (self.daemon.key, 4 * MARGIN)).encode(), timeout=10)
        self.assertEqual(response.status, 507, response.body)
        self.assertEqual(response.json()["error"]["code"], "insufficient_storage")
        self.assert_nothing_stored()
        self.assert_still_serving()

    def test_a_chunked_upload_stops_at_the_reserve_and_leaves_nothing(self):
        """Without a Content-Length the body claims space as it comes: it is cut off with 507 when
        the reserve is reached, and its staging file goes."""
        chunk = os.urandom(MiB)
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        sent = []

        def body():
            for _ in range(6 * MARGIN // MiB):
                sent.append(len(chunk))
                yield framed
            yield b"0\r\n\r\n"

        response = self.daemon.raw(
            ("PUT /api/v1/videos?title=endless HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
             % self.daemon.key).encode(), body(), timeout=60)
        self.assertEqual(response.status, 507, response.body)
        self.assertEqual(response.json()["error"]["code"], "insufficient_storage")
        self.assertLess(sum(sent), 6 * MARGIN, "the whole body was taken")
        self.wait_for(lambda: not self.temp_files(), "the staging file to go")
        self.assert_nothing_stored()
        self.assert_still_serving()


class OpenUploadLimitsTest(TusTestCase):
    extra_args = ("--uploads.max_open_uploads_per_key", "3", "--uploads.max_open_uploads", "5",
                  "--uploads.max_pending_bytes_per_key", str(10 * MiB))

    def second_key(self):
        """A key of another uploader: limits are each uploader's, whichever key they send."""
        added = subprocess.run([BINARY, "users", "add", "second", "--role", "uploader", "--password-stdin",
                                "--data", self.data_dir], input="a long secret\n", capture_output=True, text=True)
        self.assertEqual(added.returncode, 0, added.stderr)
        result = self.daemon.cli("keys", "create", "second", "--user", "second")
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def tus_as(self, key, method, path, headers):
        all_headers = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer " + key}
        all_headers.update(headers)
        return self.daemon.request(method, path, headers=all_headers)

    def test_a_key_holds_at_most_its_open_uploads_and_the_server_its_own(self):
        mine = [self.create(1000)[0] for _ in range(3)]
        status, headers, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": "1000"})
        self.assert_error(status, headers, body, 429, "too_many", "unfinished uploads")
        # Another key has its own three, up to the server's five in all.
        other = self.second_key()
        for expected in (201, 201, 429):
            status, headers, body = self.tus_as(other, "POST", ENDPOINT, {"Upload-Length": "1000"})
            self.assertEqual(status, expected, body)
        self.assertIn(b"the server has 5 unfinished uploads", body)
        # Finishing one (here: terminating it) makes room.
        status, _, _ = self.tus("DELETE", mine[0])
        self.assertEqual(status, 204)
        self.create(1000)
        # The count survives a restart: the uploads are still open.
        self.restart_daemon()
        status, headers, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": "1000"})
        self.assert_error(status, headers, body, 429, "too_many")

    def test_a_keys_unfinished_uploads_hold_at_most_its_pending_bytes(self):
        path, _ = self.create(6 * MiB)
        status, headers, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": str(5 * MiB)})
        self.assert_error(status, headers, body, 507, "insufficient_storage", "this uploader")
        # Bytes received still count: the partial file holds them until the upload ends.
        status, _, _ = self.patch(path, 0, b"x" * MiB)
        self.assertEqual(status, 204)
        status, headers, body = self.tus("POST", ENDPOINT, headers={"Upload-Length": str(5 * MiB)})
        self.assertEqual(status, 507, body)
        # A one-shot upload counts too, by its Content-Length, before its body.
        response = self.daemon.raw(
            ("PUT /api/v1/videos?title=x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
             % (self.daemon.key, 5 * MiB)).encode(), timeout=10)
        self.assertEqual(response.status, 507, response.body)
        status, _, body = self.daemon.upload(self.clip(), "title=small")
        self.assertEqual(status, 201, body)


class ExpiryTest(TusTestCase):
    def test_appending_does_not_move_the_expiry(self):
        """Upload-Expires is fixed at creation: a byte now and then cannot keep an upload forever."""
        path, headers = self.create(100)
        created = http_date_seconds(headers["upload-expires"])
        time.sleep(1.1)  # HTTP dates have whole seconds
        status, headers, _ = self.patch(path, 0, b"x")
        self.assertEqual(status, 204)
        self.assertEqual(http_date_seconds(headers["upload-expires"]), created)
        status, headers, _ = self.tus("HEAD", path)
        self.assertEqual(http_date_seconds(headers["upload-expires"]), created)


if __name__ == "__main__":
    unittest.main()
