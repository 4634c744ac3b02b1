"""Timing at every frame rate: aligned rung boundaries and lip sync as each kind of player reads them.

Short clips at 10, 12, 15, 23.976, 24, 25, 29.97, 30, 50, 59.94 and 60 fps in MP4 and MKV (H.264
with B-frames, AAC) and AVI (MJPEG, MP3, as old cameras record), a variable-frame-rate clip and an
MPEG-TS that starts at 10 s with its audio 0.2 s after its video, are transcoded by one daemon with
the production encoder settings (x264 veryfast: B-frames, so every video rung carries a reorder
delay). Every rendition is read by two independent readers:
- the ISO BMFF reading of tfdt, trun and the edit list (cmaf_boxes.py) of the segments the
  playlists name, which is what Media Source Extensions do in Chromium behind hls.js, dash.js and
  Shaka;
- FFmpeg's HLS demuxer on the master playlist over HTTP (ffprobe, and ffmpeg's silencedetect for
  the sound), which is what mpv, ffplay and other FFmpeg-based players present.
Each must show: every video segment starting with a keyframe, at the same presentation time in every
rung; that time within half a frame of the playlist's cumulative EXTINF and of the MPD's
SegmentTimeline; the first video frame at 0 (the source's first frame) and the first audio sample
where the source has it.

The suite's CI time is the budget: one ffmpeg makes all the clips of a frame rate, each clip is
checked as soon as its job is done, and the checks start two processes per clip.
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
SECONDS = "3.2"        # segments [0, 1), [1, 3), [3, 3.2): two boundaries of the fast-start ramp
SIZE = "640x96"        # two rungs (640x96 and 426x64, of the 360p and 240p boxes) for little work
RATES = ["10", "12", "15", "24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"]
AAC_FRAME_S = 1024 / 48000
PRIMING_MAX_S = 2112 / 44100 + 1e-6
TS_AUDIO_DELAY_S = 0.2
X264_SOURCE = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]


def sources(rate, audio_delay_s=0.0):
    """ffmpeg input arguments: a test picture at RATE and a tone from its first sample, SECONDS long."""
    audio = ["-itsoffset", str(audio_delay_s)] if audio_delay_s else []
    return ["-t", SECONDS, "-f", "lavfi", "-i", "testsrc2=size=%s:rate=%s" % (SIZE, rate),
            *audio, "-t", SECONDS, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]


def clip_recipes():
    """(ffmpeg arguments, [(output file, its output arguments, where its sound starts relative to its
    first video frame in seconds)]): one ffmpeg run per recipe."""
    recipes = []
    for rate in RATES:
        name = "r" + rate.replace("/", "_")
        # B-frames in the H.264 sources too: the MP4 has an edit list and reordered timestamps of its own.
        recipes.append((sources(rate), [(name + ".mp4", X264_SOURCE + ["-bf", "2"], 0.0),
                                        (name + ".mkv", X264_SOURCE + ["-bf", "2"], 0.0),
                                        (name + ".avi", ["-c:v", "mjpeg", "-q:v", "8", "-c:a", "libmp3lame"], 0.0)]))
    # Variable frame rate: 30 fps with every fifth frame left out, timestamps kept (24 fps on average).
    recipes.append((sources(30), [("vfr.mkv", ["-vf", "select='not(eq(mod(n,5),2))'", "-fps_mode", "vfr",
                                               *X264_SOURCE], 0.0)]))
    # A broadcast recording: timestamps from 10 s, the audio 0.2 s after the video.
    recipes.append((sources(25, TS_AUDIO_DELAY_S),
                    [("offset.ts", X264_SOURCE + ["-bf", "2", "-muxdelay", "0", "-muxpreload", "0",
                                                  "-output_ts_offset", "10"], TS_AUDIO_DELAY_S)]))
    return recipes


def make(directory, inputs, outputs):
    """Runs one ffmpeg for every output of a recipe; [(path, where its sound starts)]."""
    args = list(inputs)
    for name, output_args, _ in outputs:
        args += ["-map", "0:v", "-map", "1:a", *output_args, name]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], cwd=directory, check=True, timeout=120)
    return [(os.path.join(directory, name), sound_s) for name, _, sound_s in outputs]


def ffprobe_json(url, *args):
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, url], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError("ffprobe %s: %s" % (url, out.stderr))
    return json.loads(out.stdout)


def sound_onset_s(url):
    """When the sound starts in an audio playlist as FFmpeg presents it (its timestamps kept), by silencedetect."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "info", "-copyts", "-i", url, "-map", "0:a:0",
                          "-af", "silencedetect=noise=-30dB:d=0.05", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    starts = re.findall(r"silence_start: ([-0-9.e]+)", out.stderr)
    ends = re.findall(r"silence_end: ([0-9.]+)", out.stderr)
    first_pts = re.search(r"Duration: .*?, start: ([-0-9.]+)", out.stderr)
    if out.returncode != 0 or not first_pts:
        raise AssertionError("ffmpeg %s: %s" % (url, out.stderr[-2000:]))
    start_s = float(first_pts.group(1))
    if not starts or float(starts[0]) > start_s + 0.01:
        return start_s  # sound from the first sample
    return float(ends[0])


def parse_attributes(text):
    return {name: value.strip('"') for name, value in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text)}


class TimingMatrixTest(DaemonTestCase):
    transcode = True
    # The production encoder settings (no --pipeline.x264_preset): B-frames on. Every rung
    # encoded: these sources would mostly pass their video through (test_passthrough checks that).
    extra_args = ("--pipeline.retry_backoff_s", "0", "--pipeline.passthrough", "off")
    maxDiff = None
    passed_through = ()  # rungs that are the source's packets (test_passthrough)

    def get(self, path):
        status, _, body = self.daemon.request("GET", path)
        self.assertEqual(status, 200, "GET %s -> %s" % (path, status))
        return body

    def test_every_rate_and_container_cuts_every_rung_alike_and_starts_in_sync(self):
        started = time.monotonic()
        names = {}       # video id: its clip's file name
        sound_at = {}    # video id: where its source's sound starts
        checks = {}      # video id: the future of its check
        with concurrent.futures.ThreadPoolExecutor(2) as makers, concurrent.futures.ThreadPoolExecutor(2) as checkers:
            being_made = {makers.submit(make, self.tmp, *recipe) for recipe in clip_recipes()}
            deadline = time.monotonic() + 600
            while being_made or len(checks) < len(sound_at):
                self.assertLess(time.monotonic(), deadline, "clips not made, transcoded and checked in 600 s")
                made = {f for f in being_made if f.done()}
                being_made -= made
                # Each clip is uploaded as soon as it is made: the daemon transcodes while the rest are made.
                for clip, sound_s in (clip for future in made for clip in future.result()):
                    status, _, video = self.daemon.upload(clip, "title=" + os.path.basename(clip))
                    self.assertEqual(status, 201, (clip, video))
                    names[video["id"]], sound_at[video["id"]] = os.path.basename(clip), sound_s
                for job in self.finished_jobs(set(sound_at) - set(checks)):
                    video_id = job["video_id"]
                    checks[video_id] = checkers.submit(self.check_clip, video_id, sound_at[video_id])
                time.sleep(0.1)
            for video_id, check in checks.items():
                with self.subTest(clip=names[video_id]):
                    self.assertEqual(check.result(), [])
        print("\n%d clips made, transcoded and checked in %.1f s" % (len(checks), time.monotonic() - started))

    def finished_jobs(self, video_ids):
        """The transcode jobs of VIDEO_IDS that are done; fails on a dead one."""
        if not video_ids:
            return []
        status, body = self.daemon.json("GET", "/api/v1/jobs", headers=self.daemon.auth())
        self.assertEqual(status, 200, body)
        jobs = [j for j in body["jobs"] if j["video_id"] in video_ids]
        dead = [j for j in jobs if j["state"] == "dead"]
        self.assertFalse(dead, dead)
        return [j for j in jobs if j["state"] == "done"]

    # --- what the players are given ----------------------------------------------------
    def renditions(self, video_id):
        """{name: {"kind", "uri", "height", "frame_rate", "map", "segments": [(extinf, uri)]}} from the
        master playlist."""
        lines = self.get("/videos/%s/master.m3u8" % video_id).decode().splitlines()
        found = {}
        for i, line in enumerate(lines):
            if line.startswith("#EXT-X-STREAM-INF:"):
                attrs = parse_attributes(line.split(":", 1)[1])
                height = int(attrs["RESOLUTION"].split("x")[1])
                found[lines[i + 1]] = {"kind": "video", "frame_rate": float(attrs["FRAME-RATE"]), "height": height}
            elif line.startswith("#EXT-X-MEDIA:") and "TYPE=AUDIO" in line:
                found[parse_attributes(line.split(":", 1)[1])["URI"]] = {"kind": "audio"}
        result = {}
        for uri, rendition in found.items():
            text = self.get(uri).decode().splitlines()
            rendition["uri"] = uri
            rendition["segments"] = [(float(l[8:].split(",")[0]), text[i + 1])
                                     for i, l in enumerate(text) if l.startswith("#EXTINF:")]
            rendition["map"] = re.search(r'URI="([^"]+)"', next(l for l in text if l.startswith("#EXT-X-MAP:"))).group(1)
            self.assertIn("#EXT-X-ENDLIST", text, uri)
            result[uri.rsplit("/", 1)[1][:-len(".m3u8")]] = rendition
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

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.daemon.port, path)

    def ffmpeg_video_packets(self, video_id):
        """{video height: [(pts in seconds, keyframe)]} as FFmpeg's HLS demuxer reads the master playlist."""
        probe = ffprobe_json(self.url("/videos/%s/master.m3u8" % video_id), "-show_entries",
                             "stream=index,codec_type,height:packet=stream_index,pts_time,flags")
        heights = {s["index"]: s["height"] for s in probe["streams"] if s["codec_type"] == "video"}
        packets = {height: [] for height in heights.values()}
        for p in probe["packets"]:
            if p["stream_index"] in heights:
                packets[heights[p["stream_index"]]].append((float(p["pts_time"]), p["flags"].startswith("K")))
        return packets

    def check_renditions(self, video_id, sound_s, expect, near):
        renditions = self.renditions(video_id)
        timelines = self.timelines(video_id)
        video = sorted(n for n, r in renditions.items() if r["kind"] == "video")
        audio = [n for n, r in renditions.items() if r["kind"] == "audio"]
        expect(len(video) >= 2, "a clip of %s has two rungs, not %s" % (SIZE, video))
        expect(len(audio) == 1, "one audio rendition, not %s" % audio)
        frame_s = 1 / renditions[video[0]]["frame_rate"]
        ffmpeg_packets = self.ffmpeg_video_packets(video_id)
        starts = {}
        for name, rendition in renditions.items():
            track = cmaf_boxes.Track(self.get(rendition["map"]))
            mse = [cmaf_boxes.presentation(track, self.get(uri)) for _, uri in rendition["segments"]]
            starts[name] = [t for t, _ in mse]
            cumulative = [sum(d for d, _ in rendition["segments"][:k]) for k in range(len(mse))]
            expect(len(timelines[name]) == len(mse), "%s: the MPD lists %d segments, the playlist %d"
                   % (name, len(timelines[name]), len(mse)))
            for k, t in enumerate(starts[name]):
                if k == 0 and rendition["kind"] == "audio" and name in self.passed_through:
                    # A source's AAC passed through keeps its encoder's priming frame(s) before 0,
                    # which its edit list cuts: the first sample presents up to 2112 samples early.
                    expect(-PRIMING_MAX_S <= t <= 1e-6, "%s: its first sample at %.6f" % (name, t))
                    t = 0.0
                near(t, cumulative[k], frame_s / 2, "%s segment %d against the EXTINF sum" % (name, k))
                near(t, timelines[name][k], frame_s / 2, "%s segment %d against the MPD" % (name, k))
                starts[name][k] = t
            if rendition["kind"] == "video":
                # B-frames on: the edit list carries their reorder delay (two frames with x264's
                # pyramid); a source's packets passed through carry the source's own.
                if name not in self.passed_through:
                    near(track.edit_media_time / track.timescale, 2 * frame_s, 1e-6, "%s edit list" % name)
                expect(all(key for _, key in mse), "%s: every segment starts with a keyframe" % name)
                # FFmpeg's reading: keyframes where the segments start (only there, in an encoded
                # rung; a source's packets passed through keep the source's keyframes), the first
                # frame at 0.
                packets = ffmpeg_packets.get(rendition["height"], [])
                keyframes = sorted(t for t, key in packets if key)
                if name in self.passed_through:
                    for k, t in enumerate(starts[name]):
                        expect(any(abs(t - key) <= 1e-3 for key in keyframes),
                               "%s segment %d at %.6f: FFmpeg reads no keyframe there" % (name, k, t))
                else:
                    expect(len(keyframes) == len(mse), "%s: FFmpeg reads %d keyframes in %d segments"
                           % (name, len(keyframes), len(mse)))
                    for k, t in enumerate(keyframes[:len(mse)]):
                        near(t, starts[name][k], 1e-3, "%s segment %d as FFmpeg reads it" % (name, k))
                near(min(t for t, _ in packets), 0, 1e-6, "%s: FFmpeg's first frame" % name)
            else:
                # The sound starts where the source has it relative to its first video frame, as
                # FFmpeg presents it (its decoder, its timestamps).
                near(sound_onset_s(self.url(rendition["uri"])), sound_s, frame_s,
                     "%s: where the sound starts" % name)
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
