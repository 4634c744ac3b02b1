"""Priorities of imported files (#20): a person's upload is transcoded before the files of a
library import queued earlier; an import's media worker runs at library.nice in the idle I/O
class; imports wait for library.hours; the API gives each queued job's place in the queue and
the import's progress and time left."""
import datetime
import json
import os
import re
import subprocess
import unittest

from harness import make_clip
from test_import import age
from test_media_worker import encoding_worker, thread_stats
from test_pipeline import PIPELINE_ARGS, PipelineTestCase

# Each side's own niceness, so that the test tells them apart (the defaults are 10 and 19).
PRIORITY_ARGS = PIPELINE_ARGS + ("--pipeline.nice", "3", "--library.nice", "17")
# Long enough to look at its worker while it encodes (seconds under AddressSanitizer).
LONG = dict(seconds=10, size="1280x720")


def ionice(pid):
    out = subprocess.run(["ionice", "-p", str(pid)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def local_hour(offset=0):
    return (datetime.datetime.now().hour + offset) % 24


def closed_hours():
    """library.hours from two hours from now to three: this hour and the next are outside it."""
    return "%02d-%02d" % (local_hour(2), local_hour(3) or 24)


class ImportPriorityTestCase(PipelineTestCase):
    extra_args = PRIORITY_ARGS

    def make_library(self, *clips):
        """Files in a library folder, each (name, make_clip keyword arguments), settled; returns their paths."""
        folder = self.path("library")
        os.makedirs(folder, exist_ok=True)
        paths = []
        for name, options in clips:
            path = make_clip(os.path.join(folder, name), **options)
            age(path)
            paths.append(path)
        return paths

    def import_file(self, path):
        status, answer = self.daemon.json("POST", "/api/v1/library/imports", json.dumps({"path": path}),
                                          self.daemon.auth({"Content-Type": "application/json"}))
        self.assertEqual(status, 201, answer)
        return answer["video"]

    def status(self):
        return self.get_json("/api/v1/library/status")

    def jobs(self):
        return {job["video_id"]: job for job in self.get_json("/api/v1/jobs")["jobs"]}

    def started_order(self):
        """Job ids in the order their first attempt started, from the daemon's log."""
        return [int(n) for n in re.findall(r"job (\d+) \(video \w+\): attempt 1 of \d+ started", self.daemon.log())]

    def encoding_worker(self, exclude=(), timeout=120):
        """The pid of the daemon's media worker that is encoding (has its rung threads)."""
        worker = encoding_worker(self.daemon.process.pid, exclude, timeout)
        if worker is None:
            self.fail("no media worker encoding after %s s; log:\n%s" % (timeout, self.daemon.log()[-3000:]))
        return worker

    def worker_priority(self, pid):
        """({nice values of its threads}, ionice's answer), read while it runs."""
        nices = {n for values in thread_stats(pid).values() for n in values}
        return nices, ionice(pid)


class UploadsFirstTest(ImportPriorityTestCase):
    transcode = False  # first the queue as it stands; workers are started later

    def test_an_upload_goes_before_imports_and_imports_run_in_the_background(self):
        first, second, third = self.make_library(("Garden.mp4", dict(LONG, pattern="smptebars")),
                                                 ("Beach.mp4", dict(seconds=2, pattern="rgbtestsrc")),
                                                 ("Lake.mp4", dict(seconds=3, pattern="pal75bars")))
        imported = [self.import_file(path) for path in (first, second, third)]
        _, upload = self.upload_clip("upload.mp4", **LONG)

        # Queue positions: the upload, queued last, is next; the imports follow in their order.
        jobs = self.jobs()
        self.assertEqual(jobs[upload["id"]]["queue_position"], 1, jobs)
        self.assertEqual(jobs[upload["id"]]["priority"], 0)
        self.assertEqual([jobs[video["id"]]["queue_position"] for video in imported], [2, 3, 4], jobs)
        self.assertEqual({jobs[video["id"]]["priority"] for video in imported}, {1})
        _, entry = self.daemon.json("GET", "/api/v1/videos/" + imported[1]["id"], headers=self.daemon.auth())
        self.assertEqual(entry["job"]["queue_position"], 3, entry)
        _, entry = self.daemon.json("GET", "/api/v1/videos/" + upload["id"], headers=self.daemon.auth())
        self.assertEqual(entry["job"]["queue_position"], 1, entry)

        # The import's progress: three waiting, 15 s of media, no speed known yet.
        status = self.status()
        self.assertEqual(status["imports"], {"queued": 3, "running": 0, "done": 0, "failed": 0}, status)
        self.assertAlmostEqual(status["remaining_media_s"], 15, delta=0.5)
        self.assertIsNone(status["eta_s"])
        self.assertIsNone(status["hours"])
        self.assertIsNone(status["paused_until"])
        self.assertEqual(self.daemon.request("GET", "/api/v1/library/status")[0], 401)
        self.assertEqual(self.daemon.request("GET", "/api/v1/library/status", headers=self.uploader())[0], 403)

        # One worker: the upload runs first, at pipeline.nice, then the imports in order, at
        # library.nice in the idle I/O class.
        self.transcode = True
        self.restart_daemon(*PRIORITY_ARGS, "--pipeline.concurrent_jobs", "1")
        daemon_nice = thread_stats(self.daemon.process.pid)["cinevault"][0]
        upload_worker = self.encoding_worker()
        self.assertEqual(self.jobs()[upload["id"]]["state"], "running")
        nices, io_class = self.worker_priority(upload_worker)
        self.assertEqual(nices, {min(19, daemon_nice + 3)})
        self.assertNotIn("idle", io_class)
        self.assertEqual([self.jobs()[video["id"]]["state"] for video in imported], ["queued"] * 3)

        import_worker = self.encoding_worker(exclude=(upload_worker,))
        self.assertEqual(self.jobs()[imported[0]["id"]]["state"], "running")
        nices, io_class = self.worker_priority(import_worker)
        self.assertEqual(nices, {min(19, daemon_nice + 17)})
        self.assertEqual(io_class, "idle")

        for video in imported:
            self.wait_job(self.jobs()[video["id"]]["id"], timeout=300)
        self.assertEqual(self.started_order(),
                         [self.jobs()[video["id"]]["id"] for video in [upload] + imported])
        status = self.status()
        self.assertEqual(status["imports"], {"queued": 0, "running": 0, "done": 3, "failed": 0}, status)
        self.assertEqual(status["remaining_media_s"], 0)
        self.assertEqual(status["eta_s"], 0)
        self.assertNotIn("queue_position", self.jobs()[imported[0]["id"]])

        # One more file, held by library.hours: its time left follows the speed of the three done.
        self.restart_daemon(*PRIORITY_ARGS, "--pipeline.concurrent_jobs", "1", "--library.hours", closed_hours())
        [fourth] = self.make_library(("Hills.mp4", dict(seconds=4, pattern="smptehdbars")))
        self.import_file(fourth)
        status = self.status()
        self.assertEqual(status["imports"]["queued"], 1, status)
        runs = self.db_query("SELECT sum(json_extract(v.media_info, '$.duration_s')) AS media, "
                             "sum(j.updated_at - j.started_at) / 1000.0 AS wall FROM jobs j JOIN videos v "
                             "ON v.id = j.video_id WHERE j.priority = 1 AND j.state = 'done'")[0]
        self.assertAlmostEqual(status["eta_s"], status["remaining_media_s"] * runs["wall"] / runs["media"], delta=1)
        self.assertGreater(status["eta_s"], 0)

    def uploader(self):
        """Headers of a signed-in uploader (not an admin)."""
        status, user = self.daemon.json("POST", "/api/v1/users",
                                        json.dumps({"name": "ann", "role": "uploader", "password": "ann-password"}),
                                        self.daemon.auth({"Content-Type": "application/json"}))
        self.assertEqual(status, 201, user)
        status, headers, body = self.daemon.request(
            "POST", "/api/v1/session", json.dumps({"username": "ann", "password": "ann-password"}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return {"Cookie": headers["set-cookie"].split(";")[0]}


class ImportHoursTest(ImportPriorityTestCase):
    HOURS = closed_hours()
    extra_args = PRIORITY_ARGS + ("--pipeline.concurrent_jobs", "1", "--library.hours", HOURS)

    def test_outside_the_hours_imports_wait_and_uploads_are_transcoded(self):
        self.assertIn("library imports are transcoded from", self.daemon.log())
        [path] = self.make_library(("Garden.mp4", dict(seconds=2, pattern="smptebars")))
        imported = self.import_file(path)
        _, upload = self.upload_clip("upload.mp4", seconds=2)
        self.wait_job(self.job_of(upload["id"])["id"])

        job = self.jobs()[imported["id"]]
        self.assertEqual(job["state"], "queued", job)
        self.assertEqual(job["attempts"], 0)
        self.assertEqual(job["queue_position"], 1)
        status = self.status()
        self.assertEqual(status["imports"], {"queued": 1, "running": 0, "done": 0, "failed": 0}, status)
        self.assertEqual(status["hours"], self.HOURS)
        opens = datetime.datetime.fromisoformat(status["paused_until"].replace("Z", "+00:00")).astimezone()
        self.assertEqual((opens.hour, opens.minute), (int(self.HOURS[:2]), 0), status)
        self.assertGreater(opens, datetime.datetime.now().astimezone())
        self.assertLess(opens - datetime.datetime.now().astimezone(), datetime.timedelta(hours=3))

        # Within the hours (here: any time), the import is taken.
        self.restart_daemon(*PRIORITY_ARGS, "--pipeline.concurrent_jobs", "1")
        self.wait_job(job["id"])
        self.assertIsNone(self.status()["paused_until"])


if __name__ == "__main__":
    unittest.main()
