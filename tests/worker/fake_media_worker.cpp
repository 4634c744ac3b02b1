// A media worker that lies: started by worker_process_test in place of `cinevault
// media-worker`, it takes the request like the real one and then does what the environment
// variable CINEVAULT_FAKE_WORKER says, so that the daemon's side can be shown to refuse a
// compromised worker's messages (one scenario per run).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "cinevault/worker/channel.hpp"
#include "cinevault/worker/media_worker.hpp"

using namespace cinevault;
using nlohmann::json;

namespace {

json rendition(const std::string& id, bool start = true) {
  return {{"event", "init"},     {"id", id},         {"kind", "video"},  {"codecs", "avc1.64001f"},
          {"width", 640},        {"height", 360},    {"frame_rate", 25}, {"bandwidth_bps", 1000000},
          {"language", ""},      {"channels", 0},    {"sample_rate", 0}, {"timescale", 12800},
          {"start", start}};
}

json audio_rendition(const std::string& id, bool start) {
  return {{"event", "init"},     {"id", id},         {"kind", "audio"},     {"codecs", "mp4a.40.2"},
          {"width", 0},          {"height", 0},      {"frame_rate", 0},     {"bandwidth_bps", 128000},
          {"language", "eng"},   {"channels", 2},    {"sample_rate", 48000}, {"timescale", 48000},
          {"start", start}};
}

json segment(const std::string& id, int number) {
  return {{"event", "segment"}, {"id", id}, {"number", number}, {"start", number * 51200}, {"duration", 51200}};
}

void send_with_bytes(worker::Channel& channel, const json& header, const std::string& bytes) {
  auto file = worker::sealed_memory_file(bytes);
  if (!file || !channel.send(header, file->fd())) _exit(10);
}

}  // namespace

int main() {
  worker::Channel channel{File(worker::kWorkerChannelFd)};
  if (!channel.receive()) _exit(11);
  const char* scenario_text = std::getenv("CINEVAULT_FAKE_WORKER");
  std::string scenario = scenario_text ? scenario_text : "";

  if (scenario == "honest") {
    send_with_bytes(channel, rendition("360p"), "init");
    send_with_bytes(channel, segment("360p", 0), "segment 0");
    (void)channel.send({{"event", "finished"}, {"id", "360p"}, {"average_bandwidth_bps", 900000}});
    (void)channel.send({{"event", "done"}, {"encoder_name", "libx264"}, {"fallback_reason", ""}, {"passthrough", false},
                        {"passthrough_refusal", ""}, {"audio_passthrough", 0}, {"wall_s", 1.5},
                        {"thumbnails_error", "none made"}, {"has_thumbnails", false}});
  } else if (scenario == "unannounced") {
    send_with_bytes(channel, segment("360p", 0), "segment 0");
  } else if (scenario == "unsealed") {
    int fd = ::memfd_create("unsealed", MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, "init", 4) != 4) _exit(12);
    (void)channel.send(rendition("360p"), fd);  // the worker could change these bytes later
  } else if (scenario == "oversized") {
    // A sealed memory file of 300 MB (sparse: nothing is written), over the segment limit.
    int fd = ::memfd_create("oversized", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, 300 << 20) != 0) _exit(12);
    (void)::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
    send_with_bytes(channel, rendition("360p"), "init");
    (void)channel.send(segment("360p", 0), fd);
  } else if (scenario == "too_many_renditions") {
    send_with_bytes(channel, rendition("360p"), "init");
    send_with_bytes(channel, rendition("361p", false), "init");
  } else if (scenario == "two_starts") {
    send_with_bytes(channel, rendition("360p"), "init");
    send_with_bytes(channel, rendition("240p"), "init");
  } else if (scenario == "wrong_start") {
    send_with_bytes(channel, rendition("360p"), "init");
  } else if (scenario == "audio_start") {
    send_with_bytes(channel, audio_rendition("audio_0", true), "init");
  } else if (scenario == "out_of_order") {
    send_with_bytes(channel, rendition("360p"), "init");
    send_with_bytes(channel, segment("360p", 0), "segment 0");
    send_with_bytes(channel, segment("360p", 2), "segment 2");
  } else if (scenario == "bad_field") {
    json header = rendition("360p");
    header["width"] = -5;
    send_with_bytes(channel, header, "init");
  } else if (scenario == "not_json") {
    const char garbage[] = "\xff\xfe not a header";
    (void)::send(worker::kWorkerChannelFd, garbage, sizeof garbage, MSG_NOSIGNAL);
  } else if (scenario == "done_too_soon") {
    send_with_bytes(channel, rendition("360p"), "init");
    (void)channel.send({{"event", "done"}, {"encoder_name", "libx264"}, {"fallback_reason", ""}, {"passthrough", false},
                        {"passthrough_refusal", ""}, {"audio_passthrough", 0}, {"wall_s", 1.0},
                        {"thumbnails_error", ""}, {"has_thumbnails", false}});
  } else if (scenario == "claims_a_daemon_error") {
    (void)channel.send({{"event", "error"}, {"code", "unauthorized"}, {"message", "not a worker's error"}});
  } else if (scenario == "exits") {
    _exit(0);
  } else if (scenario == "aborts") {
    std::signal(SIGABRT, SIG_DFL);
    std::abort();
  } else if (scenario == "silent") {
    for (;;) ::pause();
  }
  _exit(0);  // what was sent stays readable after the exit
}
