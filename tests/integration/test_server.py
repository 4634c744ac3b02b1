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

    def test_web_page_is_served_with_a_content_security_policy(self):
        """/ and /watch/{id} are the page, its assets and the npm bundles are built in; every page response
        has a CSP that allows only the page's own origin; a matching ETag is a 304; no path escapes."""
        for path, type_ in (("/", "text/html"), ("/watch/abc", "text/html"), ("/assets/app.css", "text/css"),
                            ("/assets/library.js", "text/javascript"), ("/assets/vendor/hls.min.js", "text/javascript"),
                            ("/assets/vendor/tus.min.js", "text/javascript")):
            status, headers, body = self.daemon.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["content-type"].startswith(type_), (path, headers["content-type"]))
            self.assertIn("default-src 'self'", headers["content-security-policy"])
            self.assertNotIn("unsafe-inline", headers["content-security-policy"])
            self.assertEqual(headers["x-content-type-options"], "nosniff")
            self.assertGreater(len(body), 100, path)
            status, _, body = self.daemon.request("GET", path, headers={"If-None-Match": headers["etag"]})
            self.assertEqual((status, body), (304, b""), path)
        for path in ("/assets/nope.js", "/assets/%2e%2e/index.html", "/assets/vendor/../../x", "/index.html"):
            status, _, _ = self.daemon.request("GET", path)
            self.assertIn(status, (400, 404), path)

    def test_first_start_writes_admin_key_with_mode_0600(self):
        import os
        import stat
        mode = stat.S_IMODE(os.stat(os.path.join(self.data_dir, "admin.key")).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertTrue(self.daemon.key.startswith("cv_"))
        self.assertIn("admin.key", self.daemon.log())


if __name__ == "__main__":
    unittest.main()
