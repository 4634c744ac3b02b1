#include "demux.hpp"

#include <algorithm>
#include <cerrno>

#include <unistd.h>

namespace cinevault::media {

Result<Demuxer> Demuxer::open(const TranscodeRequest& request) {
  auto opened = [&]() -> Result<SafeInput> {
    if (request.source_fd < 0) return SafeInput::open(request.source, request.limits);
    int fd = ::dup(request.source_fd);
    if (fd < 0) return fail(ErrorCode::io, errno_message("dup of the source", errno));
    return SafeInput::open(File(fd), request.limits);
  }();
  TRY(SafeInput input, std::move(opened));
  const LadderPlan& plan = request.plan;
  AVFormatContext* format = input.format();
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    int index = static_cast<int>(i);
    bool used = index == plan.video_stream ||
                std::find(plan.audio_streams.begin(), plan.audio_streams.end(), index) != plan.audio_streams.end();
    format->streams[i]->discard = used ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  }
  return Demuxer(std::move(input));
}

Result<bool> Demuxer::read(AVPacket& packet) {
  int error = av_read_frame(input_.format(), &packet);
  if (error == AVERROR_EOF) {
    RETURN_IF_ERROR(input_.read_status());
    return false;
  }
  if (error < 0) {
    RETURN_IF_ERROR(input_.read_status());
    return fail(ErrorCode::unprocessable, "reading the source failed: " + av_error_text(error));
  }
  return true;
}

}  // namespace cinevault::media
