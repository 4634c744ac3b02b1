"""Bringing a library: `cinevault import` with and without a daemon, the import API, and
library.folders watched by the daemon."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, TMP_ROOT, Daemon, DaemonTestCase, make_clip, sha256_file


def age(path, seconds=3600):
    """Makes PATH look written SECONDS ago: settled, as a library file that has been there a while."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def make_tree(root):
    """A library: nested folders, one clip under two names, a tagged phone clip, a text file and a hidden file.

    Returns {name: path}."""
    os.makedirs(os.path.join(root, "Holidays", "2019"))
    os.makedirs(os.path.join(root, "Phone", "DCIM"))
    files = {
        "holiday": make_clip(os.path.join(root, "Holidays", "2019", "Holiday.2019.1080p.x264.mkv")),
        "phone": make_clip(os.path.join(root, "Phone", "DCIM", "VID_20240714.mp4"), pattern="smptebars",
                           extra=("-metadata", "title=Lake day", "-metadata", "creation_time=2024-07-14T10:22:03Z")),
        "notes": os.path.join(root, "notes.txt"),
        "hidden": os.path.join(root, ".partial.mp4"),
    }
    files["copy"] = os.path.join(root, "Phone", "holiday copy.mkv")
    shutil.copyfile(files["holiday"], files["copy"])
    shutil.copyfile(files["holiday"], files["hidden"])
    with open(files["notes"], "w") as f:
        f.write("not a video\n")
    for path in files.values():
        age(path)
    return files


class SlowWriter(threading.Thread):
    """Writes SOURCE to TARGET in pieces over about SECONDS, as a download or a camera copy does."""

    def __init__(self, source, target, seconds=4.0, pieces=8):
        super().__init__(daemon=True)
        with open(source, "rb") as f:
            self.data = f.read()
        self.target, self.seconds, self.pieces = target, seconds, pieces
        with open(self.target, "wb") as f:  # exists, partly written, before the import starts
            f.write(self.data[: len(self.data) // self.pieces])

    def run(self):
        step = len(self.data) // self.pieces
        with open(self.target, "ab") as f:
            for i in range(1, self.pieces + 1):
                time.sleep(self.seconds / self.pieces)
                f.write(self.data[i * step: (i + 1) * step if i < self.pieces else len(self.data)])
                f.flush()


def run_import(data_dir, *args, timeout=180):
    result = subprocess.run([BINARY, "import", "--data", data_dir, *args], capture_output=True, text=True,
                            timeout=timeout)
    return result


def import_json(data_dir, *args):
    result = run_import(data_dir, "--json", *args)
    if result.returncode != 0:
        raise AssertionError("import failed (%d): %s %s" % (result.returncode, result.stdout, result.stderr))
    return json.loads(result.stdout), result.stderr


def names(entries):
    return sorted(os.path.basename(entry["path"]) for entry in entries)


def db_query(data_dir, sql):
    out = subprocess.run(["sqlite3", "-json", os.path.join(data_dir, "cinevault.db"), sql],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout) if out.stdout.strip() else []


def object_path(data_dir, sha256):
    return os.path.join(data_dir, "objects", sha256[:2], sha256[2:4], sha256)


class ImportWithoutDaemonTest(unittest.TestCase):
    def setUp(self):
        os.makedirs(TMP_ROOT, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="ImportWithoutDaemon-", dir=TMP_ROOT)
        self.library = os.path.join(self.tmp, "library")
        self.data_dir = os.path.join(self.tmp, "data")
        self.files = make_tree(self.library)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_folder_tree_once_with_clean_titles_and_nothing_new_the_second_time(self):
        """Each video once, titles from tags or cleaned names, the text file refused, the growing file
        taken complete, the library files untouched; a second run adds nothing and reads nothing."""
        growing_source = make_clip(os.path.join(self.tmp, "growing-source.mp4"), seconds=3, pattern="rgbtestsrc")
        # In a folder walked first, and written for longer than a loaded machine takes to get
        # there: the import meets it while it grows.
        os.makedirs(os.path.join(self.library, "Downloads"))
        growing = os.path.join(self.library, "Downloads", "growing_clip.mp4")
        writer = SlowWriter(growing_source, growing, seconds=8)
        before = {name: (sha256_file(path), os.stat(path).st_mtime_ns, os.stat(path).st_mode)
                  for name, path in self.files.items()}
        writer.start()
        summary, progress = import_json(self.data_dir, "--library.settle_s", "2", self.library)
        writer.join()

        self.assertIn("still being written", progress)
        self.assertEqual(names(summary["added"]),
                         ["Holiday.2019.1080p.x264.mkv", "VID_20240714.mp4", "growing_clip.mp4"], summary)
        self.assertEqual(names(summary["duplicate"]), ["holiday copy.mkv"], summary)
        self.assertEqual(names(summary["refused"]), ["notes.txt"], summary)
        self.assertIn("not a video", summary["refused"][0]["reason"])
        self.assertEqual(summary["unchanged"], [])
        # The hidden file is not looked at.
        self.assertNotIn(".partial.mp4", json.dumps(summary))

        videos = {row["source_filename"]: row for row in db_query(
            self.data_dir, "SELECT title, source_filename, source_sha256, state, "
                           "json_extract(media_info, '$.recorded_at') AS recorded_at FROM videos")}
        self.assertEqual(len(videos), 3, videos)
        self.assertEqual(videos["Holiday.2019.1080p.x264.mkv"]["title"], "Holiday (2019)")
        self.assertEqual(videos["VID_20240714.mp4"]["title"], "Lake day")
        self.assertEqual(videos["VID_20240714.mp4"]["recorded_at"], "2024-07-14T10:22:03Z")
        self.assertEqual(videos["growing_clip.mp4"]["title"], "growing clip")
        # The growing file was taken whole: its source is the complete file's bytes.
        self.assertEqual(videos["growing_clip.mp4"]["source_sha256"], sha256_file(growing_source))
        self.assertEqual({row["state"] for row in videos.values()}, {"queued"})
        self.assertEqual(len(db_query(self.data_dir, "SELECT id FROM jobs WHERE state = 'queued'")), 3)
        # Each stored source holds the library file's bytes; the library files did not change.
        for name in ("holiday", "phone"):
            digest = sha256_file(self.files[name])
            self.assertEqual(sha256_file(object_path(self.data_dir, digest)), digest)
        after = {name: (sha256_file(path), os.stat(path).st_mtime_ns, os.stat(path).st_mode)
                 for name, path in self.files.items()}
        self.assertEqual(after, before)

        again, _ = import_json(self.data_dir, "--library.settle_s", "2", self.library)
        self.assertEqual(again["added"], [])
        self.assertEqual(again["duplicate"], [])
        self.assertEqual(names(again["unchanged"]), ["Holiday.2019.1080p.x264.mkv", "VID_20240714.mp4",
                                                     "growing_clip.mp4", "holiday copy.mkv"])
        self.assertEqual(names(again["refused"]), ["notes.txt"])
        self.assertEqual(len(db_query(self.data_dir, "SELECT id FROM videos")), 3)

        # A file changed since is looked at again: the same bytes under a new time are still a duplicate.
        os.utime(self.files["copy"], (time.time() - 60, time.time() - 60))
        third, _ = import_json(self.data_dir, "--library.settle_s", "2", self.library)
        self.assertEqual(names(third["duplicate"]), ["holiday copy.mkv"])
        self.assertEqual(len(db_query(self.data_dir, "SELECT id FROM videos")), 3)

    def test_the_text_summary_and_folder_tags(self):
        """Without --json: one line of counts and the refused files with their reasons; --folder-tags
        makes the folders between the named folder and the file tags."""
        result = run_import(self.data_dir, "--folder-tags", self.library)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"4 file\(s\), .* 2 added, 1 duplicate, 0 already imported, 1 refused")
        self.assertIn("refused %s: not a video" % self.files["notes"], result.stdout)
        tags = {row["source_filename"]: json.loads(row["tags"])
                for row in db_query(self.data_dir, "SELECT source_filename, tags FROM videos")}
        self.assertEqual(tags["Holiday.2019.1080p.x264.mkv"], ["Holidays", "2019"])
        self.assertEqual(tags["VID_20240714.mp4"], ["Phone", "DCIM"])

    def test_stored_sources_share_the_disk_or_are_copies_as_configured(self):
        """auto: a reflink or a hard link (no second copy of the bytes on this filesystem); copy: the
        library file keeps its own inode, and the stored source is a file of its own."""
        linked_dir = os.path.join(self.tmp, "linked")
        import_json(linked_dir, self.files["holiday"])
        digest = sha256_file(self.files["holiday"])
        stored = os.stat(object_path(linked_dir, digest))
        library_file = os.stat(self.files["holiday"])
        # A hard link is the same inode; a reflink (btrfs, XFS) a clone: either way no copy was made,
        # which `du` shows as no new blocks only for the link, so the inode is what is checked here.
        reflinked = stored.st_ino != library_file.st_ino
        if not reflinked:
            self.assertEqual(library_file.st_nlink, 2)

        copied_dir = os.path.join(self.tmp, "copied")
        import_json(copied_dir, "--library.store_files", "copy", self.files["phone"])
        digest = sha256_file(self.files["phone"])
        stored = os.stat(object_path(copied_dir, digest))
        self.assertNotEqual(stored.st_ino, os.stat(self.files["phone"]).st_ino)
        self.assertEqual(os.stat(self.files["phone"]).st_nlink, 1)
        self.assertEqual(sha256_file(object_path(copied_dir, digest)), digest)

    def test_bad_arguments_are_one_line_errors(self):
        missing = run_import(self.data_dir, os.path.join(self.tmp, "nowhere"))
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no such file or folder", missing.stderr)
        nothing = subprocess.run([BINARY, "import", "--data", self.data_dir], capture_output=True, text=True)
        self.assertEqual(nothing.returncode, 2)
        self.assertIn("name at least one file or folder", nothing.stderr)
        nobody = run_import(self.data_dir, "--user", "nobody", self.library)
        self.assertEqual(nobody.returncode, 1)
        self.assertIn("no user named nobody", nobody.stderr)


class ImportThroughDaemonTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.library = self.path("library")
        self.files = make_tree(self.library)
        self.watched = self.path("watched")
        os.makedirs(os.path.join(self.watched, "Trips"))
        self.already_there = make_clip(os.path.join(self.watched, "Trips", "Rome_2023.mp4"), pattern="pal75bars")
        age(self.already_there)
        self.restart_daemon("--library.folders", self.watched, "--library.settle_s", "1")

    def videos(self):
        status, page = self.daemon.json("GET", "/api/v1/videos?limit=100", headers=self.daemon.auth())
        self.assertEqual(status, 200, page)
        return {video["source"]["filename"]: video for video in page["videos"]}

    def wait_for_video(self, filename, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            videos = self.videos()
            if filename in videos:
                return videos[filename]
            time.sleep(0.2)
        self.fail("%s was not imported; log:\n%s" % (filename, self.daemon.log()[-3000:]))

    def test_the_command_hands_its_files_to_the_running_daemon(self):
        """With a daemon on the data directory, `cinevault import` asks it (through a key that is
        revoked when it ends) and the daemon's API lists the videos at once."""
        summary_run = run_import(self.data_dir, "--listen", "127.0.0.1:%d" % self.daemon.port, "--json",
                                 self.library)
        self.assertEqual(summary_run.returncode, 0, summary_run.stderr)
        self.assertIn("through the running daemon", summary_run.stderr)
        summary = json.loads(summary_run.stdout)
        self.assertEqual(names(summary["added"]), ["Holiday.2019.1080p.x264.mkv", "VID_20240714.mp4"])
        self.assertEqual(names(summary["duplicate"]), ["holiday copy.mkv"])
        self.assertEqual(names(summary["refused"]), ["notes.txt"])
        videos = self.videos()
        self.assertEqual(videos["Holiday.2019.1080p.x264.mkv"]["title"], "Holiday (2019)")
        self.assertEqual(videos["VID_20240714.mp4"]["recorded_at"], "2024-07-14T10:22:03Z")
        keys = db_query(self.data_dir, "SELECT name, revoked_at FROM api_keys WHERE name LIKE 'cinevault import%'")
        self.assertEqual(len(keys), 1)
        self.assertIsNotNone(keys[0]["revoked_at"])
        again = json.loads(run_import(self.data_dir, "--listen", "127.0.0.1:%d" % self.daemon.port, "--json",
                                      self.library).stdout)
        self.assertEqual(again["added"], [])
        self.assertEqual(len(again["unchanged"]), 3)

    def test_watched_folder_takes_what_was_there_and_what_comes(self):
        """library.folders: a file there at start is imported; a new one in a new sub-folder is taken
        once it has stopped growing, whole; hidden files are left alone."""
        self.assertEqual(self.wait_for_video("Rome_2023.mp4")["title"], "Rome (2023)")
        source = make_clip(self.path("beach-source.mp4"), seconds=3, pattern="smptehdbars")
        os.makedirs(os.path.join(self.watched, "Trips", "Beach"))
        target = os.path.join(self.watched, "Trips", "Beach", "beach.mp4")
        writer = SlowWriter(source, target, seconds=3)
        writer.start()
        shutil.copyfile(source, os.path.join(self.watched, ".beach.mp4.part"))
        writer.join()
        video = self.wait_for_video("beach.mp4")
        self.assertEqual(video["source"]["sha256"], sha256_file(source))
        time.sleep(1.5)
        self.assertEqual(len(self.videos()), 2)
        self.assertNotIn("refused", self.daemon.log().split("beach.mp4")[0][-200:])

    def test_import_api_checks_its_caller_and_its_path(self):
        """Admins only; absolute paths only; nothing inside the data directory; a refusal says why."""
        def post(body, headers=None):
            return self.daemon.request("POST", "/api/v1/library/imports", json.dumps(body).encode(),
                                       headers if headers is not None else
                                       self.daemon.auth({"Content-Type": "application/json"}))
        status, _, _ = post({"path": self.files["phone"]}, {"Content-Type": "application/json"})
        self.assertEqual(status, 401)
        status, headers, body = post({"path": "relative/file.mp4"})
        self.assert_error(status, headers, body, 400, "invalid_argument", "absolute")
        status, headers, body = post({"path": 7})
        self.assert_error(status, headers, body, 400, "invalid_argument", "path")
        status, headers, body = post({"path": os.path.join(self.data_dir, "cinevault.db")})
        self.assert_error(status, headers, body, 422, "unprocessable", "data directory")
        status, headers, body = post({"path": self.files["notes"]})
        self.assert_error(status, headers, body, 422, "unprocessable", "not a video")
        status, headers, body = post({"path": self.files["phone"], "owner": "nobody"})
        self.assert_error(status, headers, body, 400, "invalid_argument", "owner")
        status, _, body = post({"path": self.files["phone"], "visibility": "private"})
        self.assertEqual(status, 201, body)
        answer = json.loads(body)
        self.assertEqual(answer["outcome"], "added")
        self.assertEqual(answer["video"]["visibility"], "private")
        self.assertIn(answer["stored_as"], ("reflink", "hard link", "copy"))
        self.assert_still_serving()


class ImportedVideoPlaysTest(DaemonTestCase):
    transcode = True

    def test_an_imported_file_is_transcoded_like_an_upload(self):
        library = self.path("library")
        os.makedirs(library)
        clip = make_clip(os.path.join(library, "Garden.mp4"))
        age(clip)
        result = run_import(self.data_dir, "--listen", "127.0.0.1:%d" % self.daemon.port, library)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("1 added", result.stdout)
        deadline = time.time() + 120
        while time.time() < deadline:
            status, page = self.daemon.json("GET", "/api/v1/videos", headers=self.daemon.auth())
            if page["videos"] and page["videos"][0]["state"] == "ready":
                break
            time.sleep(0.5)
        self.assertEqual(page["videos"][0]["state"], "ready", self.daemon.log()[-3000:])
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json",
                                "http://127.0.0.1:%d/videos/%s/master.m3u8" %
                                (self.daemon.port, page["videos"][0]["id"])],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertIn("video", probe.stdout)


if __name__ == "__main__":
    unittest.main()
