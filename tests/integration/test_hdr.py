"""HDR sources become SDR renditions: a 10-bit HEVC clip in PQ (HDR10, with mastering metadata) and
one in HLG (as phones record) come out as 8-bit H.264 tagged BT.709 in every rung, their grey
patches where the documented tone mapping puts them, and the posters made from the same pictures.
SDR sources keep their picture values; untagged ones are tagged as players read them.

The expected values are computed here from the standards' formulas (SMPTE ST 2084, ARIB STD-B67 /
BT.2100 with a 1000-nit display, FFmpeg's mobius curve, BT.1886), not by the daemon's code.
"""
import json
import math
import os
import re
import subprocess
import time
import unittest

from harness import DaemonTestCase

SIZE = (640, 360)
TOLERANCE = 3  # 8-bit code values, after two lossy encodes of flat patches

# Ten-bit limited-range codes of the patches, left to right, and what they are.
PQ_PATCHES = [509, 723]          # about 100 nits (SDR white), about 1000 nits (the clip's MaxCLL)
HLG_PATCHES = [502, 721, 940]    # 50% (mid-tones), 75% (reference white, 203 nits), 100% signal
PQ_MASTERING = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50):max-cll=1000,400"


def pq_nits(code):
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = ((code - 64) / 876) ** (1 / m2)
    return 10000 * (max(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)


def hlg_nits(code):
    """BT.2100 HLG on its 1000-nit reference display (inverse OETF, then the OOTF with gamma 1.2)."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    e = (code - 64) / 876
    scene = e * e / 3 if e <= 0.5 else (math.exp((e - c) / a) + b) / 12
    return 1000 * scene ** 1.2


def sdr_code(nits, peak_nits):
    """The 8-bit limited-range luma of a grey of NITS after FFmpeg's mobius curve (knee 0.3) from PEAK_NITS
    to SDR white (100 nits), encoded for a BT.1886 display."""
    x, peak, j = nits / 100, peak_nits / 100, 0.3
    if x > j:
        a = -j * j * (peak - 1) / (j * j - 2 * j + peak)
        b = (j * j - 2 * j * peak + peak) / max(peak - 1, 1e-6)
        x = (b * b + 2 * b * j + j * j) / (b - a) * (x + a) / (x + b)
    return 16 + 219 * min(max(x, 0), 1) ** (1 / 2.4)


def make_patches(path, codes, x265_params, tags, pixel_format="yuv420p10le", codec="libx265"):
    """A 2 s clip of vertical grey bars of the given luma codes (neutral chroma), losslessly encoded."""
    width = SIZE[0]
    expression = str(codes[-1])
    for i in reversed(range(len(codes) - 1)):
        expression = "if(lt(X,%d),%d,%s)" % ((i + 1) * width // len(codes), codes[i], expression)
    neutral = 512 if pixel_format.endswith("10le") else 128
    video = ["-c:v", codec, "-preset", "ultrafast"]
    video += ["-x265-params", "log-level=error:lossless=1:" + x265_params] if codec == "libx265" else ["-qp", "0"]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=black:s=%dx%d:r=30:d=2,format=%s,geq=lum='%s':cb=%d:cr=%d"
                    % (SIZE[0], SIZE[1], pixel_format, expression, neutral, neutral),
                    *video, *tags, "-pix_fmt", pixel_format, path], check=True, timeout=120)
    return path


def add_dolby_vision(path, profile, compatibility):
    """Writes a Dolby Vision configuration box (dvcC: version 1.0, the profile, level 6, RPU and base layer present,
    the base layer's compatibility id) into the HEVC sample entry of an MP4 whose moov comes after its mdat, as a
    Dolby Vision camera file has it: the pictures stay the base layer's."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    record = bytes([1, 0]) + ((profile << 9) | (6 << 3) | (1 << 2) | 1).to_bytes(2, "big")
    record += bytes([compatibility << 4]) + bytes(19)
    box = (8 + len(record)).to_bytes(4, "big") + b"dvcC" + record

    def children(start, end):
        while start + 8 <= end:
            size = int.from_bytes(data[start:start + 4], "big")
            yield start, size, bytes(data[start + 4:start + 8])
            start += size

    def find(start, end, name):
        return [(offset, size) for offset, size, kind in children(start, end) if kind == name]

    [(moov, moov_size)] = find(0, len(data), b"moov")
    for trak, trak_size in find(moov + 8, moov + moov_size, b"trak"):
        chain = [(moov, moov_size), (trak, trak_size)]
        for name in (b"mdia", b"minf", b"stbl", b"stsd"):
            offset, size = chain[-1]
            found = find(offset + 8, offset + size, name)
            if not found:
                break
            chain.append(found[0])
        else:
            stsd, stsd_size = chain[-1]
            entries = find(stsd + 16, stsd + stsd_size, b"hvc1")  # stsd: version, flags and a count first
            if not entries:
                continue
            entry, entry_size = entries[0]
            data[entry + entry_size:entry + entry_size] = box
            for offset, size in chain + [(entry, entry_size)]:
                data[offset:offset + 4] = (size + len(box)).to_bytes(4, "big")
            with open(path, "wb") as f:
                f.write(bytes(data))
            return path
    raise AssertionError("no HEVC sample entry in " + path)


def bar_centres(count):
    return [int((i + 0.5) * SIZE[0] / count) for i in range(count)]


class HdrTest(DaemonTestCase):
    transcode = True
    extra_args = ("--pipeline.retry_backoff_s", "0")  # the production encoder settings
    maxDiff = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.daemon.port, path)

    def upload_and_wait(self, path):
        status, _, video = self.daemon.upload(path, "title=" + os.path.basename(path))
        self.assertEqual(status, 201, video)
        deadline = time.time() + 180
        while time.time() < deadline:
            status, video = self.daemon.json("GET", "/api/v1/videos/" + video["id"], headers=self.daemon.auth())
            job = video.get("job") or {}
            if job.get("state") in ("done", "dead") and video.get("thumbnails"):
                self.assertEqual(job["state"], "done", job)
                return video
            time.sleep(0.2)
        self.fail("not transcoded in time; log:\n" + self.daemon.log()[-3000:])

    def rungs(self, video):
        """{name: playlist URL} of the video rungs."""
        master = self.daemon.request("GET", video["playback"]["hls"])[2].decode()
        return {line.rsplit("/", 1)[1][:-len(".m3u8")]: self.url(line) for line in master.splitlines()
                if re.match(r"^/videos/.*/\d+p\.m3u8$", line)}

    def stream_facts(self, url):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                              "stream=codec_name,pix_fmt,color_primaries,color_transfer,color_space,color_range,"
                              "width,height", "-of", "json", url], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)["streams"][0]

    def lumas(self, url, count):
        """The luma of the middle of each of COUNT vertical bars, in a frame 1 s in, as FFmpeg decodes URL
        (the Y plane as it is: no range conversion)."""
        out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-ss", "1", "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        facts = self.stream_facts(url)
        width, height = facts["width"], facts["height"]
        self.assertEqual(len(out.stdout), width * height * 3 // 2)
        return [out.stdout[(height // 2) * width + x * width // SIZE[0]] for x in bar_centres(count)]

    def poster_lumas(self, video, count):
        """The same from the largest JPEG poster, back in limited range (JPEG's luma is full range)."""
        poster = max(video["thumbnails"]["poster"], key=lambda p: p["width"])
        jpeg = self.daemon.request("GET", poster["jpeg"])[2]
        out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "image2pipe", "-i", "-", "-f", "rawvideo",
                              "-pix_fmt", "yuvj444p", "-"], input=jpeg, capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        width, height = poster["width"], poster["height"]
        full = [out.stdout[(height // 2) * width + x * width // SIZE[0]] for x in bar_centres(count)]
        return [16 + v * 219 / 255 for v in full]

    def video_stream(self, video):
        media = video["media"]
        return next(s for s in media["streams"] if s["index"] == media["video_stream"])

    def check_sdr_rungs(self, video, expected, tags=("bt709", "bt709", "bt709")):
        rungs = self.rungs(video)
        self.assertGreaterEqual(len(rungs), 2, rungs)
        for name, url in rungs.items():
            with self.subTest(rung=name):
                facts = self.stream_facts(url)
                self.assertEqual(facts["codec_name"], "h264")
                self.assertEqual(facts["pix_fmt"], "yuv420p")
                self.assertEqual((facts.get("color_primaries"), facts.get("color_transfer"), facts.get("color_space")),
                                 tags)
                self.assertEqual(facts.get("color_range"), "tv")
                for got, want in zip(self.lumas(url, len(expected)), expected):
                    self.assertLessEqual(abs(got - want), TOLERANCE, (got, expected))

    def test_pq_and_hlg_become_bt709_sdr_with_the_documented_tone_mapping(self):
        pq = make_patches(self.path("hdr10.mp4"), PQ_PATCHES,
                          "colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=" + PQ_MASTERING,
                          ["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"])
        video = self.upload_and_wait(pq)
        facts = self.video_stream(video)
        self.assertEqual({k: facts.get(k) for k in ("codec", "bit_depth", "color_primaries", "color_transfer",
                                                     "color_space", "hdr", "max_cll", "max_fall",
                                                     "mastering_max_nits", "mastering_min_nits")},
                         {"codec": "hevc", "bit_depth": 10, "color_primaries": "bt2020", "color_transfer": "smpte2084",
                          "color_space": "bt2020nc", "hdr": "pq", "max_cll": 1000, "max_fall": 400,
                          "mastering_max_nits": 1000, "mastering_min_nits": 0.005})
        self.assertIn("(video %s): the source is HDR (PQ, peak 1000 nits): tone-mapped to SDR BT.709 (mobius)"
                      % video["id"], self.daemon.log())
        # The peak is the clip's MaxCLL: 1000 nits lands at SDR white, 100 nits well below it.
        expected = [sdr_code(pq_nits(code), 1000) for code in PQ_PATCHES]
        self.assertLess(expected[0], 210)
        self.assertGreater(expected[1], 234)
        self.check_sdr_rungs(video, expected)
        for got, want in zip(self.poster_lumas(video, len(PQ_PATCHES)), expected):
            self.assertLessEqual(abs(got - want), TOLERANCE + 1, ("poster", got, expected))

        hlg = make_patches(self.path("hlg.mp4"), HLG_PATCHES,
                           "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
                           ["-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"])
        video = self.upload_and_wait(hlg)
        facts = self.video_stream(video)
        self.assertEqual((facts.get("hdr"), facts.get("color_transfer"), facts.get("bit_depth")),
                         ("hlg", "arib-std-b67", 10))
        self.assertIn("(video %s): the source is HDR (HLG, peak 1000 nits)" % video["id"], self.daemon.log())
        expected = [sdr_code(hlg_nits(code), 1000) for code in HLG_PATCHES]
        self.check_sdr_rungs(video, expected)
        for got, want in zip(self.poster_lumas(video, len(HLG_PATCHES)), expected):
            self.assertLessEqual(abs(got - want), TOLERANCE + 1, ("poster", got, expected))

    def test_dolby_vision_is_read_from_its_configuration(self):
        """An iPhone's Dolby Vision 8.4 (an HLG base layer) is tone-mapped as HLG, its profile in the probed facts;
        profile 5 (no base layer other players can show) is transcoded with a warning in the job's log."""
        hlg = make_patches(self.path("dv84.mp4"), HLG_PATCHES,
                           "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
                           ["-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc",
                            "-tag:v", "hvc1"])
        video = self.upload_and_wait(add_dolby_vision(hlg, 8, 4))
        facts = self.video_stream(video)
        self.assertEqual((facts.get("dolby_vision_profile"), facts.get("dolby_vision_base"), facts.get("hdr")),
                         (8, "hlg", "hlg"), facts)
        self.assertIn("(video %s): the source is HDR (HLG" % video["id"], self.daemon.log())
        self.check_sdr_rungs(video, [sdr_code(hlg_nits(code), 1000) for code in HLG_PATCHES])

        profile5 = make_patches(self.path("dv5.mp4"), [300, 500], "", ["-tag:v", "hvc1"])
        video = self.upload_and_wait(add_dolby_vision(profile5, 5, 0))
        facts = self.video_stream(video)
        self.assertEqual((facts.get("dolby_vision_profile"), facts.get("dolby_vision_base"), facts.get("hdr")),
                         (5, "none", None), facts)
        self.assertIn("(video %s): Dolby Vision profile 5 has no HDR10, HLG or SDR base layer: its colours will be "
                      "wrong" % video["id"], self.daemon.log())

    def test_sdr_sources_keep_their_values_and_get_the_tags_players_assume(self):
        codes = [40, 128, 200]
        # Untagged 8-bit H.264 at 640x360: SD, read as SMPTE 170M (BT.601) by players; it is tagged so.
        untagged = make_patches(self.path("untagged.mp4"), codes, "", [], pixel_format="yuv420p", codec="libx264")
        video = self.upload_and_wait(untagged)
        self.assertNotIn("hdr", self.video_stream(video))
        self.assertNotIn("tone-mapped", self.daemon.log())
        self.check_sdr_rungs(video, codes, ("smpte170m", "smpte170m", "smpte170m"))
        for got, want in zip(self.poster_lumas(video, len(codes)), codes):
            self.assertLessEqual(abs(got - want), TOLERANCE + 1, ("poster", got, codes))
        # A 10-bit HEVC source tagged BT.709: its tags are kept, its values only lose two bits.
        tagged = make_patches(self.path("tagged.mp4"), [4 * c for c in codes],
                              "colorprim=bt709:transfer=bt709:colormatrix=bt709",
                              ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"])
        video = self.upload_and_wait(tagged)
        self.check_sdr_rungs(video, codes, ("bt709", "bt709", "bt709"))


if __name__ == "__main__":
    unittest.main()
