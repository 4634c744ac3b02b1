"""The transcode pipeline end to end: upload → durable job → CMAF version → HLS and DASH.

Every check is independent of our own code: playlists are read as text, the MPD with
xml.etree, segments are fetched over HTTP by the URLs the manifests give, and media facts
(codec, size, duration, keyframes, timestamps) come from the ffprobe CLI on init+segment
concatenations. Clips are tiny (a few seconds, 640x360) so the suite stays fast under ASan.
"""
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import unittest
import xml.etree.ElementTree as ET

from harness import DaemonTestCase, make_clip

# Fast, deterministic settings: the ultrafast x264 preset, retries without waiting.
PIPELINE_ARGS = ("--pipeline.x264_preset", "ultrafast", "--pipeline.retry_backoff_s", "0",
                 "--pipeline.segment_s", "4")
MPD_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
ERROR_CLASSES = {"input", "crashed", "resource", "codec", "storage", "hardware", "internal"}
FRAME_S = 0.04  # one frame at 25 fps


def parse_attributes(text):
    """HLS attribute list → dict (quoted values unquoted)."""
    return {name: value.strip('"') for name, value in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)}


def ffprobe_json(path, *args):
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, path],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("ffprobe %s failed: %s" % (path, out.stderr))
    return json.loads(out.stdout)


def ffprobe_packets(path, stream="v"):
    """Packets of the first STREAM-type stream, in file (decode) order, each with pts_time (float) and flags."""
    packets = ffprobe_json(path, "-select_streams", stream + ":0",
                           "-show_entries", "packet=pts_time,dts_time,flags")["packets"]
    for p in packets:
        p["pts_time"] = float(p["pts_time"])
    return packets


class PipelineTestCase(DaemonTestCase):
    transcode = True
    extra_args = PIPELINE_ARGS

    # --- HTTP -----------------------------------------------------------------------
    def get(self, path, expect=200):
        # As the admin: the queue (/api/v1/jobs) is theirs alone.
        status, headers, body = self.daemon.request("GET", path, headers=self.daemon.auth())
        if expect is not None:
            self.assertEqual(status, expect, "GET %s → %s %r" % (path, status, body[:300]))
        return body

    def get_json(self, path):
        return json.loads(self.get(path))

    # --- jobs -----------------------------------------------------------------------
    def upload_clip(self, name="clip.mp4", seconds=6, size="640x360", pattern="testsrc2"):
        clip = make_clip(self.path(name), seconds=seconds, size=size, pattern=pattern)
        status, _, video = self.daemon.upload(clip, "title=" + name)
        self.assertEqual(status, 201, video)
        return clip, video

    def jobs_of(self, video_id):
        """The video's jobs from GET /api/v1/jobs, oldest first."""
        jobs = self.get_json("/api/v1/jobs")["jobs"]
        return sorted((j for j in jobs if j["video_id"] == video_id), key=lambda j: j["id"])

    def job_of(self, video_id):
        jobs = self.jobs_of(video_id)
        self.assertTrue(jobs, "no job for video %s" % video_id)
        return jobs[-1]

    def wait_job(self, job_id, states=("done",), timeout=120, seen=None):
        """Polls GET /api/v1/jobs/{id} until its state is one of STATES; SEEN collects every state observed."""
        deadline = time.time() + timeout
        job = None
        while time.time() < deadline:
            job = self.get_json("/api/v1/jobs/%d" % job_id)
            if seen is not None:
                seen.append(job["state"])
            if job["state"] in states:
                return job
            if job["state"] == "dead" and "dead" not in states:
                self.fail("job %d is a dead letter: %s\nlog:\n%s" % (job_id, job, self.daemon.log()[-4000:]))
            time.sleep(0.1)
        self.fail("job %d not in %s after %ss: %s" % (job_id, states, timeout, job))

    def transcode_to_done(self, seconds=6, **kwargs):
        clip, video = self.upload_clip(seconds=seconds, **kwargs)
        job = self.wait_job(self.job_of(video["id"])["id"])
        self.assertEqual(job["state"], "done")
        return clip, video, job

    # --- HLS ------------------------------------------------------------------------
    def master(self, video_id):
        """(video variants [(attrs, uri)], audio media [(attrs, uri)]) of the master playlist."""
        text = self.get("/videos/%s/master.m3u8" % video_id).decode()
        lines = text.splitlines()
        self.assertEqual(lines[0], "#EXTM3U")
        variants, audio = [], []
        for i, line in enumerate(lines):
            if line.startswith("#EXT-X-STREAM-INF:"):
                variants.append((parse_attributes(line.split(":", 1)[1]), lines[i + 1]))
            elif line.startswith("#EXT-X-MEDIA:"):
                attrs = parse_attributes(line.split(":", 1)[1])
                audio.append((attrs, attrs.get("URI")))
        return variants, audio

    def media_playlist(self, uri):
        """{'map': init URI, 'segments': [(extinf seconds, uri)], 'endlist': bool} of a media playlist."""
        lines = self.get(uri).decode().splitlines()
        self.assertEqual(lines[0], "#EXTM3U")
        result = {"map": None, "segments": [], "endlist": False}
        for i, line in enumerate(lines):
            if line.startswith("#EXT-X-MAP:"):
                result["map"] = parse_attributes(line.split(":", 1)[1])["URI"]
            elif line.startswith("#EXTINF:"):
                result["segments"].append((float(line[len("#EXTINF:"):].split(",")[0]), lines[i + 1]))
            elif line == "#EXT-X-ENDLIST":
                result["endlist"] = True
        return result

    def renditions(self, video_id):
        """{rendition name: (kind, master attrs, media playlist URI)} of the published version."""
        variants, audio = self.master(video_id)
        out = {}
        for attrs, uri in variants:
            out[uri.rsplit("/", 1)[1][:-len(".m3u8")]] = ("video", attrs, uri)
        for attrs, uri in audio:
            out[uri.rsplit("/", 1)[1][:-len(".m3u8")]] = ("audio", attrs, uri)
        return out

    def download(self, playlist):
        """(init bytes, [segment bytes]) fetched by the playlist's URLs."""
        return self.get(playlist["map"]), [self.get(uri) for _, uri in playlist["segments"]]

    def write(self, name, *parts):
        path = self.path(name)
        with open(path, "wb") as f:
            for part in parts:
                f.write(part)
        return path

    def assert_playable(self, video_id, expected_duration):
        """Every rendition's init and segments answer 200 and init+segments probes to the expected duration."""
        for name, (kind, _, uri) in self.renditions(video_id).items():
            playlist = self.media_playlist(uri)
            self.assertTrue(playlist["endlist"], name)
            init, segments = self.download(playlist)
            path = self.write("%s-%s-all.mp4" % (video_id, name), init, *segments)
            fmt = ffprobe_json(path, "-show_format")["format"]
            self.assertAlmostEqual(float(fmt["duration"]), expected_duration, delta=0.1, msg=name)


class TranscodeTest(PipelineTestCase):
    def test_upload_is_transcoded_published_and_every_segment_probes_right(self):
        """Upload → job done → video ready; the master lists every rung with BANDWIDTH/RESOLUTION/CODECS; each
        rendition's init+segments (fetched by the playlist URLs) probe as h264/aac at the rung's size with the
        source duration; EXTINFs ramp 1 s, 2 s, rest; every video segment starts with a keyframe at the same pts in
        every rung; video starts at 0 and audio within one frame of it."""
        started = time.time()
        clip, video = self.upload_clip(seconds=6)
        job = self.wait_job(self.job_of(video["id"])["id"])
        self.assertEqual(job["progress"]["percent"], 100.0, job)
        elapsed = time.time() - started
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"])
        self.assertEqual(status, 200)
        self.assertEqual(fetched["state"], "ready", fetched)
        self.assertTrue(fetched["playback"]["complete"], fetched)

        renditions = self.renditions(video["id"])
        videos = {n: r for n, r in renditions.items() if r[0] == "video"}
        audios = {n: r for n, r in renditions.items() if r[0] == "audio"}
        self.assertEqual(sorted(videos), ["240p", "360p"], renditions)
        self.assertEqual(len(audios), 1, renditions)
        for name, (_, attrs, _) in videos.items():
            for key in ("BANDWIDTH", "RESOLUTION", "CODECS"):
                self.assertIn(key, attrs, (name, attrs))
            self.assertGreater(int(attrs["BANDWIDTH"]), 0)
            self.assertRegex(attrs["CODECS"], r"^avc1\.[0-9a-fA-F]{6},mp4a\.40\.2$")
            self.assertEqual(int(attrs["RESOLUTION"].split("x")[1]), int(name[:-1]))

        starts = {}  # video rendition → [segment start pts]
        first_video_pts = None
        for name, (kind, attrs, uri) in renditions.items():
            playlist = self.media_playlist(uri)
            self.assertTrue(playlist["endlist"], name)
            durations = [d for d, _ in playlist["segments"]]
            self.assertEqual(len(durations), 3, (name, durations))
            for got, want in zip(durations, [1.0, 2.0, 3.0]):
                self.assertAlmostEqual(got, want, delta=0.05, msg=(name, durations))
            init, segments = self.download(playlist)
            whole = self.write(name + "-all.mp4", init, *segments)
            probe = ffprobe_json(whole, "-show_format", "-show_streams")
            self.assertEqual(len(probe["streams"]), 1, (name, probe["streams"]))
            stream = probe["streams"][0]
            self.assertAlmostEqual(float(probe["format"]["duration"]), 6.0, delta=0.1, msg=name)
            self.assertAlmostEqual(sum(durations), 6.0, delta=0.1, msg=name)
            if kind == "video":
                width, height = (int(x) for x in attrs["RESOLUTION"].split("x"))
                self.assertEqual((stream["codec_name"], stream["width"], stream["height"]), ("h264", width, height))
                packets = ffprobe_packets(whole, "v")
                self.assertEqual(len(packets), 150, name)  # 6 s at 25 fps: every frame kept
                self.assertAlmostEqual(min(p["pts_time"] for p in packets), 0.0, delta=0.001, msg=name)
                first_video_pts = 0.0
                starts[name] = []
                for k, segment in enumerate(segments):
                    pair = self.write("%s-%d.mp4" % (name, k), init, segment)
                    packets = ffprobe_packets(pair, "v")
                    self.assertTrue(packets, (name, k))
                    self.assertIn("K", packets[0]["flags"], (name, k, packets[:3]))
                    start = min(p["pts_time"] for p in packets)
                    self.assertAlmostEqual(packets[0]["pts_time"], start, delta=0.001, msg=(name, k))
                    starts[name].append(start)
                # The segments start where the EXTINFs say.
                expected = [sum(durations[:k]) for k in range(len(durations))]
                for got, want in zip(starts[name], expected):
                    self.assertAlmostEqual(got, want, delta=0.002, msg=(name, starts[name], expected))
            else:
                self.assertEqual((stream["codec_name"], stream["channels"]), ("aac", 2), name)
                self.assertEqual(int(stream["sample_rate"]), 48000)
                audio_packets = ffprobe_packets(whole, "a")
                audio_start = min(p["pts_time"] for p in audio_packets)
        # Aligned keyframes: segment k starts at the same time in every rung.
        self.assertEqual(starts["360p"], starts["240p"], starts)
        self.assertEqual(first_video_pts, 0.0)
        self.assertLessEqual(abs(audio_start - first_video_pts), FRAME_S, audio_start)
        print("\n  upload→done for a 6 s 640x360 clip: %.1f s" % elapsed, end=" ")

    def test_dash_segment_timeline_urls_serve_the_hls_bytes(self):
        """When done, manifest.mpd is static; every $Time$ URL from each SegmentTimeline answers 200 with the bytes
        of the HLS segment of the same rendition and number (and the init the bytes of EXT-X-MAP)."""
        _, video, _ = self.transcode_to_done(seconds=6)
        mpd = ET.fromstring(self.get("/videos/%s/manifest.mpd" % video["id"]))
        self.assertEqual(mpd.get("type"), "static")
        self.assertIsNotNone(mpd.get("mediaPresentationDuration"))
        renditions = self.renditions(video["id"])
        representations = mpd.findall(".//mpd:Representation", MPD_NS)
        self.assertEqual(sorted(r.get("id") for r in representations), sorted(renditions))
        for rep in representations:
            name = rep.get("id")
            template = rep.find("mpd:SegmentTemplate", MPD_NS)
            if template is None:  # may sit on the AdaptationSet
                template = mpd.find(".//mpd:AdaptationSet[mpd:Representation[@id='%s']]/mpd:SegmentTemplate" % name,
                                    MPD_NS)
            self.assertIsNotNone(template, name)
            times, t = [], 0
            for s in template.findall("mpd:SegmentTimeline/mpd:S", MPD_NS):
                if s.get("t") is not None:
                    t = int(s.get("t"))
                for _ in range(int(s.get("r", "0")) + 1):
                    times.append(t)
                    t += int(s.get("d"))
            hls = self.media_playlist(renditions[name][2])
            self.assertEqual(len(times), len(hls["segments"]), name)
            self.assertEqual(times[0], 0, name)
            init_url = template.get("initialization").replace("$RepresentationID$", name)
            self.assertEqual(self.get(init_url), self.get(hls["map"]), name)
            for k, start in enumerate(times):
                url = template.get("media").replace("$RepresentationID$", name).replace("$Time$", str(start))
                self.assertEqual(self.get(url), self.get(hls["segments"][k][1]), (name, k, url))


class HeldPlaylistTest(PipelineTestCase):
    # Two blocking threads: one request may be held at a time.
    extra_args = PIPELINE_ARGS + ("--http.blocking_threads", "2")

    def test_a_rungs_playlist_waits_for_its_first_segment(self):
        """While a version is built, a player that started on the smallest rung switches up at once, to a rung
        whose first segment may not be stored yet: that playlist request is held until it is, then answered 200.
        With nothing coming it is a 503 with Retry-After after 6 s; beyond the held limit the 503 comes at once.
        (The version is put back to 'building' without its tallest rung's segments in the database, then the
        rows come back, as the transcoder would write them.)"""
        _, video, _ = self.transcode_to_done(seconds=6)
        renditions = self.renditions(video["id"])
        tallest = max((name for name, r in renditions.items() if r[0] == "video"),
                      key=lambda name: int(renditions[name][1]["RESOLUTION"].split("x")[1]))
        uri = renditions[tallest][2]
        db = sqlite3.connect(os.path.join(self.data_dir, "cinevault.db"), timeout=10)
        self.addCleanup(db.close)
        rendition_id, version_id = db.execute(
            "SELECT r.id, r.version_id FROM renditions r JOIN videos v ON v.published_version_id = r.version_id "
            "WHERE v.id = ? AND r.name = ?", (video["id"], tallest)).fetchone()
        rows = db.execute("SELECT rendition_id, number, start, duration, size, sha256 FROM segments "
                          "WHERE rendition_id = ?", (rendition_id,)).fetchall()

        def write(sql, params=()):
            with db:
                if sql:
                    db.execute(sql, params)
                db.execute("UPDATE renditions SET finished = 0 WHERE id = ?", (rendition_id,))
                db.execute("UPDATE versions SET state = 'building', updated_at = updated_at + 1 WHERE id = ?",
                           (version_id,))

        def held_get(answers):
            started = time.monotonic()
            answers["status"], answers["headers"], _ = self.daemon.request("GET", uri)
            answers["after_s"] = time.monotonic() - started

        # (Written behind the daemon's back, so in this order: it trusts what it has read until it writes.)
        write("DELETE FROM segments WHERE rendition_id = ?", (rendition_id,))
        answers = {}
        held_get(answers)
        self.assertEqual((answers["status"], answers["headers"].get("retry-after")), (503, "1"))
        self.assertGreater(answers["after_s"], 5.5)
        self.assertLess(answers["after_s"], 8.0)

        answers = {}
        held = threading.Thread(target=held_get, args=(answers,))
        held.start()
        time.sleep(1.5)
        self.assertTrue(held.is_alive(), "answered %s before the rung had a segment" % answers.get("status"))
        status, headers, _ = self.daemon.request("GET", uri)  # the one place to wait is taken
        self.assertEqual((status, headers.get("retry-after")), (503, "1"))
        with db:
            db.executemany("INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)", rows)
        write(None)
        held.join(10)
        self.assertEqual(answers["status"], 200)
        self.assertLess(answers["after_s"], 3.0, "answered once the segment was there, not at the hold's end")


class CrashResumeTest(PipelineTestCase):
    def test_kill_9_mid_transcode_resumes_after_restart(self):
        """SIGKILL while the job runs: after a restart the job is back in the queue, then runs to done, and the
        video is published and playable (every segment of every rendition, full duration)."""
        _, video = self.upload_clip(seconds=20)
        job_id = self.job_of(video["id"])["id"]
        running = self.wait_job(job_id, states=("running", "done"), timeout=60)
        self.assertEqual(running["state"], "running", "the job finished before it could be killed")
        # Restart without workers first, to see the job returned to the queue.
        self.crash_and_restart(*PIPELINE_ARGS, "--pipeline.concurrent_jobs", "0")
        job = self.get_json("/api/v1/jobs/%d" % job_id)
        self.assertEqual(job["state"], "queued", job)
        self.assertEqual(job["attempts"], 1, job)  # the attempt that died counts
        # Now with workers: it resumes and publishes.
        self.restart_daemon(*PIPELINE_ARGS)
        seen = []
        job = self.wait_job(job_id, timeout=180, seen=seen)
        self.assertEqual(job["attempts"], 2, job)
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"])
        self.assertEqual(fetched["state"], "ready", fetched)
        self.assertEqual(fetched["playback"]["version"], 1, fetched)
        self.assert_playable(video["id"], 20.0)


class PictureSizeChangeTest(PipelineTestCase):
    def test_a_picture_size_that_changes_mid_stream_keeps_every_rungs_size(self):
        """A capture whose pictures change size halfway (two MPEG-TS parts joined end to end, 640x360 then 480x360,
        and the other way round: what a TV recorder or a screen recording gives) transcodes: every rung keeps its
        planned size throughout and the video plays to its end."""
        for order, sizes in enumerate((("640x360", "480x360"), ("480x360", "640x360"))):
            with self.subTest(sizes=sizes):
                self.check_size_change(order, sizes)

    def check_size_change(self, order, sizes):
        parts = []
        for k, size in enumerate(sizes):
            parts.append(make_clip(self.path("part%d-%d.ts" % (order, k)), seconds=2, size=size, rate=30,
                                   extra=("-output_ts_offset", str(2 * k), "-f", "mpegts")))
        joined = self.path("joined%d.ts" % order)
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    out.write(f.read())
        found = {(f["width"], f["height"]) for f in
                 ffprobe_json(joined, "-select_streams", "v", "-show_entries", "frame=width,height")["frames"]}
        self.assertEqual(found, {(640, 360), (480, 360)}, "the source should change size")
        status, _, video = self.daemon.upload(joined, "title=joined")
        self.assertEqual(status, 201, video)
        job = self.wait_job(self.job_of(video["id"])["id"])
        self.assertEqual(job["state"], "done", job)
        for name, (kind, attrs, uri) in self.renditions(video["id"]).items():
            if kind != "video":
                continue
            width, height = (int(v) for v in attrs["RESOLUTION"].split("x"))
            init, segments = self.download(self.media_playlist(uri))
            path = self.write("joined%d-%s.mp4" % (order, name), init, *segments)
            frames = ffprobe_json(path, "-select_streams", "v", "-show_entries", "frame=width,height")["frames"]
            self.assertEqual({(f["width"], f["height"]) for f in frames}, {(width, height)}, name)
        self.assert_playable(video["id"], 4.0)


class DeadLetterTest(PipelineTestCase):
    extra_args = PIPELINE_ARGS + ("--pipeline.max_attempts", "2")

    def test_job_failing_every_try_is_a_dead_letter_and_published_version_keeps_playing(self):
        """With the source object replaced by garbage, a re-transcode ends "dead" with a classified error, a
        message and a log tail; the published version still plays; POST /retry queues it again."""
        _, video, _ = self.transcode_to_done(seconds=4)
        sha256 = video["source"]["sha256"]
        with open(self.object_path(sha256), "wb") as f:
            f.write(os.urandom(64 * 1024))
        status, headers, body = self.daemon.request("POST", "/api/v1/videos/%s/transcode" % video["id"],
                                                    headers=self.daemon.auth())
        self.assertEqual(status, 202, body)
        job_id = json.loads(body)["id"]
        self.assertEqual(headers["location"], "/api/v1/jobs/%d" % job_id)
        self.wait_job(job_id, states=("dead",), timeout=90)
        job = self.daemon.json("GET", "/api/v1/jobs/%d" % job_id, headers=self.daemon.auth())[1]  # a key sees the log
        error = job.get("error")
        self.assertIsNotNone(error, job)
        self.assertIn(error["class"], ERROR_CLASSES, job)
        self.assertTrue(error["message"], job)
        self.assertIn("log_tail", error, job)
        self.assertIsInstance(error["log_tail"], str)
        self.assertTrue(error["log_tail"].strip(), job)  # what the worker logged for this job
        print("\n  dead letter: class=%s attempts=%s message=%r" % (error["class"], job["attempts"],
                                                                   error["message"][:120]), end=" ")
        # The dead-letter list has it, the done list does not; a state that does not exist is a 400.
        dead_ids = [j["id"] for j in self.get_json("/api/v1/jobs?state=dead")["jobs"]]
        self.assertIn(job_id, dead_ids)
        self.assertNotIn(job_id, [j["id"] for j in self.get_json("/api/v1/jobs?state=done")["jobs"]])
        status, _, body = self.daemon.request("GET", "/api/v1/jobs?state=finished", headers=self.daemon.auth())
        self.assertEqual(status, 400, body)
        self.assertIn("state must be", json.loads(body)["error"]["message"])

        # The published version is untouched.
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + video["id"])
        self.assertEqual(fetched["state"], "ready", fetched)  # a failed re-run does not unpublish
        self.assertEqual(fetched["playback"]["version"], 1, fetched)
        self.assertTrue(fetched["playback"]["complete"], fetched)
        self.assert_playable(video["id"], 4.0)

        status, _, body = self.daemon.request("POST", "/api/v1/jobs/%d/retry" % job_id, headers=self.daemon.auth())
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["state"], "queued")
        # It fails again (the source is still garbage) and is a dead letter once more.
        job = self.wait_job(job_id, states=("dead",), timeout=90)
        self.assertIn(job["error"]["class"], ERROR_CLASSES, job)


    def test_configured_max_attempts_is_the_jobs_limit(self):
        """--pipeline.max_attempts 2: jobs report max_attempts 2 and are dead letters after their second try."""
        _, video, job = self.transcode_to_done(seconds=2)
        self.assertEqual(job["max_attempts"], 2, job)


class RetranscodeTest(PipelineTestCase):
    def test_retranscode_never_breaks_the_published_version(self):
        """While a new version is transcoded, every URL of the published one (playlists, inits, segments) answers
        200 with the same bytes, and the master stays on v1; when the job is done the master points at v2."""
        _, video, _ = self.transcode_to_done(seconds=6)
        vid = video["id"]
        remembered = {}
        for name, (_, _, uri) in self.renditions(vid).items():
            self.assertIn("/v1/", uri)
            remembered[uri] = self.get(uri)
            playlist = self.media_playlist(uri)
            for url in [playlist["map"]] + [u for _, u in playlist["segments"]]:
                remembered[url] = self.get(url)
        status, _, body = self.daemon.request("POST", "/api/v1/videos/%s/transcode" % vid, headers=self.daemon.auth())
        self.assertEqual(status, 202, body)
        job_id = json.loads(body)["id"]
        rounds = 0
        while True:
            job = self.get_json("/api/v1/jobs/%d" % job_id)
            self.assertNotEqual(job["state"], "dead", job)
            done = job["state"] == "done"
            if not done:
                # The master may move to v2 only once v2 is complete (the job is marked done
                # just after that publishing transaction, so check the version, not the job).
                for attrs, uri in self.master(vid)[0]:
                    if "/v1/" not in uri:
                        self.assertIn("/v2/", uri)
                        self.assertIn("#EXT-X-ENDLIST", self.get(uri).decode(),
                                      "the master left v1 before v2 was complete")
            for url, data in remembered.items():
                self.assertEqual(self.get(url), data, url)
            rounds += 1
            if done:
                break
        self.assertGreater(rounds, 1)
        variants, audio = self.master(vid)
        for _, uri in variants + audio:
            self.assertIn("/videos/%s/v2/" % vid, uri)
        status, fetched = self.daemon.json("GET", "/api/v1/videos/" + vid)
        self.assertEqual(fetched["playback"]["version"], 2, fetched)
        self.assert_playable(vid, 6.0)


class ThumbnailTest(PipelineTestCase):
    def gray_pixels(self, image_path):
        """The image decoded by the ffmpeg CLI as 8-bit gray pixels."""
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", image_path, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                             capture_output=True, check=True, timeout=60)
        return out.stdout

    def test_poster_skips_black_frames_and_trickplay_track_covers_the_video(self):
        """A clip that is black for its first 5 s and a test pattern after: the posters (JPEG and WebP, 320 px
        wide and at most the source's width) show the pattern, not black; the WebVTT track's cues are
        contiguous from 0 to the end and each points into a sprite sheet that ffprobe reads as a JPEG big
        enough for the tile."""
        clip = self.path("black-then-pattern.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=black:s=640x360:r=25:d=5 [b]; testsrc2=s=640x360:r=25:d=5 [t]; [b][t] concat=n=2",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip], check=True)
        status, _, video = self.daemon.upload(clip, "title=black")
        self.assertEqual(status, 201, video)
        self.wait_job(self.job_of(video["id"])["id"])
        one = self.get_json("/api/v1/videos/" + video["id"])
        thumbnails = one["thumbnails"]
        self.assertIsNotNone(thumbnails)
        # The library lists it as its own page shows it (playback, thumbnails, job).
        self.assertEqual([v for v in self.get_json("/api/v1/videos")["videos"] if v["id"] == video["id"]], [one])

        posters = thumbnails["poster"]
        self.assertEqual([p["width"] for p in posters], [320, 640], posters)  # 1280 is capped at the source
        for poster in posters:
            self.assertEqual(poster["height"] * 16, poster["width"] * 9)
            for fmt, codec in (("jpeg", "mjpeg"), ("webp", "webp")):
                path = self.write("poster-%d.%s" % (poster["width"], fmt), self.get(poster[fmt]))
                stream = ffprobe_json(path, "-show_streams")["streams"][0]
                self.assertEqual((stream["codec_name"], stream["width"], stream["height"]),
                                 (codec, poster["width"], poster["height"]))
                pixels = self.gray_pixels(path)
                mean = sum(pixels) / len(pixels)
                deviation = (sum((p - mean) ** 2 for p in pixels[::7]) / len(pixels[::7])) ** 0.5
                self.assertGreater(deviation, 30, "%s poster looks flat (black?): mean %.0f" % (fmt, mean))

        vtt = self.get(thumbnails["trickplay"]).decode()
        self.assertTrue(vtt.startswith("WEBVTT\n"))
        cues = re.findall(r"(\d+):(\d\d):(\d\d\.\d{3}) --> (\d+):(\d\d):(\d\d\.\d{3})\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt)
        self.assertGreaterEqual(len(cues), 3, vtt)
        seconds = lambda h, m, s: int(h) * 3600 + int(m) * 60 + float(s)
        previous_end = 0.0
        sheets = {}
        for cue in cues:
            start, end = seconds(*cue[0:3]), seconds(*cue[3:6])
            self.assertAlmostEqual(start, previous_end, places=3)
            self.assertGreater(end, start)
            previous_end = end
            url, (x, y, w, h) = cue[6], map(int, cue[7:11])
            self.assertRegex(url, r"^/objects/[0-9a-f]{64}\.jpg$")
            if url not in sheets:
                path = self.write("sheet-%d.jpg" % len(sheets), self.get(url))
                sheets[url] = ffprobe_json(path, "-show_streams")["streams"][0]
            sheet = sheets[url]
            self.assertEqual(sheet["codec_name"], "mjpeg")
            self.assertEqual((w, h), (160, 90))
            self.assertLessEqual(x + w, sheet["width"])
            self.assertLessEqual(y + h, sheet["height"])
        self.assertAlmostEqual(previous_end, 10.0, delta=0.1)

        # Referenced objects survive garbage collection.
        status, _, body = self.daemon.request("POST", "/api/v1/admin/gc", headers=self.daemon.auth())
        self.assertEqual(status, 200, body)
        for url in [thumbnails["trickplay"], *sheets, *(p[f] for p in posters for f in ("jpeg", "webp"))]:
            self.get(url)


class EncoderFallbackTest(PipelineTestCase):
    def test_log_says_no_hardware_encoder_and_libx264_is_used(self):
        """With encoder = auto on a machine without a GPU, the log says no hardware encoder opened and that
        libx264 encodes instead."""
        self.transcode_to_done(seconds=2)
        self.assertRegex(self.daemon.log(), r"no hardware H\.264 encoder.*libx264")


if __name__ == "__main__":
    unittest.main()
