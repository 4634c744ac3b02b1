"""The library API: listing with paging, one video, editing metadata, deleting, reading with keys."""
import json
import os
import unittest

from harness import DaemonTestCase, make_clip


class LibraryTestCase(DaemonTestCase):
    def upload_clip(self, name, title, **clip_args):
        clip = make_clip(self.path(name), **clip_args)
        status, _, video = self.daemon.upload(clip, "title=" + title)
        self.assertEqual(status, 201, video)
        return video

    def patch(self, video_id, fields):
        status, headers, data = self.daemon.request(
            "PATCH", "/api/v1/videos/" + video_id, json.dumps(fields).encode(),
            self.daemon.auth({"Content-Type": "application/json"}))
        return status, json.loads(data)


class ListingTest(LibraryTestCase):
    def test_paging_newest_first_with_limit_and_cursor(self):
        """Three uploads list newest first; limit and next_cursor walk them; next_cursor is null at the end."""
        first = self.upload_clip("1.mp4", "First", pattern="testsrc2")
        second = self.upload_clip("2.mp4", "Second", pattern="smptebars")
        third = self.upload_clip("3.mp4", "Third", pattern="rgbtestsrc")
        self.assertEqual(len({first["source"]["sha256"], second["source"]["sha256"], third["source"]["sha256"]}), 3)

        status, page = self.daemon.json("GET", "/api/v1/videos")
        self.assertEqual(status, 200)
        self.assertEqual([v["id"] for v in page["videos"]], [third["id"], second["id"], first["id"]])
        self.assertEqual(page["total"], 3)
        self.assertIsNone(page["next_cursor"])
        # Each entry is the full video, as GET /api/v1/videos/{id} shows it.
        status, one = self.daemon.json("GET", "/api/v1/videos/" + second["id"])
        self.assertEqual(page["videos"][1], one)

        status, page = self.daemon.json("GET", "/api/v1/videos?limit=2")
        self.assertEqual(status, 200)
        self.assertEqual([v["title"] for v in page["videos"]], ["Third", "Second"])
        self.assertEqual(page["total"], 3)
        self.assertIsInstance(page["next_cursor"], str)

        status, page = self.daemon.json("GET", "/api/v1/videos?limit=2&cursor=" + page["next_cursor"])
        self.assertEqual(status, 200)
        self.assertEqual([v["title"] for v in page["videos"]], ["First"])
        self.assertEqual(page["total"], 3)
        self.assertIsNone(page["next_cursor"])

        # One per page: three pages, every video once, the last one without a cursor.
        seen, cursor = [], None
        for _ in range(4):
            status, page = self.daemon.json("GET", "/api/v1/videos?limit=1" + ("&cursor=" + cursor if cursor else ""))
            self.assertEqual(status, 200)
            seen += [v["id"] for v in page["videos"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(seen, [third["id"], second["id"], first["id"]])

    def test_empty_library(self):
        """A new library lists nothing, total 0, no cursor."""
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos"), (200, {"videos": [], "total": 0, "next_cursor": None}))

    def test_bad_limit_or_cursor_is_400(self):
        """limit outside 1–200 or not a number, or a cursor the server did not give out: 400."""
        for query in ("limit=0", "limit=201", "limit=-1", "limit=abc", "limit=", "limit=5x", "cursor=garbage"):
            status, headers, body = self.daemon.request("GET", "/api/v1/videos?" + query)
            with self.subTest(query=query):
                self.assert_error(status, headers, body, 400, "invalid_argument")
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos?limit=200")[0], 200)


class SearchTest(LibraryTestCase):
    def titles(self, query):
        status, page = self.daemon.json("GET", "/api/v1/videos?" + query)
        self.assertEqual(status, 200, page)
        if "limit=" not in query:
            self.assertEqual(page["total"], len(page["videos"]))
        return [v["title"] for v in page["videos"]]

    def test_search_matches_title_description_and_tags_case_insensitively(self):
        """?q= keeps the videos whose title, description or tags contain every word (any case), newest
        first; LIKE's wildcards are literal; a PATCH is searchable at once; a deleted video is gone."""
        beach = self.upload_clip("1.mp4", "Beach%20Holiday%202024", pattern="testsrc2")
        self.patch(beach["id"], {"tags": ["family", "summer"]})
        hike = self.upload_clip("2.mp4", "Mountain%20hike", pattern="smptebars")
        self.patch(hike["id"], {"description": "with the family, 100% fun"})
        self.upload_clip("3.mp4", "Concert", pattern="rgbtestsrc")

        self.assertEqual(self.titles("q=holi"), ["Beach Holiday 2024"])
        self.assertEqual(self.titles("q=FAMILY"), ["Mountain hike", "Beach Holiday 2024"])
        self.assertEqual(self.titles("q=family%20summer"), ["Beach Holiday 2024"])
        self.assertEqual(self.titles("q=%25"), ["Mountain hike"])  # "%" only where the text has one
        self.assertEqual(self.titles("q=c_ncert"), [])
        self.assertEqual(self.titles("q=nothing-like-this"), [])
        self.assertEqual(self.titles("q=%20%20"), ["Concert", "Mountain hike", "Beach Holiday 2024"])
        self.assertEqual(self.titles("q=family&limit=1"), ["Mountain hike"])
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos?q=family&limit=1")[1]["total"], 2)

        self.patch(hike["id"], {"title": "Glacier walk"})
        self.assertEqual(self.titles("q=glacier"), ["Glacier walk"])
        self.assertEqual(self.titles("q=mountain"), [])
        status, _, _ = self.daemon.request("DELETE", "/api/v1/videos/" + beach["id"], headers=self.daemon.auth())
        self.assertEqual(status, 204)
        self.assertEqual(self.titles("q=summer"), [])


# What an upload or a PATCH fixes; state, job and playback move on as the video is transcoded.
STABLE_FIELDS = ("id", "title", "description", "tags", "source", "media", "created_at")


def stable(video):
    return {key: video[key] for key in STABLE_FIELDS}


class VideoTest(LibraryTestCase):
    def test_get_one_and_404_for_unknown(self):
        """GET /api/v1/videos/{id} answers the video as uploaded, with its transcode job; an unknown id is a JSON 404."""
        video = self.upload_clip("clip.mp4", "Clip")
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual(status, 200)
        self.assertEqual(stable(fetched), stable(video))
        self.assertIn(fetched["state"], ("queued", "processing", "ready"))
        self.assertEqual(fetched["job"]["video_id"], video["id"])

        status, headers, body = self.daemon.request("GET", "/api/v1/videos/0123456789abcdef")
        self.assert_error(status, headers, body, 404, "not_found")

    def test_patch_persists_across_restart(self):
        """PATCH title, description and tags: answered, visible to GET, and still there after a restart."""
        video = self.upload_clip("clip.mp4", "Before")
        status, patched = self.patch(video["id"], {"title": "Holiday", "description": "At the sea\nday 2",
                                                   "tags": ["family", "2024"]})
        self.assertEqual(status, 200, patched)
        self.assertEqual((patched["title"], patched["description"], patched["tags"]),
                         ("Holiday", "At the sea\nday 2", ["family", "2024"]))
        self.assertGreaterEqual(patched["updated_at"], video["updated_at"])
        self.assertEqual(patched["created_at"], video["created_at"])

        # A partial PATCH changes only what it names.
        status, patched = self.patch(video["id"], {"tags": []})
        self.assertEqual(status, 200, patched)
        self.assertEqual((patched["title"], patched["tags"]), ("Holiday", []))

        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual((status, stable(fetched)), (200, stable(patched)))
        self.restart_daemon()
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual((status, stable(fetched)), (200, stable(patched)))

    def test_patch_unknown_video_is_404(self):
        """A valid PATCH for an id that does not exist: 404."""
        status, body = self.patch("0123456789abcdef", {"title": "x"})
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")

    def test_delete_then_gc_removes_the_object(self):
        """DELETE: 204, then 404; the job goes with it; admin gc removes the object file and row; DELETE again: 404."""
        video = self.upload_clip("clip.mp4", "Doomed")
        keep = self.upload_clip("keep.mp4", "Kept", pattern="smptebars")
        sha256 = video["source"]["sha256"]
        self.assertTrue(os.path.exists(self.object_path(sha256)))

        status, headers, body = self.daemon.request("DELETE", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assertEqual((status, body), (204, b""))
        status, headers, body = self.daemon.request("GET", "/api/v1/videos/" + video["id"])
        self.assert_error(status, headers, body, 404, "not_found")
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos")[1]["total"], 1)
        self.assertEqual(self.db_query("SELECT video_id FROM jobs"), [{"video_id": keep["id"]}])

        status, report = self.daemon.json("POST", "/api/v1/admin/gc", headers=self.daemon.auth())
        self.assertEqual(status, 200, report)
        self.assertEqual((report["objects_removed"], report["rows_removed"]), (1, 1))
        self.assertEqual(report["bytes_freed"], video["media"]["size_bytes"])
        self.assertFalse(os.path.exists(self.object_path(sha256)))
        self.assertEqual(self.objects(), [keep["source"]["sha256"]])  # the other video's object stays
        self.assertEqual(self.db_query("SELECT sha256 FROM objects"), [{"sha256": keep["source"]["sha256"]}])

        status, headers, body = self.daemon.request("DELETE", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
        self.assert_error(status, headers, body, 404, "not_found")

    def test_deleted_video_can_be_uploaded_again(self):
        """After DELETE the same bytes are a new video (201), not a duplicate of the deleted one."""
        clip = make_clip(self.path("clip.mp4"))
        status, _, first = self.daemon.upload(clip)
        self.assertEqual(status, 201, first)
        self.assertEqual(self.daemon.request("DELETE", "/api/v1/videos/" + first["id"], headers=self.daemon.auth())[0], 204)
        status, _, again = self.daemon.upload(clip)
        self.assertEqual(status, 201, again)
        self.assertNotEqual(again["id"], first["id"])
        self.assertEqual(self.objects(), [first["source"]["sha256"]])


class OpenReadsTest(LibraryTestCase):
    def test_reads_are_open_by_default(self):
        """Without auth.require_key_for_reads, listing and reading a video need no key."""
        video = self.upload_clip("clip.mp4", "Public")
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos")[0], 200)
        self.assertEqual(self.daemon.json("GET", "/api/v1/videos/" + video["id"])[0], 200)


class KeyForReadsTest(LibraryTestCase):
    extra_args = ("--auth.require_key_for_reads", "true")

    def test_reads_need_a_key_when_configured(self):
        """With auth.require_key_for_reads true: GET without a key is 401, with the key 200; health stays open."""
        video = self.upload_clip("clip.mp4", "Private")
        for path in ("/api/v1/videos", "/api/v1/videos/" + video["id"]):
            with self.subTest(path=path):
                status, headers, body = self.daemon.request("GET", path)
                self.assert_error(status, headers, body, 401, "unauthorized")
                self.assertEqual(headers.get("www-authenticate"), "Bearer")
                status, headers, body = self.daemon.request("GET", path, headers={"Authorization": "Bearer wrong"})
                self.assert_error(status, headers, body, 401, "unauthorized")
                self.assertEqual(self.daemon.request("GET", path, headers=self.daemon.auth())[0], 200)
        self.assertEqual(self.daemon.json("GET", "/healthz")[0], 200)
        # The page's own files hold no data and a browser cannot send a key to load them.
        for path in ("/", "/watch/" + video["id"], "/assets/common.js"):
            with self.subTest(path=path):
                self.assertEqual(self.daemon.request("GET", path)[0], 200)


if __name__ == "__main__":
    unittest.main()
