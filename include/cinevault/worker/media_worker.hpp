// The media worker: `cinevault media-worker`, started by the daemon for one probe or one
// transcode, with its end of a channel (worker/channel.hpp) as descriptor 3.
//
// It closes every other descriptor it inherited, reads one request (the source arrives as
// an open descriptor with it), opens what must be opened before confinement (a hardware
// encoder's device), enters the sandbox (worker/sandbox.hpp) and only then reads the
// source: probes it, or transcodes it and streams the init and media segments, progress,
// thumbnails and the report back as it goes. The last message is "probed", "done" or
// "error". Whatever the file does to the decoders happens in this process, not the daemon.
#pragma once

namespace cinevault::worker {

constexpr int kWorkerChannelFd = 3;

// The whole life of a worker process; returns its exit status.
int run_media_worker(int channel_fd);

}  // namespace cinevault::worker
