#include "cinevault/media/probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern "C" {
#include <libavformat/avformat.h>
}

namespace cinevault::media {
namespace {

namespace fs = std::filesystem;

// Clips are made with the ffmpeg CLI on first use, once per test process, in a fresh
// directory that is removed at exit.
class Clips : public ::testing::Environment {
 public:
  static fs::path dir() {
    static fs::path made = [] {
      fs::create_directories(CINEVAULT_TEST_TMP);
      std::string pattern = (fs::path(CINEVAULT_TEST_TMP) / "media-probe-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) std::abort();
      return fs::path(pattern);
    }();
    return made;
  }

  // The damaged inputs are meant to make libav complain; the test output stays readable.
  void SetUp() override { av_log_set_level(AV_LOG_FATAL); }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir(), ignored);
  }
};

[[maybe_unused]] const auto* const kClipsEnvironment = ::testing::AddGlobalTestEnvironment(new Clips);

constexpr const char* kVideo25 = "-f lavfi -i testsrc2=size=320x180:rate=25:duration=2 ";
constexpr const char* kStereo = "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 -ac 2 ";
constexpr const char* kH264Aac = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac ";

const std::map<std::string, std::string>& recipes() {
  static const std::map<std::string, std::string> recipes = {
      {"normal.mp4", std::string(kVideo25) + kStereo + kH264Aac + "-metadata:s:a:0 language=eng"},
      {"faststart.mp4", std::string(kVideo25) + kStereo + kH264Aac + "-movflags +faststart"},
      {"upright.mp4", std::string(kVideo25) + kH264Aac},
      {"ntsc.mkv",
       "-f lavfi -i testsrc2=size=160x90:rate=30000/1001:duration=1 " + std::string(kStereo) +
           "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a libopus -shortest"},
      {"clip.webm",
       "-f lavfi -i testsrc2=size=160x90:rate=25:duration=1 " + std::string(kStereo) +
           "-c:v libvpx -deadline realtime -cpu-used 8 -c:a libopus -shortest"},
      {"clip.ts", std::string(kVideo25) + kStereo + kH264Aac},
      {"clip.mkv", std::string(kVideo25) + kStereo + kH264Aac},
      {"clip.avi", std::string(kVideo25) + kStereo + "-c:v mpeg4 -c:a libmp3lame"},
      {"clip.wmv", std::string(kVideo25) + kStereo + "-c:v wmv2 -c:a wmav2"},
      // What a live recorder writes: no length, no index, no duration (the muxer cannot seek back).
      {"live.mkv", std::string(kVideo25) + kStereo + kH264Aac + "-f matroska"},
      {"audio.m4a", std::string(kStereo) + "-c:a aac"},
      // HDR10 as a camera writes it: 10-bit HEVC, BT.2020, PQ, its mastering metadata in SEI only.
      {"hdr10.mp4",
       "-f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v libx265 -preset ultrafast "
       "-pix_fmt yuv420p10le -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -x265-params '"
       "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
       "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50):max-cll=1600,300'"},
      {"cover.png", "-f lavfi -i color=red:size=64x64 -frames:v 1"},
      // Tags as a camera or a tagging tool writes them.
      {"tagged.mp4", std::string(kVideo25) + kH264Aac +
                         "-metadata 'title= Summer at the lake ' -metadata creation_time=2024-07-14T10:22:03.000000Z"},
      {"tagged.mkv", std::string(kVideo25) + kH264Aac +
                         "-metadata \"title=$(printf 'Bad\\377title\\tend')\" -metadata DATE_RECORDED=2023-12-31T23:30:00+01:00"},
      {"zero-date.mp4", std::string(kVideo25) + kH264Aac + "-metadata creation_time=1970-01-01T00:00:00Z"},
  };
  return recipes;
}

// Path of a generated clip; ffmpeg runs the first time a name is asked for.
fs::path clip(const std::string& name) {
  fs::path out = Clips::dir() / name;
  if (fs::exists(out)) return out;
  std::string arguments;
  if (name == "cover.m4a") {
    arguments = "-i '" + clip("audio.m4a").string() + "' -i '" + clip("cover.png").string() +
                "' -map 0 -map 1 -c:a copy -c:v png -disposition:v:0 attached_pic";
  } else if (name == "rotate-tag.mp4") {
    // The 5.1 CLI makes a display matrix of this tag only when copying (not when encoding).
    arguments = "-i '" + clip("upright.mp4").string() + "' -c copy -metadata:s:v:0 rotate=90";
  } else {
    arguments = recipes().at(name);
  }
  // A pipe is not seekable: the muxer cannot go back to fill in lengths.
  std::string output = name.starts_with("live.") ? "- > '" + out.string() + "'" : "'" + out.string() + "'";
  std::string command = "ffmpeg -nostdin -v error -y " + arguments + " " + output;
  if (std::system(command.c_str()) != 0 || !fs::exists(out)) {
    ADD_FAILURE() << "could not run: " << command;
    return out;
  }
  return out;
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  fs::path out = Clips::dir() / name;
  std::ofstream(out, std::ios::binary) << bytes;
  return out;
}

// The first `size` bytes of a clip (or it with zeros appended), as a new file.
fs::path resized(const std::string& name, const std::string& out_name, std::uintmax_t size) {
  fs::path out = Clips::dir() / out_name;
  fs::copy_file(clip(name), out, fs::copy_options::overwrite_existing);
  fs::resize_file(out, size);
  return out;
}

// The first half of a clip, as a new file.
fs::path truncated(const std::string& name, const std::string& out_name) {
  return resized(name, out_name, fs::file_size(clip(name)) / 2);
}

// What a phone writes for a portrait video: the tkhd matrix {0, 1, -1, 0} (16.16 fixed
// point), "turn 90 degrees clockwise to show".
fs::path portrait_phone_video() {
  fs::path out = Clips::dir() / "portrait.mp4";
  fs::copy_file(clip("upright.mp4"), out, fs::copy_options::overwrite_existing);
  std::fstream file(out, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::size_t tkhd = bytes.find("tkhd");
  if (tkhd == std::string::npos || bytes[tkhd + 4] != 0) {
    ADD_FAILURE() << "no version 0 tkhd in " << out;
    return out;
  }
  // type, version+flags, 5 x 32-bit times/ids/duration, 8 reserved, layer/group/volume/reserved
  std::size_t matrix = tkhd + 4 + 4 + 20 + 8 + 8;
  const std::uint32_t values[9] = {0, 0x10000, 0, 0xFFFF0000u, 0, 0, 0, 0, 0x40000000};
  std::string big_endian;
  for (std::uint32_t value : values)
    for (int shift = 24; shift >= 0; shift -= 8) big_endian += static_cast<char>((value >> shift) & 0xFF);
  file.seekp(static_cast<std::streamoff>(matrix));
  file << big_endian;
  return out;
}

std::string run(const std::string& command) {
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    ::pclose(pipe);
  }
  return output;
}

void expect_error(const Result<MediaInfo>& probed, ErrorCode code, const std::string& words) {
  ASSERT_FALSE(probed) << "probed as " << to_json(*probed).dump();
  EXPECT_EQ(probed.error().code, code) << to_string(probed.error().code) << ": " << probed.error().message;
  EXPECT_NE(probed.error().message.find(words), std::string::npos) << probed.error().message;
}

const StreamInfo& stream_of_type(const MediaInfo& info, const std::string& type) {
  for (const StreamInfo& stream : info.streams)
    if (stream.type == type) return stream;
  static const StreamInfo none;
  ADD_FAILURE() << "no " << type << " stream";
  return none;
}

TEST(Probe, NormalMp4) {
  auto probed = probe_file(clip("normal.mp4"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  const MediaInfo& info = *probed;
  EXPECT_EQ(info.container, "mov,mp4,m4a,3gp,3g2,mj2");
  EXPECT_NEAR(info.duration_s, 2.0, 0.1);
  EXPECT_EQ(info.size_bytes, static_cast<std::int64_t>(fs::file_size(clip("normal.mp4"))));
  EXPECT_GT(info.bit_rate, 0);
  ASSERT_EQ(info.streams.size(), 2u);
  ASSERT_EQ(info.video_stream, 0);

  const StreamInfo& video = stream_of_type(info, "video");
  EXPECT_EQ(video.codec, "h264");
  EXPECT_FALSE(video.profile.empty());
  EXPECT_EQ(video.width, 320);
  EXPECT_EQ(video.height, 180);
  EXPECT_DOUBLE_EQ(video.frame_rate, 25.0);
  EXPECT_EQ(video.frame_rate_exact, "25/1");
  EXPECT_EQ(video.pixel_format, "yuv420p");
  EXPECT_EQ(video.sample_aspect_ratio, "1:1");
  EXPECT_EQ(video.rotation_deg, 0);
  EXPECT_EQ(video.field_order, "progressive");
  EXPECT_FALSE(video.attached_picture);
  EXPECT_EQ(video.channels, 0);
  EXPECT_GT(video.bit_rate, 0);
  EXPECT_NEAR(video.duration_s, 2.0, 0.1);

  const StreamInfo& audio = stream_of_type(info, "audio");
  EXPECT_EQ(audio.codec, "aac");
  EXPECT_EQ(audio.profile, "LC");
  EXPECT_EQ(audio.channels, 2);
  EXPECT_EQ(audio.sample_rate, 48000);
  EXPECT_EQ(audio.channel_layout, "stereo");
  EXPECT_EQ(audio.language, "eng");
  EXPECT_EQ(audio.width, 0);
  EXPECT_EQ(video.language, "");  // "und" in the file
}

TEST(Probe, ColourTagsAndHdrMetadata) {
  auto sdr = probe_file(clip("normal.mp4"), MediaLimits{});
  ASSERT_TRUE(sdr) << sdr.error().message;
  const StreamInfo& plain = stream_of_type(*sdr, "video");
  EXPECT_EQ(plain.bit_depth, 8);
  EXPECT_EQ(plain.color_transfer, "");  // x264 writes no colour description unless told
  EXPECT_EQ(hdr_format(plain), "");

  auto hdr = probe_file(clip("hdr10.mp4"), MediaLimits{});
  ASSERT_TRUE(hdr) << hdr.error().message;
  const StreamInfo& video = stream_of_type(*hdr, "video");
  EXPECT_EQ(video.codec, "hevc");
  EXPECT_EQ(video.bit_depth, 10);
  EXPECT_EQ(video.color_primaries, "bt2020");
  EXPECT_EQ(video.color_transfer, "smpte2084");
  EXPECT_EQ(video.color_space, "bt2020nc");
  EXPECT_EQ(video.color_range, "tv");
  EXPECT_EQ(hdr_format(video), "pq");
  // From the first frame's SEI: the container has none of it.
  EXPECT_DOUBLE_EQ(video.mastering_max_nits, 4000);
  EXPECT_DOUBLE_EQ(video.mastering_min_nits, 0.005);
  EXPECT_EQ(video.max_cll, 1600);
  EXPECT_EQ(video.max_fall, 300);
  EXPECT_EQ(video.dolby_vision_profile, 0);
  EXPECT_EQ(to_json(*hdr)["streams"][0]["hdr"], "pq");
}

TEST(Probe, TitleAndRecordingTimeComeFromTheTags) {
  auto mp4 = probe_file(clip("tagged.mp4"), MediaLimits{});
  ASSERT_TRUE(mp4) << mp4.error().message;
  EXPECT_EQ(mp4->title, "Summer at the lake");
  EXPECT_EQ(mp4->recorded_at, "2024-07-14T10:22:03Z");
  // A title that is not UTF-8 is mended, its tab becomes a space; the local time becomes UTC.
  auto mkv = probe_file(clip("tagged.mkv"), MediaLimits{});
  ASSERT_TRUE(mkv) << mkv.error().message;
  EXPECT_EQ(mkv->title, "Bad\xEF\xBF\xBDtitle end");
  EXPECT_EQ(mkv->recorded_at, "2023-12-31T22:30:00Z");
  // Untagged files, and the zero date of an unset tag, have neither.
  auto zero = probe_file(clip("zero-date.mp4"), MediaLimits{});
  ASSERT_TRUE(zero) << zero.error().message;
  EXPECT_EQ(zero->recorded_at, "");
  auto plain = probe_file(clip("upright.mp4"), MediaLimits{});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->title, "");
  EXPECT_EQ(plain->recorded_at, "");
}

TEST(Probe, RecordingTimesInTheFormsCamerasWrite) {
  EXPECT_EQ(recording_time_from_tag("2024-07-14T10:22:03.000000Z"), "2024-07-14T10:22:03Z");
  EXPECT_EQ(recording_time_from_tag("2024-07-14T10:22:03+0200"), "2024-07-14T08:22:03Z");
  EXPECT_EQ(recording_time_from_tag("2024-07-14T01:22:03+02:00"), "2024-07-13T23:22:03Z");
  EXPECT_EQ(recording_time_from_tag("2024-02-29T23:00:00-05:00"), "2024-03-01T04:00:00Z");
  EXPECT_EQ(recording_time_from_tag("2024-07-14 10:22:03"), "2024-07-14T10:22:03Z");
  EXPECT_EQ(recording_time_from_tag("2024-07-14"), "2024-07-14T00:00:00Z");
  EXPECT_EQ(recording_time_from_tag(" 2024-07-14T10:22Z "), "2024-07-14T10:22:00Z");
  for (const char* bad : {"", "2024", "yesterday", "2024-13-01", "2024-02-30", "2024-07-14T25:00:00",
                          "2024-07-14T10:22:03 and more", "1904-01-01T00:00:00.000000Z", "1970-01-01 00:00:00",
                          "2024-07-14T10:22:03+9900", "0000-01-01"})
    EXPECT_EQ(recording_time_from_tag(bad), "") << bad;
}

TEST(Probe, MatroskaWithNtscRate) {
  auto probed = probe_file(clip("ntsc.mkv"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->container, "matroska,webm");
  const StreamInfo& video = stream_of_type(*probed, "video");
  EXPECT_EQ(video.frame_rate_exact, "30000/1001");
  EXPECT_NEAR(video.frame_rate, 29.97, 0.01);
  EXPECT_EQ(video.width, 160);
  EXPECT_EQ(stream_of_type(*probed, "audio").codec, "opus");
  EXPECT_NEAR(probed->duration_s, 1.0, 0.1);
}

TEST(Probe, Webm) {
  auto probed = probe_file(clip("clip.webm"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->container, "matroska,webm");
  EXPECT_EQ(stream_of_type(*probed, "video").codec, "vp8");
  EXPECT_EQ(stream_of_type(*probed, "audio").sample_rate, 48000);
}

TEST(Probe, MpegTransportStream) {
  auto probed = probe_file(clip("clip.ts"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->container, "mpegts");
  EXPECT_NEAR(probed->duration_s, 2.0, 0.2);
}

TEST(Probe, PortraitPhoneVideo) {
  fs::path portrait = portrait_phone_video();
  // ffprobe agrees on what the matrix means (it counts counterclockwise).
  EXPECT_NE(run("ffprobe '" + portrait.string() + "' 2>&1").find("rotation of -90.00 degrees"), std::string::npos);
  auto probed = probe_file(portrait, MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  const StreamInfo& video = stream_of_type(*probed, "video");
  EXPECT_EQ(video.rotation_deg, 90);
  EXPECT_EQ(video.width, 320);  // the stored size; the rotation is applied when showing
  EXPECT_EQ(video.height, 180);
}

TEST(Probe, RotateTagThroughTheCli) {
  // ffmpeg 5.1 writes `rotate=90` as a 90 degree counterclockwise matrix (ffprobe: "rotation
  // of 90.00 degrees"), the opposite of what the tag meant to older FFmpeg and to phones.
  fs::path tagged = clip("rotate-tag.mp4");
  EXPECT_NE(run("ffprobe '" + tagged.string() + "' 2>&1").find("rotation of 90.00 degrees"), std::string::npos);
  auto probed = probe_file(tagged, MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(stream_of_type(*probed, "video").rotation_deg, 270);
}

TEST(Probe, AudioOnlyHasNoVideoStream) {
  expect_error(probe_file(clip("audio.m4a"), MediaLimits{}), ErrorCode::unprocessable, "no video stream");
}

TEST(Probe, CoverArtIsNotAVideoStream) {
  expect_error(probe_file(clip("cover.m4a"), MediaLimits{}), ErrorCode::unprocessable, "only cover art");
}

TEST(Probe, TextFileIsNotMedia) {
  auto text = write_file("notes.txt", "Shopping list\n- milk\n- eggs\n");
  expect_error(probe_file(text, MediaLimits{}), ErrorCode::unsupported_media, "not a video file");
}

TEST(Probe, RandomBytesAreNotMedia) {
  std::mt19937 generator(20261123);
  std::string bytes(256 * 1024, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator());
  auto noise = write_file("noise.bin", bytes);
  expect_error(probe_file(noise, MediaLimits{}), ErrorCode::unsupported_media, "not a video file");
}

TEST(Probe, EmptyFileIsNotMedia) {
  expect_error(probe_file(write_file("empty.mp4", ""), MediaLimits{}), ErrorCode::unsupported_media,
               "not a video file");
}

TEST(Probe, MissingFileIsAnIoError) {
  auto probed = probe_file(Clips::dir() / "missing.mp4", MediaLimits{});
  ASSERT_FALSE(probed);
  EXPECT_EQ(probed.error().code, ErrorCode::io);
}

// A listening socket that records whether anyone connected.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      ADD_FAILURE() << "cannot listen on loopback: " << std::strerror(errno);
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }
  bool someone_connected() const {
    int client = ::accept(fd_, nullptr, nullptr);
    if (client < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK);
    ::close(client);
    return true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(Probe, HlsPlaylistIsRefusedWithoutFetchingAnything) {
  Listener listener;
  std::string url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/x.ts";
  auto playlist = write_file("upload.m3u8",
                             "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
                             "#EXTINF:4.0,\n" + url + "\n#EXTINF:4.0,\n" + url + "\n#EXT-X-ENDLIST\n");
  expect_error(probe_file(playlist, MediaLimits{}), ErrorCode::unsupported_media, "HLS playlists are not accepted");
  // Too bare for libavformat's hls probe, still a playlist to a person.
  auto bare = write_file("bare.m3u8", "#EXTM3U\n#EXTINF:4.0,\n" + url + "\n");
  expect_error(probe_file(bare, MediaLimits{}), ErrorCode::unsupported_media, "HLS playlists are not accepted");
  EXPECT_FALSE(listener.someone_connected());
}

TEST(Probe, ConcatScriptIsRefused) {
  auto script = write_file("upload.ffconcat", "ffconcat version 1.0\nfile /etc/passwd\n");
  expect_error(probe_file(script, MediaLimits{}), ErrorCode::unsupported_media, "concat scripts are not accepted");
}

TEST(Probe, Mp4CutInHalfIsDamagedNotForeign) {
  // ffmpeg writes the moov at the end: half the file has no index at all.
  expect_error(probe_file(truncated("normal.mp4", "half.mp4"), MediaLimits{}), ErrorCode::unprocessable,
               "truncated or damaged");
}

TEST(Probe, FaststartMp4CutInHalfIsDamaged) {
  // The moov survives at the front, the samples it points to do not.
  expect_error(probe_file(truncated("faststart.mp4", "half-faststart.mp4"), MediaLimits{}),
               ErrorCode::unprocessable, "truncated or damaged");
}

TEST(Probe, CompleteFaststartMp4IsAccepted) {
  auto probed = probe_file(clip("faststart.mp4"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
}

// Their demuxers read a file cut short without an error, up to the cut: only the length in
// the header shows it. Cut anywhere, even in the index at the end, the file is refused.
TEST(Probe, MatroskaAviAndWmvCutShortAreTruncated) {
  for (const char* name : {"clip.mkv", "clip.avi", "clip.wmv"}) {
    std::uintmax_t size = fs::file_size(clip(name));
    for (std::uintmax_t cut : {size / 4, size / 2, size * 3 / 4, size - 1}) {
      SCOPED_TRACE(fmt::format("{} cut to {} of {} bytes", name, cut, size));
      expect_error(probe_file(resized(name, "cut-" + std::string(name), cut), MediaLimits{}),
                   ErrorCode::unprocessable, "truncated");
    }
  }
}

TEST(Probe, TruncatedMatroskaSaysWhatIsMissing) {
  std::uintmax_t size = fs::file_size(clip("clip.mkv"));
  auto probed = probe_file(resized("clip.mkv", "half.mkv", size / 2), MediaLimits{});
  expect_error(probed, ErrorCode::unprocessable,
               fmt::format("the file is truncated: its Matroska header declares {} bytes, the file has only {}", size,
                           size / 2));
}

TEST(Probe, CompleteMatroskaAviAndWmvAreAccepted) {
  for (auto [name, container] : {std::pair{"clip.mkv", "matroska,webm"}, {"clip.avi", "avi"}, {"clip.wmv", "asf"}}) {
    auto probed = probe_file(clip(name), MediaLimits{});
    ASSERT_TRUE(probed) << name << ": " << probed.error().message;
    EXPECT_EQ(probed->container, container);
    EXPECT_EQ(stream_of_type(*probed, "video").width, 320);
  }
}

TEST(Probe, LiveRecordedMatroskaIsAccepted) {
  // No segment size, no cues, no duration: nothing says how long it should be.
  auto probed = probe_file(clip("live.mkv"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->container, "matroska,webm");
}

TEST(Probe, AsfFileSizeIsIgnoredWhenTheBroadcastFlagIsSet) {
  // The spec: the File Size is invalid when the Broadcast flag is set (a live capture).
  fs::path out = Clips::dir() / "broadcast.wmv";
  fs::copy_file(clip("clip.wmv"), out, fs::copy_options::overwrite_existing);
  std::fstream file(out, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const char kFileProperties[] = "\xA1\xDC\xAB\x8C\x47\xA9\xCF\x11\x8E\xE4\x00\xC0\x0C\x20\x53\x65";
  std::size_t properties = bytes.find(std::string_view(kFileProperties, 16));
  ASSERT_NE(properties, std::string::npos);
  file.seekp(static_cast<std::streamoff>(properties + 40));
  file << std::string(8, '\x7F');  // a File Size far beyond the file
  file.seekp(static_cast<std::streamoff>(properties + 88));
  file << '\x03';  // Broadcast | Seekable
  file.close();
  auto probed = probe_file(out, MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  EXPECT_EQ(probed->container, "asf");
}

TEST(Probe, BytesAfterTheDeclaredEndAreNotTruncation) {
  for (const char* name : {"clip.mkv", "clip.avi"}) {
    auto probed = probe_file(resized(name, std::string("padded-") + name, fs::file_size(clip(name)) + 1000),
                             MediaLimits{});
    ASSERT_TRUE(probed) << name << ": " << probed.error().message;
  }
}

TEST(Probe, UndecodableVideoIsRefused) {
  // Same size and index, every sample zeroed: the container is fine, the pictures are not.
  fs::path out = Clips::dir() / "zeroed.mp4";
  fs::copy_file(clip("faststart.mp4"), out, fs::copy_options::overwrite_existing);
  std::fstream file(out, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::size_t mdat = bytes.find("mdat");
  ASSERT_NE(mdat, std::string::npos);
  file.seekp(static_cast<std::streamoff>(mdat + 4));
  file << std::string(bytes.size() - mdat - 4, '\0');
  file.close();
  expect_error(probe_file(out, MediaLimits{}), ErrorCode::unprocessable, "first video frame cannot be decoded");
}

TEST(Probe, TooLong) {
  MediaLimits limits;
  limits.max_duration_s = 1.5;
  expect_error(probe_file(clip("normal.mp4"), limits), ErrorCode::unprocessable, "too long: 2 s, the limit is 1.5 s");
}

TEST(Probe, TooWideOrTooTall) {
  MediaLimits narrow;
  narrow.max_width = 200;
  expect_error(probe_file(clip("normal.mp4"), narrow), ErrorCode::unprocessable, "320x180");
  MediaLimits short_picture;
  short_picture.max_height = 100;
  expect_error(probe_file(clip("normal.mp4"), short_picture), ErrorCode::unprocessable, "the limit is 7680x100");
}

TEST(Probe, TooManyStreams) {
  MediaLimits limits;
  limits.max_streams = 1;
  expect_error(probe_file(clip("normal.mp4"), limits), ErrorCode::unprocessable, "too many streams: 2, the limit is 1");
}

TEST(Probe, WhitelistAdmitsExactlyTheseDemuxers) {
  // av_match_list compares each ','-separated part: this pins down what that admits.
  std::set<std::string> admitted;
  void* iterator = nullptr;
  while (const AVInputFormat* format = av_demuxer_iterate(&iterator))
    if (is_accepted_container(format->name)) admitted.insert(format->name);
  EXPECT_EQ(admitted, (std::set<std::string>{"asf", "avi", "flv", "matroska,webm", "mov,mp4,m4a,3gp,3g2,mj2", "mpeg",
                                             "mpegts", "ogg"}));
  EXPECT_TRUE(is_accepted_container("mp4"));  // a part of the mov demuxer's name
  EXPECT_FALSE(is_accepted_container("hls"));
  EXPECT_FALSE(is_accepted_container("mpegtsraw"));
  EXPECT_FALSE(is_accepted_container("webm_dash_manifest"));
}

TEST(MediaInfoJson, RoundTripPreservesEverything) {
  for (const fs::path& path :
       {clip("normal.mp4"), clip("ntsc.mkv"), portrait_phone_video(), clip("tagged.mp4"), clip("hdr10.mp4")}) {
    auto probed = probe_file(path, MediaLimits{});
    ASSERT_TRUE(probed) << path << ": " << probed.error().message;
    auto text = to_json(*probed).dump();
    auto back = media_info_from_json(nlohmann::json::parse(text));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, *probed) << path << ": " << text;
  }
}

TEST(MediaInfoJson, EachStreamShowsItsOwnKindOfFields) {
  auto probed = probe_file(clip("normal.mp4"), MediaLimits{});
  ASSERT_TRUE(probed) << probed.error().message;
  auto json = to_json(*probed);
  EXPECT_EQ(json["container"], "mov,mp4,m4a,3gp,3g2,mj2");
  for (const auto& stream : json["streams"]) {
    bool video = stream["type"] == "video";
    EXPECT_EQ(stream.contains("width"), video) << stream.dump();
    EXPECT_EQ(stream.contains("rotation_deg"), video) << stream.dump();
    EXPECT_EQ(stream.contains("sample_rate"), !video) << stream.dump();
    EXPECT_EQ(stream.contains("channel_layout"), !video) << stream.dump();
  }
}

TEST(MediaInfoJson, FieldsOutsideTheirTypeSurviveTheRoundTrip) {
  MediaInfo info;
  info.container = "matroska,webm";
  StreamInfo subtitle;
  subtitle.type = "subtitle";
  subtitle.codec = "dvd_subtitle";
  subtitle.width = 720;
  subtitle.height = 576;
  info.streams.push_back(subtitle);
  auto back = media_info_from_json(to_json(info));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, info);
}

TEST(MediaInfoJson, AWorkersColourFactsAreCheckedAgain) {
  auto parsed = media_info_from_json(nlohmann::json::parse(R"({"container": "mp4", "streams": [{"index": 0,
      "type": "video", "codec": "hevc", "color_transfer": "smpte2084:peak=1,drawtext", "color_primaries": "bt2020",
      "color_space": "BT709", "mastering_max_nits": 1e12, "max_cll": -5, "bit_depth": 4000,
      "dolby_vision_profile": 9999, "dolby_vision_base": "hdr10"}]})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  const StreamInfo& video = parsed->streams[0];
  EXPECT_EQ(video.color_transfer, "");  // not a name: dropped
  EXPECT_EQ(video.color_primaries, "bt2020");
  EXPECT_EQ(video.color_space, "");
  EXPECT_DOUBLE_EQ(video.mastering_max_nits, 10000);
  EXPECT_EQ(video.max_cll, 0);
  EXPECT_EQ(video.bit_depth, 32);
  EXPECT_EQ(video.dolby_vision_profile, 127);
  EXPECT_EQ(hdr_format(video), "pq");  // the Dolby Vision base layer says so
}

TEST(MediaInfoJson, AWorkersTextIsCleanedAgain) {
  auto parsed = media_info_from_json(nlohmann::json::parse(R"({"container": "mp4", "title": " a\u0007b ",
      "recorded_at": "yesterday", "streams": [{"index": 1, "type": "audio", "codec": "aac", "language": "en\",X=\""},
      {"index": 2, "type": "audio", "codec": "aac", "language": "pt-BR"}]})"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->title, "a b");
  EXPECT_EQ(parsed->recorded_at, "");
  EXPECT_EQ(parsed->streams[0].language, "");  // would end an HLS attribute: dropped
  EXPECT_EQ(parsed->streams[1].language, "pt-BR");
}

TEST(MediaInfoJson, MalformedDocumentIsAnError) {
  for (const char* text : {R"([])", R"({"streams": []})", R"({"container": "avi", "streams": [{"index": "one"}]})",
                           R"({"container": "avi", "duration_s": "long", "streams": []})"}) {
    auto parsed = media_info_from_json(nlohmann::json::parse(text));
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::invalid_argument);
  }
}

}  // namespace
}  // namespace cinevault::media
