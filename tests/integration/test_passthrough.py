"""Source passthrough: an H.264 source that browsers play as it is becomes the top rung packet for
packet, its IDR frames start the segments of every rung, and players read it as they read an
encoded one.

The source is what a phone records, scaled down to keep the suite quick: H.264 High with B-frames
(x264 veryfast, the reorder delay of a real encoder), an IDR frame every second, AAC stereo. The
daemon runs the production encoder settings for the rungs below. The timing checks are
test_timing's (segment starts as MSE and FFmpeg read them, in every rung alike, the first frame at
0, the sound in sync).
"""
import json
import os
import re
import subprocess
import time
import unittest

import test_timing
from harness import DaemonTestCase, played, vlc_copy

SOURCE_SECONDS = "9.5"


def make_phone_clip(path, gop_frames=30):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", SOURCE_SECONDS,
                    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
                    "-g", str(gop_frames), "-keyint_min", str(gop_frames), "-sc_threshold", "0",
                    "-c:a", "aac", "-ac", "2", path], check=True, timeout=120)
    return path


def packet_hashes(url, *select):
    """[(pts, flags, md5 of the packet's bytes)] of the first video stream, as ffprobe reads URL."""
    out = subprocess.run(["ffprobe", "-v", "error", *select, "-show_packets", "-show_data_hash", "md5",
                          "-show_entries", "packet=pts,flags,data_hash", "-of", "json", url],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("ffprobe %s: %s" % (url, out.stderr))
    return [(p["pts"], p["flags"], p["data_hash"]) for p in json.loads(out.stdout)["packets"]]


class PassthroughTest(DaemonTestCase):
    transcode = True
    extra_args = ("--pipeline.retry_backoff_s", "0")  # the production encoder settings
    maxDiff = None
    passed_through = ("360p", "audio_0")

    # The timing checks of test_timing, on these clips.
    get = test_timing.TimingMatrixTest.get
    renditions = test_timing.TimingMatrixTest.renditions
    timelines = test_timing.TimingMatrixTest.timelines
    url = test_timing.TimingMatrixTest.url
    ffmpeg_video_packets = test_timing.TimingMatrixTest.ffmpeg_video_packets
    check_clip = test_timing.TimingMatrixTest.check_clip
    check_renditions = test_timing.TimingMatrixTest.check_renditions

    def upload_and_wait(self, path):
        status, _, video = self.daemon.upload(path, "title=" + os.path.basename(path))
        self.assertEqual(status, 201, video)
        return self.wait_done(video["id"])

    def wait_done(self, video_id, after_job=0):
        deadline = time.time() + 180
        while time.time() < deadline:
            status, video = self.daemon.json("GET", "/api/v1/videos/" + video_id, headers=self.daemon.auth())
            job = video.get("job") or {}
            if job.get("id", 0) > after_job and job.get("state") in ("done", "dead"):
                self.assertEqual(job["state"], "done", job)
                return video_id
            time.sleep(0.2)
        self.fail("not transcoded in time; log:\n" + self.daemon.log()[-3000:])

    def video_starts(self, video_id):
        """{representation: [segment start in seconds]} of the video rungs, from the MPD."""
        return {name: starts for name, starts in self.timelines(video_id).items() if name.endswith("p")}

    def job_says(self, video_id, text):
        return re.search(r"\(video %s\): %s" % (video_id, re.escape(text)), self.daemon.log()) is not None

    def test_the_top_rung_is_the_source_packet_for_packet(self):
        source = make_phone_clip(self.path("phone.mp4"))
        video_id = self.upload_and_wait(source)
        self.assertTrue(self.job_says(video_id, "the top rung is the source's own video (passthrough)"),
                        self.daemon.log()[-3000:])

        # Byte-identical video packets, with their timestamps, as ffprobe reads the source and the 360p playlist.
        top = packet_hashes(self.url("/videos/%s/v1/360p.m3u8" % video_id))
        self.assertEqual(len(top), 285)
        self.assertEqual(top, packet_hashes(source, "-select_streams", "v:0"))

        # The AAC-LC stereo audio passes through too: the same packets, its priming in the track's edit list.
        self.assertTrue(self.job_says(video_id, "1 audio rendition(s) are the source's AAC (passthrough)"),
                        self.daemon.log()[-3000:])
        audio = packet_hashes(self.url("/videos/%s/v1/audio_0.m3u8" % video_id))
        self.assertEqual([h for _, _, h in audio],
                         [h for _, _, h in packet_hashes(source, "-select_streams", "a:0")])

        # The segments start at the source's IDR frames (one a second) by the fast-start ramp:
        # 1 s, 2 s, then 4 s; the last one runs to the end. Every rung alike.
        starts = self.video_starts(video_id)
        self.assertEqual(sorted(starts), ["240p", "360p"])
        for name, times in starts.items():
            self.assertEqual([round(t, 6) for t in times], [0.0, 1.0, 3.0, 7.0], name)
        # And as MSE and FFmpeg read them: keyframes first, the same times in every rung, the
        # first frame at 0, the sound where the source has it.
        self.assertEqual(self.check_clip(video_id, 0.0), [])

        # The variant names the source's own codec string and a peak bandwidth that covers it.
        master = self.get("/videos/%s/master.m3u8" % video_id).decode()
        variant = next(line for line in master.splitlines() if "RESOLUTION=640x360" in line)
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                "stream=profile,level,bit_rate", "-of", "json", source],
                               capture_output=True, text=True, check=True)
        facts = json.loads(probe.stdout)["streams"][0]
        self.assertEqual(facts["profile"], "High")
        self.assertIn('CODECS="avc1.6400%02x,' % facts["level"], variant)
        bandwidth = int(re.search(r"BANDWIDTH=(\d+)", variant).group(1))
        self.assertGreaterEqual(bandwidth, int(facts["bit_rate"]))

        # VLC's own HLS reader plays it through.
        out = self.path("vlc.ts")
        vlc = vlc_copy(self.url("/videos/%s/master.m3u8" % video_id), out, self.tmp)
        self.assertEqual(vlc.returncode, 0, vlc.stderr[-2000:])
        kinds, duration = played(out) or (None, 0)
        self.assertEqual(kinds, ["audio", "video"], vlc.stderr[-2000:])
        self.assertGreater(duration, 9.0, "VLC read the whole 9.5 s clip")

        # pipeline.passthrough off: a new version encodes the top rung too, on the nominal grid.
        self.restart_daemon("--pipeline.retry_backoff_s", "0", "--pipeline.passthrough", "off")
        status, body = self.daemon.json("POST", "/api/v1/videos/%s/transcode" % video_id, headers=self.daemon.auth())
        self.assertIn(status, (201, 202), body)
        self.wait_done(video_id, after_job=1)
        self.assertFalse(self.job_says(video_id, "the top rung is the source's own video"))
        encoded = packet_hashes(self.url("/videos/%s/v2/360p.m3u8" % video_id))
        self.assertNotEqual([h for _, _, h in encoded], [h for _, _, h in top])
        for name, times in self.video_starts(video_id).items():
            self.assertEqual([round(t, 6) for t in times], [0.0, 1.0, 3.0, 7.0], name)

    def test_other_containers_and_clocks_keep_their_timing(self):
        """Matroska at 23.976 fps (a millisecond clock, a first frame at 21 ms; no B-frames: Matroska
        keeps no decode times for them) and an MPEG-TS with B-frames that starts at 10 s with its sound
        0.2 s late (a 90 kHz clock, Annex B): passed through, cut at their IDR frames alike in every
        rung, the first frame at 0 and the sound where the source has it."""
        directory = self.tmp
        one_second = ["-force_key_frames", "expr:gte(t,n_forced)", "-sc_threshold", "0"]
        clips = test_timing.make(directory, test_timing.sources("24000/1001"),
                                 [("film.mkv", test_timing.X264_SOURCE + ["-bf", "0"] + one_second, 0.0)])
        clips += test_timing.make(directory, test_timing.sources(25, test_timing.TS_AUDIO_DELAY_S),
                                  [("broadcast.ts", test_timing.X264_SOURCE + ["-bf", "2", "-muxdelay", "0",
                                                                            "-muxpreload", "0", "-output_ts_offset",
                                                                            "10"] + one_second,
                                    test_timing.TS_AUDIO_DELAY_S)])
        for clip, sound_s in clips:
            with self.subTest(clip=os.path.basename(clip)):
                video_id = self.upload_and_wait(clip)
                self.assertTrue(self.job_says(video_id, "the top rung is the source's own video"),
                                self.daemon.log()[-3000:])
                self.assertEqual(self.check_clip(video_id, sound_s), [])
                for name, times in self.video_starts(video_id).items():
                    self.assertEqual(len(times), 3, (name, times))  # 1 s, 2 s, then the last 0.2 s

    def test_keyframes_too_far_apart_or_no_decode_times_are_encoded(self):
        """IDR frames 5 s apart (more than a segment), or Matroska with B-frames (no decode times):
        the top rung is encoded, and the job's log says why."""
        video_id = self.upload_and_wait(make_phone_clip(self.path("sparse.mp4"), gop_frames=150))
        self.assertTrue(self.job_says(video_id, "no passthrough: IDR frames 5.00 s apart"), self.daemon.log()[-3000:])
        self.assertEqual(self.check_clip(video_id, 0.0), [])
        [(mkv, _)] = test_timing.make(self.tmp, test_timing.sources(25),
                                      [("bframes.mkv", test_timing.X264_SOURCE + ["-bf", "2"], 0.0)])
        video_id = self.upload_and_wait(mkv)
        self.assertTrue(self.job_says(video_id, "no passthrough: packets without a decode time"),
                        self.daemon.log()[-3000:])


if __name__ == "__main__":
    unittest.main()
