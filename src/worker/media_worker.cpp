#include "cinevault/worker/media_worker.hpp"

#include <malloc.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <new>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "cinevault/core/malloc_tuning.hpp"
#include "cinevault/media/probe.hpp"
#include "cinevault/media/transcode.hpp"
#include "cinevault/worker/channel.hpp"
#include "cinevault/worker/sandbox.hpp"
#include "messages.hpp"

namespace cinevault::worker {
namespace {

// The transcoder's output, as messages: the bytes of each segment in a sealed memory file.
class ChannelListener final : public package::SegmentListener {
 public:
  explicit ChannelListener(Channel& channel) : channel_(channel) {}

  Result<void> on_init_segment(const Rendition& rendition, std::string bytes) override {
    TRY(File memory, sealed_memory_file(bytes));
    return channel_.send(messages::init_event(rendition), memory.fd());
  }
  Result<void> on_media_segment(const Rendition& rendition, const Segment& segment, std::string bytes) override {
    TRY(File memory, sealed_memory_file(bytes));
    return channel_.send(messages::segment_event(rendition, segment), memory.fd());
  }
  Result<void> on_rendition_finished(const Rendition& rendition, int average_bandwidth_bps) override {
    return channel_.send(messages::finished_event(rendition, average_bandwidth_bps));
  }

 private:
  Channel& channel_;
};

Result<void> send_image(Channel& channel, const char* use, const media::EncodedImage& image) {
  TRY(File memory, sealed_memory_file(image.bytes));
  return channel.send(messages::image_event(use, image), memory.fd());
}

Result<void> transcode(Channel& channel, Message& message) {
  TRY(media::TranscodeRequest request, messages::parse_transcode_request(message.header));
  TRY(SandboxLimits sandbox, messages::parse_sandbox(message.header));
  if (!message.attachment.is_open()) return fail(ErrorCode::internal, "the transcode request came without its source");
  request.source_fd = message.attachment.fd();
  // A hardware encoder is found (libraries loaded, device opened) while paths can still be opened.
  std::optional<media::EncoderSelection> chosen;
  if (request.encoder != media::EncoderPreference::x264) {
    TRY(media::EncoderSelection selection, media::choose_encoder(request));
    sandbox.allow_device_control = selection.kind != media::EncoderKind::x264;
    chosen = std::move(selection);
    request.chosen_encoder = &*chosen;
  }
  RETURN_IF_ERROR(enter_sandbox(sandbox));

  ChannelListener listener(channel);
  auto progress = [&channel](const media::TranscodeProgress& p) { (void)channel.send(messages::progress_event(p)); };
  TRY(media::TranscodeReport report, media::transcode(request, listener, progress, std::stop_token()));
  if (report.thumbnails) {
    for (const media::EncodedImage& poster : report.thumbnails->posters) RETURN_IF_ERROR(send_image(channel, "poster", poster));
    for (const media::EncodedImage& sheet : report.thumbnails->sprite_sheets)
      RETURN_IF_ERROR(send_image(channel, "sprite", sheet));
  }
  return channel.send(messages::done_event(report));
}

Result<void> probe(Channel& channel, Message& message) {
  TRY(MediaLimits limits, messages::parse_probe_limits(message.header));
  TRY(SandboxLimits sandbox, messages::parse_sandbox(message.header));
  if (!message.attachment.is_open()) return fail(ErrorCode::internal, "the probe request came without its file");
  RETURN_IF_ERROR(enter_sandbox(sandbox));
  TRY(media::MediaInfo info, media::probe_file(std::move(message.attachment), limits));
  return channel.send(messages::probed_event(info));
}

Result<void> serve(Channel& channel, Message& message) {
  std::string kind = message.header.value("kind", "");
  if (kind == "transcode") return transcode(channel, message);
  if (kind == "probe") return probe(channel, message);
  return fail(ErrorCode::internal, "a media worker was asked for '" + kind + "'");
}

}  // namespace

int run_media_worker(int channel_fd) {
  // The worker must not outlive the daemon (nothing would read what it sends). A daemon that
  // died before this line left the channel closed: the receive below ends the worker. (Not
  // getppid() == 1: in a container the daemon itself is process 1.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Started as /proc/self/exe, the kernel would call it (and its threads) "exe" in ps and top.
  ::prctl(PR_SET_NAME, "media-worker");
  // Blocks of megabytes (pictures, segments) are allocated on one thread and freed on
  // another. Left to itself, glibc gives threads arenas of their own (eight per core) and
  // raises its mmap threshold once a large block is freed, so freed blocks stay in the arenas
  // and the process grows. With a fixed threshold they are mapped and unmapped; one arena
  // per core is enough. On a 1080p ladder: peak RSS 497-504 MiB before, 464-466 after
  // (docs/transcoding.md). The environment's MALLOC_* settings still decide when set.
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  cap_malloc_arenas();
  // Only standard input, output, error and the channel: not the daemon's sockets, database
  // or store (its descriptors are not all close-on-exec: Asio opens sockets without it).
  if (channel_fd != kWorkerChannelFd || ::close_range(kWorkerChannelFd + 1, ~0U, 0) != 0) {
    spdlog::error("media worker: expects its channel as descriptor {} and no others", kWorkerChannelFd);
    return 2;
  }
  Channel channel{File(channel_fd)};
  auto message = channel.receive();
  if (!message) {
    spdlog::error("media worker: no request: {}", message.error().message);
    return 2;
  }
  Result<void> outcome;
  try {  // nothing thrown reaches the C++ runtime's terminate: the daemon is told instead
    outcome = serve(channel, *message);
  } catch (const std::bad_alloc&) {
    outcome = fail(ErrorCode::resource, "out of memory (over the job's memory budget)");
  } catch (const std::exception& exception) {
    outcome = fail(ErrorCode::internal, std::string("the media worker threw: ") + exception.what());
  }
  if (outcome) return 0;
  (void)channel.send(messages::error_event(outcome.error()));
  return 1;
}

}  // namespace cinevault::worker
