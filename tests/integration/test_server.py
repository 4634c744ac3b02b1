"""The daemon starts, answers health checks and JSON errors, and stops cleanly on SIGTERM."""
import json
import unittest

from harness import DaemonTestCase


class ServerTest(DaemonTestCase):
    def test_health_and_readiness(self):
        status, body = self.daemon.json("GET", "/healthz")
        self.assertEqual((status, body), (200, {"status": "ok"}))
        status, body = self.daemon.json("GET", "/readyz")
        self.assertEqual((status, body), (200, {"status": "ready"}))

    def test_unknown_path_is_a_json_404(self):
        status, headers, data = self.daemon.request("GET", "/no/such/thing")
        self.assertEqual(status, 404)
        self.assertEqual(headers["content-type"], "application/json")
        error = json.loads(data)["error"]
        self.assertEqual(error["code"], "not_found")
        self.assertTrue(error["message"])

    def test_wrong_method_is_405_with_allow(self):
        status, headers, _ = self.daemon.request("DELETE", "/healthz")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers["allow"])

    def test_first_start_writes_admin_key_with_mode_0600(self):
        import os
        import stat
        mode = stat.S_IMODE(os.stat(os.path.join(self.data_dir, "admin.key")).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertTrue(self.daemon.key.startswith("cv_"))
        self.assertIn("admin.key", self.daemon.log())


if __name__ == "__main__":
    unittest.main()
