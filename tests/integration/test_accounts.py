"""Accounts, visibility and share links against the real daemon: who sees what, on every URL.

Two people besides the admin: Ann uploads, Ben watches. Ann's private video must not exist for
Ben anywhere (API, list, search, manifests, segments, thumbnails, source); her unlisted video
plays by its link; a share link plays in ffprobe without any header, carries its signature
into every URL its manifests name, and stops at its expiry, when altered, and when the signing
key is rotated. Sign-in is throttled; a cookie alone never changes anything."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse

from harness import DaemonTestCase, make_clip, played, vlc_copy


class AccountsTest(DaemonTestCase):
    transcode = True
    extra_args = ("--uploads.default_visibility", "library")

    def setUp(self):
        super().setUp()
        for name, role in (("ann", "uploader"), ("ben", "viewer")):
            status, user = self.daemon.json("POST", "/api/v1/users",
                                            json.dumps({"name": name, "role": role, "password": name + "-password"}),
                                            self.daemon.auth({"Content-Type": "application/json"}))
            self.assertEqual(status, 201, user)
        self.ann = self.sign_in("ann")
        self.ben = self.sign_in("ben")

    # --- helpers ------------------------------------------------------------------------

    def sign_in(self, name, password=None):
        """Signs in; returns the headers that act as that person from their own page."""
        status, headers, body = self.daemon.request(
            "POST", "/api/v1/session", json.dumps({"username": name, "password": password or name + "-password"}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        cookie = headers["set-cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Lax", cookie)
        self.assertNotIn("Secure", cookie)  # auth.behind_tls is off
        token = json.loads(body)["csrf_token"]
        return {"Cookie": cookie.split(";")[0], "X-CSRF-Token": token}

    def get(self, path, who=None):
        status, _, body = self.daemon.request("GET", path, headers=dict(who or {}))
        return status, body

    def upload_as(self, who, title, visibility, pattern="testsrc2"):
        clip = make_clip(self.path(title + ".mp4"), seconds=2, pattern=pattern)
        with open(clip, "rb") as f:
            status, video = self.daemon.json("PUT", "/api/v1/videos?" + urllib.parse.urlencode(
                {"title": title, "visibility": visibility}), f, dict(who, **{"Content-Type": "video/mp4"}))
        self.assertEqual(status, 201, video)
        return video["id"]

    def wait_ready(self, video_id):
        deadline = time.time() + 240
        while time.time() < deadline:
            status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
            if status == 200 and video["state"] == "ready" and video["playback"]["complete"]:
                return video
            time.sleep(0.5)
        self.fail("video %s not ready; log:\n%s" % (video_id, self.daemon.log()[-3000:]))

    def urls_of(self, video_id):
        """Every URL of a ready video: API entry, manifests, a segment, an init, a poster, its source."""
        video = self.wait_ready(video_id)
        _, master = self.get(video["playback"]["hls"], self.daemon.auth())
        playlist = "/videos/%s/%s" % (video_id, [l for l in master.decode().splitlines() if l and l[0] != "#"][0].split("/videos/%s/" % video_id)[-1])
        _, media = self.get(playlist, self.daemon.auth())
        segment = [l for l in media.decode().splitlines() if l.startswith("/objects/")][0]
        init = re.search(r'EXT-X-MAP:URI="([^"]+)"', media.decode()).group(1)
        poster = video["thumbnails"]["poster"][0]["jpeg"]
        return {"api": "/api/v1/videos/" + video_id, "master": video["playback"]["hls"],
                "mpd": video["playback"]["dash"], "playlist": playlist, "segment": segment, "init": init,
                "poster": poster, "source": "/objects/%s.mp4" % video["source"]["sha256"],
                "dash-init": "/videos/%s/v1/%s/init.mp4" % (video_id, playlist.rsplit("/", 1)[-1][:-5])}

    # --- tests --------------------------------------------------------------------------

    def test_a_private_video_does_not_exist_for_anyone_else(self):
        private = self.upload_as(self.ann, "Ann private holiday", "private")
        urls = self.urls_of(private)
        for name, url in urls.items():
            self.assertEqual(self.get(url, self.ann)[0], 200, "Ann reads her own " + name)
            self.assertEqual(self.get(url, self.ben)[0], 404, "Ben must not see Ann's " + name)
            self.assertEqual(self.get(url)[0], 404, "nor may an anonymous reader: " + name)
        status, listed = self.daemon.json("GET", "/api/v1/videos?q=holiday", headers=self.ben)
        self.assertEqual((status, listed["total"], listed["videos"]), (200, 0, []))
        status, listed = self.daemon.json("GET", "/api/v1/videos", headers=self.ann)
        self.assertEqual([v["id"] for v in listed["videos"]], [private])
        self.assertEqual(listed["videos"][0]["visibility"], "private")
        self.assertEqual(listed["videos"][0]["owner"]["name"], "ann")
        # Ben may not change it, nor learn it exists by trying.
        status, _, _ = self.daemon.request("PATCH", urls["api"], json.dumps({"title": "x"}), self.ben)
        self.assertEqual(status, 404)
        # Made unlisted: Ben plays it by its link, yet it is not in his library.
        status, _, body = self.daemon.request("PATCH", urls["api"], json.dumps({"visibility": "unlisted"}), self.ann)
        self.assertEqual(status, 200, body)
        for name in ("api", "master", "playlist", "segment", "poster"):
            self.assertEqual(self.get(urls[name], self.ben)[0], 200, "by its link: " + name)
        self.assertEqual(self.get(urls["source"], self.ben)[0], 404, "the original stays its owner's")
        status, listed = self.daemon.json("GET", "/api/v1/videos", headers=self.ben)
        self.assertEqual(listed["videos"], [])
        status, _, _ = self.daemon.request("DELETE", urls["api"], None, self.ben)
        self.assertEqual(status, 403, "Ben may watch it, not delete it")

    def test_share_links_play_without_headers_until_they_end(self):
        video_id = self.upload_as(self.ann, "shared", "private")
        self.wait_ready(video_id)
        status, share = self.daemon.json("POST", "/api/v1/videos/%s/share" % video_id,
                                         json.dumps({"expires_in_s": 600}), self.ann)
        self.assertEqual(status, 201, share)
        hls = urllib.parse.urlsplit(share["hls"])
        token = urllib.parse.parse_qs(hls.query)["share"][0]
        master = hls.path + "?" + hls.query
        status, body = self.get(master)
        self.assertEqual(status, 200)
        # The signature is on every URL the manifests name, down to each segment and init.
        lines = [l for l in body.decode().splitlines() if l and not l.startswith("#")]
        self.assertTrue(lines and all(l.endswith("?share=" + token) for l in lines), body)
        status, media = self.get(lines[0])
        self.assertEqual(status, 200)
        named = [l for l in media.decode().splitlines() if l.startswith("/objects/")]
        named.append(re.search(r'URI="([^"]+)"', media.decode()).group(1))
        for url in named:
            self.assertTrue(url.endswith("?share=" + token), url)
            self.assertEqual(self.get(url)[0], 200, url)
            self.assertEqual(self.get(url.split("?")[0])[0], 404, "without the signature: " + url)
        status, mpd = self.get(urllib.parse.urlsplit(share["dash"]).path + "?" + hls.query)
        self.assertEqual(status, 200)
        self.assertIn("init.mp4?share=" + token, mpd.decode())
        self.assertIn("$Time$.m4s?share=" + token, mpd.decode())
        # An independent reader plays it through, with no header at all.
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                                "http://127.0.0.1:%d%s" % (self.daemon.port, master)],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertIn("video", probe.stdout)
        # A share link of one video opens no other, nor any change.
        other = self.upload_as(self.ann, "other", "private", pattern="smptebars")
        self.assertEqual(self.get("/videos/%s/master.m3u8?share=%s" % (other, token))[0], 404)
        status, _, _ = self.daemon.request("DELETE", "/api/v1/videos/%s?share=%s" % (video_id, token))
        self.assertEqual(status, 401)
        # Altered: 403.
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        self.assertEqual(self.get(hls.path + "?share=" + forged)[0], 403)
        later = token.split(".")
        later[1] = str(int(later[1]) + 3600)
        self.assertEqual(self.get(hls.path + "?share=" + ".".join(later))[0], 403, "a later expiry is a forgery")
        # Expired: 403.
        status, soon = self.daemon.json("POST", "/api/v1/videos/%s/share" % video_id,
                                        json.dumps({"expires_in_s": 60}), self.ann)
        self.assertEqual(status, 201)
        # Rotated: every link made before answers 403.
        status, _, _ = self.daemon.request("POST", "/api/v1/admin/signing-key", None, self.ben)
        self.assertEqual(status, 403, "only admins rotate")
        status, _, _ = self.daemon.request("POST", "/api/v1/admin/signing-key", None, self.daemon.auth())
        self.assertEqual(status, 204)
        self.assertEqual(self.get(master)[0], 403)
        self.assertEqual(self.get(named[0])[0], 403)
        status, body, = self.get(master)
        self.assertIn("rotated", json.loads(body)["error"]["message"])

    def test_vlc_plays_a_share_link_and_not_a_forged_one(self):
        video_id = self.upload_as(self.ann, "for-vlc", "private")
        self.wait_ready(video_id)
        status, share = self.daemon.json("POST", "/api/v1/videos/%s/share" % video_id, None, self.ann)
        self.assertEqual(status, 201, share)
        out = self.path("vlc.ts")
        result = vlc_copy(share["hls"], out, self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        kinds, duration = played(out) or (None, 0)
        self.assertEqual(kinds, ["audio", "video"], result.stderr[-2000:])
        self.assertGreater(duration, 1.5, "VLC read the whole 2 s clip")
        # The same link with its signature altered gives VLC nothing.
        forged = share["hls"][:-1] + ("0" if share["hls"][-1] != "0" else "1")
        refused = self.path("forged.ts")
        vlc_copy(forged, refused, self.tmp)
        self.assertFalse(os.path.exists(refused) and os.path.getsize(refused) > 0, "VLC played a forged link")

    def test_an_expired_share_link_is_refused(self):
        video_id = self.upload_as(self.ann, "brief", "private")
        status, share = self.daemon.json("POST", "/api/v1/videos/%s/share" % video_id,
                                         json.dumps({"expires_in_s": 60}), self.ann)
        self.assertEqual(status, 201, share)
        self.assertEqual(self.daemon.json("POST", "/api/v1/videos/%s/share" % video_id,
                                          json.dumps({"expires_in_s": 5}), self.ann)[0], 400)
        # The shortest link lives a minute: rather than wait, sign one whose expiry has just
        # passed with the server's key, as the server would have made it a minute ago.
        secret = bytes.fromhex(self.db_query("SELECT secret FROM signing_keys")[0]["secret"])
        expired_at = int(time.time()) - 1
        mac = hmac.new(secret, ("cinevault-share-v1\n%s\n%d" % (video_id, expired_at)).encode(), hashlib.sha256)
        token = "%s.%d.%s" % (video_id, expired_at, mac.hexdigest())
        status, body = self.get("/videos/%s/master.m3u8?share=%s" % (video_id, token))
        self.assertEqual(status, 403)
        self.assertIn("expired", json.loads(body)["error"]["message"])

    def test_sign_in_is_throttled_and_sign_out_ends_the_session(self):
        for _ in range(5):
            status, _, _ = self.daemon.request("POST", "/api/v1/session",
                                               json.dumps({"username": "ben", "password": "wrong-guess"}),
                                               {"Content-Type": "application/json"})
            self.assertEqual(status, 401)
        status, headers, body = self.daemon.request("POST", "/api/v1/session",
                                                    json.dumps({"username": "BEN", "password": "ben-password"}),
                                                    {"Content-Type": "application/json"})
        self.assertEqual(status, 429, "even the right password waits once the name is throttled")
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        # Sign-out: the cookie opens nothing afterwards, even kept.
        self.assertEqual(self.daemon.request("GET", "/api/v1/session", headers=self.ann)[0], 200)
        self.assertEqual(self.daemon.request("DELETE", "/api/v1/session", headers=self.ann)[0], 204)
        self.assertEqual(self.daemon.request("GET", "/api/v1/session", headers=self.ann)[0], 401)
        self.assertEqual(self.daemon.request("GET", "/api/v1/videos", headers=self.ann)[0], 401)

    def test_sign_in_and_user_bodies_of_the_wrong_shape_are_400(self):
        """Wrong JSON types, bytes that are not UTF-8, a body that is not an object: a 400 with the usual
        error, no session, no user, and the daemon goes on."""
        json_header = {"Content-Type": "application/json"}
        for body in (json.dumps({"username": 5, "password": ["ben-password"]}).encode(),
                     b'{"username": "ben\xff", "password": "ben-password"}',
                     b'["ben", "ben-password"]', b'{"username": "ben"', b''):
            status, headers, answer = self.daemon.request("POST", "/api/v1/session", body, json_header)
            self.assert_error(status, headers, answer, 400, "invalid_argument")
            self.assertNotIn("set-cookie", headers)
        admin = self.daemon.auth(json_header)
        for body in (json.dumps({"name": ["cid"], "role": "viewer", "password": "cid-password"}).encode(),
                     json.dumps({"name": "cid", "role": 1, "password": "cid-password"}).encode(),
                     json.dumps({"name": "cid", "role": "viewer", "password": 12345678}).encode(),
                     b'{"name": "c\xffd", "role": "viewer", "password": "cid-password"}'):
            status, headers, answer = self.daemon.request("POST", "/api/v1/users", body, admin)
            self.assert_error(status, headers, answer, 400, "invalid_argument")
        status, users = self.daemon.json("GET", "/api/v1/users", headers=self.daemon.auth())
        self.assertEqual(sorted(u["name"] for u in users["users"]), ["admin", "ann", "ben"])
        self.assert_still_serving()

    def test_a_cross_site_form_post_with_the_cookie_is_refused(self):
        video_id = self.upload_as(self.ann, "mine", "private")
        cookie = {"Cookie": self.ann["Cookie"]}
        # What a form on another site sends: the cookie, its own Origin, no token.
        form = dict(cookie, **{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
        status, _, body = self.daemon.request("POST", "/api/v1/videos/%s/share" % video_id, "expires_in_s=60", form)
        self.assertEqual(status, 403, body)
        status, _, body = self.daemon.request("DELETE", "/api/v1/videos/" + video_id, None, cookie)
        self.assertEqual(status, 403, body)
        self.assertEqual(self.get("/api/v1/videos/" + video_id, self.ann)[0], 200, "nothing changed")
        # The page's own request (token, our origin) goes through.
        own = dict(self.ann, Origin="http://127.0.0.1:%d" % self.daemon.port)
        status, _, body = self.daemon.request("PATCH", "/api/v1/videos/" + video_id,
                                              json.dumps({"title": "renamed"}), own)
        self.assertEqual(status, 200, body)

    def test_a_removed_users_unfinished_upload_ends_with_them(self):
        """Nobody can resume it, not even a new user given the removed one's id (SQLite reuses the highest), and
        its partial file is removed at once."""
        def add_user(name):
            status, user = self.daemon.json("POST", "/api/v1/users",
                                            json.dumps({"name": name, "role": "uploader", "password": name + "-password"}),
                                            self.daemon.auth({"Content-Type": "application/json"}))
            self.assertEqual(status, 201, user)
            return user["id"], self.sign_in(name)

        cal_id, cal = add_user("cal")
        before = self.temp_files()
        status, headers, body = self.daemon.request("POST", "/api/v1/uploads", b"",
                                                    dict(cal, **{"Tus-Resumable": "1.0.0", "Upload-Length": "1000"}))
        self.assertEqual(status, 201, body)
        upload = headers["location"]
        status, _, body = self.daemon.request("PATCH", upload, b"x" * 100, dict(cal, **{
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        self.assertEqual(status, 204, body)
        self.assertEqual(len(self.temp_files()), len(before) + 1)  # its partial file

        self.assertEqual(self.daemon.request("DELETE", "/api/v1/users/%d" % cal_id, None, self.daemon.auth())[0], 204)
        self.assertEqual(self.temp_files(), before)
        status, _, _ = self.daemon.request("HEAD", upload, None, self.daemon.auth({"Tus-Resumable": "1.0.0"}))
        self.assertEqual(status, 404)
        dan_id, dan = add_user("dan")
        self.assertEqual(dan_id, cal_id, "the new user should get the removed one's id (what this test is about)")
        for method, body, extra in (("HEAD", None, {}), ("PATCH", b"y" * 100, {
                "Upload-Offset": "100", "Content-Type": "application/offset+octet-stream"})):
            status, _, _ = self.daemon.request(method, upload, body, dict(dan, **{"Tus-Resumable": "1.0.0"}, **extra))
            self.assertEqual(status, 404, method)

    def test_roles_and_progress(self):
        clip = make_clip(self.path("ben.mp4"), seconds=2)
        with open(clip, "rb") as f:
            data = f.read()
        # On a raw socket: the server answers 403 before the body and closes, which can break
        # http.client's pipe before it reads the answer.
        fields = "".join("%s: %s\r\n" % item for item in self.ben.items())
        response = self.daemon.raw(
            ("PUT /api/v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %d\r\n\r\n"
             % (fields, len(data))).encode(),
            [data[i:i + (64 << 10)] for i in range(0, len(data), 64 << 10)])
        self.assertEqual(response.status, 403, "a viewer does not upload")
        self.assertEqual(self.daemon.request("GET", "/api/v1/users", headers=self.ann)[0], 403)
        self.assertEqual(self.daemon.request("GET", "/api/v1/jobs", headers=self.ann)[0], 403)
        video_id = self.upload_as(self.ann, "film", "library")
        self.wait_ready(video_id)
        status, _, body = self.daemon.request("PUT", "/api/v1/videos/%s/progress" % video_id,
                                              json.dumps({"position_s": 0.75}), self.ben)
        self.assertEqual(status, 204, body)
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.ben)
        self.assertEqual(video["progress"]["position_s"], 0.75)
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.ann)
        self.assertIsNone(video["progress"], "progress is each person's own")
        status, recent = self.daemon.json("GET", "/api/v1/progress", headers=self.ben)
        self.assertEqual([v["id"] for v in recent["videos"]], [video_id])
        self.assertEqual(self.daemon.request("PUT", "/api/v1/videos/%s/progress" % video_id,
                                             json.dumps({"position_s": -1}), self.ben)[0], 400)
        # An admin removes Ann: her video stays, now the admin's.
        users = self.daemon.json("GET", "/api/v1/users", headers=self.daemon.auth())[1]["users"]
        ann_id = [u["id"] for u in users if u["name"] == "ann"][0]
        self.assertEqual(self.daemon.request("DELETE", "/api/v1/users/%d" % ann_id, None, self.daemon.auth())[0], 204)
        status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
        self.assertEqual(video["owner"]["name"], "admin")
        self.assertEqual(self.daemon.request("GET", "/api/v1/session", headers=self.ann)[0], 401)


if __name__ == "__main__":
    unittest.main()
