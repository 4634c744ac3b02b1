"""Timing at every frame rate: aligned rung boundaries and lip sync as each kind of player reads them.

Short clips at 10, 12, 15, 23.976, 24, 25, 29.97, 30, 50, 59.94 and 60 fps in MP4 and MKV (H.264
with B-frames, AAC) and AVI (MJPEG, MP3, as old cameras record), a variable-frame-rate clip and an
MPEG-TS that starts at 10 s with its audio 0.2 s after its video, are transcoded by one daemon with
the production encoder settings (x264 veryfast: B-frames, so every video rung carries a reorder
delay). For every rendition the segments are fetched by the URLs the playlists give and read twice,
by two independent readers:
- the ISO BMFF reading of tfdt, trun and the edit list (cmaf_boxes.py), which is what Media Source
  Extensions do in Chromium behind hls.js, dash.js and Shaka;
- FFmpeg's mov demuxer (ffprobe), what mpv, ffplay and other FFmpeg-based players present.
Each must show: every video segment starting with a keyframe, at the same presentation time in every
rung; that time within half a frame of the playlist's cumulative EXTINF and of the MPD's
SegmentTimeline; the first video frame at 0 (the source's first frame) and the first audio sample
where the source's timestamps put it.
"""
import concurrent.futures
import json
import os
import re
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

import cmaf_boxes
from harness import DaemonTestCase

MPD_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
SECONDS = 3.2          # segments [0, 1), [1, 3), [3, 3.2): two boundaries of the fast-start ramp
SIZE = "640x180"       # two rungs (640x180 and 426x120, of the 360p and 240p boxes) for little work
RATES = ["10", "12", "15", "24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"]
AAC_FRAME_S = 1024 / 48000
TS_AUDIO_DELAY_S = 0.2
LAVFI_VIDEO = "testsrc2=size=%s:rate=%s" % (SIZE, "{rate}")
LAVFI_AUDIO = "sine=frequency=440:sample_rate=48000"


def clip_recipes():
    """Lists of (file name, ffmpeg arguments before the output), each list made in its order."""
    groups = []
    for rate in RATES:
        name = rate.replace("/", "_")
        sources = ["-f", "lavfi", "-i", LAVFI_VIDEO.format(rate=rate), "-f", "lavfi", "-i", LAVFI_AUDIO,
                   "-t", str(SECONDS)]
        # B-frames in the source too: the MP4 then has an edit list and reordered timestamps of its own.
        groups.append([("r%s.mp4" % name, sources + ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2",
                                                     "-pix_fmt", "yuv420p", "-c:a", "aac"]),
                       ("r%s.mkv" % name, ["-i", "r%s.mp4" % name, "-c", "copy"])])
        groups.append([("r%s.avi" % name, sources + ["-c:v", "mjpeg", "-q:v", "8", "-c:a", "libmp3lame"])])
    # Variable frame rate: 30 fps with every fifth frame left out, timestamps kept (24 fps on average).
    groups.append([("vfr.mkv", ["-f", "lavfi", "-i", LAVFI_VIDEO.format(rate=30), "-f", "lavfi", "-i", LAVFI_AUDIO,
                                "-t", str(SECONDS), "-vf", "select='not(eq(mod(n,5),2))'", "-fps_mode", "vfr",
                                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])])
    # A broadcast recording: timestamps from 10 s, the audio 0.2 s after the video.
    groups.append([("offset.ts", ["-f", "lavfi", "-i", LAVFI_VIDEO.format(rate=25),
                                  "-itsoffset", str(TS_AUDIO_DELAY_S), "-f", "lavfi", "-i", LAVFI_AUDIO,
                                  "-t", str(SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2",
                                  "-pix_fmt", "yuv420p", "-c:a", "aac",
                                  "-muxdelay", "0", "-muxpreload", "0", "-output_ts_offset", "10"])])
    return groups


def make(directory, name, args):
    """(path, where its sound starts relative to its first video frame, in seconds)."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, name], cwd=directory, check=True, timeout=120)
    path = os.path.join(directory, name)
    return path, source_sound_s(path)


def ffprobe_json(path, *args):
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, path], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError("ffprobe %s: %s" % (path, out.stderr))
    return json.loads(out.stdout)


def source_sound_s(path):
    """Where a source's sound starts relative to its first video frame, in seconds, by its timestamps as
    FFmpeg reads them (the clips' audio is a tone from its first sample)."""
    probe = ffprobe_json(path, "-show_entries", "stream=index,codec_type:packet=stream_index,pts_time,dts_time",
                         "-read_intervals", "%+#40")
    kinds = {s["index"]: s["codec_type"] for s in probe["streams"]}
    first = {}
    for p in probe["packets"]:
        time_s = float(p["pts_time"] if p.get("pts_time", "N/A") != "N/A" else p["dts_time"])
        kind = kinds[p["stream_index"]]
        first[kind] = min(first.get(kind, time_s), time_s)
    return max(0.0, first["audio"] - first["video"])


def sound_onset_s(path):
    """When the sound starts in a file's audio as FFmpeg presents it (its timestamps kept), by silencedetect."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "info", "-copyts", "-i", path, "-map", "0:a:0",
                          "-af", "silencedetect=noise=-30dB:d=0.05", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    starts = re.findall(r"silence_start: ([-0-9.e]+)", out.stderr)
    ends = re.findall(r"silence_end: ([0-9.]+)", out.stderr)
    first_pts = re.search(r"Duration: .*?, start: ([-0-9.]+)", out.stderr)
    start_s = float(first_pts.group(1)) if first_pts else 0.0
    if not starts or float(starts[0]) > start_s + 0.01:
        return start_s  # sound from the first sample
    return float(ends[0])


def parse_attributes(text):
    return {name: value.strip('"') for name, value in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)}


class TimingMatrixTest(DaemonTestCase):
    transcode = True
    # The production encoder settings (no --pipeline.x264_preset): B-frames on.
    extra_args = ("--pipeline.retry_backoff_s", "0")
    maxDiff = None

    def get(self, path):
        status, _, body = self.daemon.request("GET", path)
        self.assertEqual(status, 200, "GET %s -> %s" % (path, status))
        return body

    def test_every_rate_and_container_cuts_every_rung_alike_and_starts_in_sync(self):
        started = time.monotonic()
        videos = {}
        # Each clip is uploaded as soon as it is made: the daemon transcodes while the rest are made.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            made = [pool.submit(lambda group: [make(self.tmp, *recipe) for recipe in group], group)
                    for group in clip_recipes()]
            for future in concurrent.futures.as_completed(made):
                for clip, sound_s in future.result():
                    status, _, video = self.daemon.upload(clip, "title=" + os.path.basename(clip))
                    self.assertEqual(status, 201, (clip, video))
                    videos[clip] = (video["id"], sound_s)
        self.wait_for_jobs({video_id for video_id, _ in videos.values()}, timeout=600)
        transcoded = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            failures = dict(zip(videos, pool.map(lambda facts: self.check_clip(*facts), videos.values())))
        for clip, found in failures.items():
            with self.subTest(clip=os.path.basename(clip)):
                self.assertEqual(found, [])
        print("\n%d clips made and transcoded in %.1f s, checked in %.1f s"
              % (len(videos), transcoded - started, time.monotonic() - transcoded))

    def wait_for_jobs(self, video_ids, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.daemon.json("GET", "/api/v1/jobs", headers=self.daemon.auth())
            self.assertEqual(status, 200, body)
            jobs = {j["video_id"]: j for j in body["jobs"] if j["video_id"] in video_ids}
            dead = [j for j in jobs.values() if j["state"] == "dead"]
            self.assertFalse(dead, dead)
            if len(jobs) == len(video_ids) and all(j["state"] == "done" for j in jobs.values()):
                return
            time.sleep(0.25)
        self.fail("jobs not done after %s s" % timeout)

    # --- what the players are given ----------------------------------------------------
    def renditions(self, video_id):
        """{name: {"kind", "playlist": [(extinf, uri)], "map", "frame_rate"}} from the master playlist."""
        lines = self.get("/videos/%s/master.m3u8" % video_id).decode().splitlines()
        found = {}
        for i, line in enumerate(lines):
            if line.startswith("#EXT-X-STREAM-INF:"):
                attrs = parse_attributes(line.split(":", 1)[1])
                found[lines[i + 1]] = ("video", float(attrs["FRAME-RATE"]))
            elif line.startswith("#EXT-X-MEDIA:") and "TYPE=AUDIO" in line:
                found[parse_attributes(line.split(":", 1)[1])["URI"]] = ("audio", None)
        result = {}
        for uri, (kind, rate) in found.items():
            text = self.get(uri).decode().splitlines()
            segments = [(float(l[8:].split(",")[0]), text[i + 1]) for i, l in enumerate(text) if l.startswith("#EXTINF:")]
            init = re.search(r'URI="([^"]+)"', next(l for l in text if l.startswith("#EXT-X-MAP:"))).group(1)
            self.assertIn("#EXT-X-ENDLIST", text, uri)
            result[uri.rsplit("/", 1)[1][:-len(".m3u8")]] = {"kind": kind, "frame_rate": rate, "map": init,
                                                            "segments": segments}
        return result

    def timelines(self, video_id):
        """{representation id: [segment start in seconds]} from the MPD's SegmentTimelines."""
        mpd = ET.fromstring(self.get("/videos/%s/manifest.mpd" % video_id))
        result = {}
        for rep in mpd.findall(".//mpd:Representation", MPD_NS):
            template = rep.find("mpd:SegmentTemplate", MPD_NS)
            timescale = int(template.get("timescale"))
            starts, t = [], 0
            for s in template.findall("mpd:SegmentTimeline/mpd:S", MPD_NS):
                t = int(s.get("t", t))
                for _ in range(int(s.get("r", "0")) + 1):
                    starts.append(t / timescale)
                    t += int(s.get("d"))
            result[rep.get("id")] = starts
        return result

    # --- the checks -------------------------------------------------------------------
    def check_clip(self, video_id, sound_s):
        """What is wrong with the timing of a clip's renditions: [] when nothing. Runs on a pool thread."""
        failures = []

        def expect(condition, what):
            if not condition:
                failures.append(what)

        def near(value, expected, delta, what):
            expect(abs(value - expected) <= delta, "%s: %.6f, expected %.6f within %.6f" % (what, value, expected, delta))

        try:
            self.check_renditions(video_id, sound_s, expect, near)
        except (AssertionError, KeyError, ValueError, StopIteration) as error:
            failures.append("%s: %r" % (type(error).__name__, error))
        return failures

    def check_renditions(self, video_id, sound_s, expect, near):
        renditions = self.renditions(video_id)
        timelines = self.timelines(video_id)
        video = sorted(n for n, r in renditions.items() if r["kind"] == "video")
        audio = [n for n, r in renditions.items() if r["kind"] == "audio"]
        expect(len(video) >= 2, "a clip of %s has two rungs, not %s" % (SIZE, video))
        expect(len(audio) == 1, "one audio rendition, not %s" % audio)
        frame_s = 1 / renditions[video[0]]["frame_rate"]
        starts = {}
        for name, rendition in renditions.items():
            init = self.get(rendition["map"])
            segments = [self.get(uri) for _, uri in rendition["segments"]]
            track = cmaf_boxes.Track(init)
            whole = self.path("%s-%s.mp4" % (video_id, name))
            with open(whole, "wb") as f:
                f.write(init + b"".join(segments))
            mse = [cmaf_boxes.presentation(track, s) for s in segments]
            starts[name] = [t for t, _ in mse]
            cumulative = [sum(d for d, _ in rendition["segments"][:k]) for k in range(len(segments))]
            expect(len(timelines[name]) == len(segments), "%s: the MPD lists %d segments, the playlist %d"
                   % (name, len(timelines[name]), len(segments)))
            for k, t in enumerate(starts[name]):
                near(t, cumulative[k], frame_s / 2, "%s segment %d against the EXTINF sum" % (name, k))
                near(t, timelines[name][k], frame_s / 2, "%s segment %d against the MPD" % (name, k))
            if rendition["kind"] == "video":
                # B-frames on: the edit list carries their reorder delay (two frames with x264's pyramid).
                near(track.edit_media_time / track.timescale, 2 * frame_s, 1e-6, "%s edit list" % name)
                expect(all(key for _, key in mse), "%s: every segment starts with a keyframe" % name)
                # FFmpeg's reading: keyframes where the segments start, the first frame at 0.
                packets = ffprobe_json(whole, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")
                keyframes = sorted(float(p["pts_time"]) for p in packets["packets"] if p["flags"].startswith("K"))
                expect(len(keyframes) == len(segments), "%s: %d keyframes in %d segments"
                       % (name, len(keyframes), len(segments)))
                for k, t in enumerate(keyframes[:len(segments)]):
                    near(t, starts[name][k], 1e-3, "%s segment %d as ffprobe reads it" % (name, k))
                near(min(float(p["pts_time"]) for p in packets["packets"]), 0, 1e-6, "%s: ffprobe's first frame" % name)
            else:
                # The sound starts where the source has it relative to its first video frame, as
                # FFmpeg presents it (its decoder, its timestamps).
                near(sound_onset_s(whole), sound_s, frame_s, "%s: where the sound starts" % name)
        # Every rung cuts at the same presentation times, the first at 0; the audio nearest them.
        for name in video[1:]:
            expect(len(starts[name]) == len(starts[video[0]]), "%s and %s differ in segments" % (name, video[0]))
            for k, t in enumerate(starts[name][:len(starts[video[0]])]):
                near(t, starts[video[0]][k], 1e-6, "%s segment %d against %s" % (name, k, video[0]))
        near(starts[video[0]][0], 0.0, 0, "the first video segment")
        for k, t in enumerate(starts[audio[0]][:len(starts[video[0]])]):
            near(t, starts[video[0]][k], AAC_FRAME_S / 2 + 1e-6, "audio segment %d against the video" % k)


if __name__ == "__main__":
    unittest.main()
