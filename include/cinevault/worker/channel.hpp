// Messages between the daemon and a media worker, over one end each of a SOCK_SEQPACKET
// socketpair. A message is one datagram: a JSON header (at most kMaxHeaderBytes), and
// optionally one descriptor passed with it (SCM_RIGHTS): the source file on the way in,
// a sealed memory file of segment or image bytes on the way out, so that megabytes do not
// cross the socket.
//
// The daemon reads what a worker sends as hostile (the worker decodes untrusted media):
// headers are bounded and parsed without exceptions, a memory file is taken only when it is
// sealed against change and no larger than the caller allows.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "cinevault/core/file.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::worker {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

struct Message {
  nlohmann::json header;  // always an object
  File attachment;        // the descriptor sent with it, if any
};

class Channel {
 public:
  // Two connected ends (close-on-exec; the daemon clears it on the worker's end when it starts one).
  static Result<std::pair<Channel, Channel>> pair();
  explicit Channel(File socket) : socket_(std::move(socket)) {}

  // HEADER must be an object. ATTACHMENT: a descriptor to pass along (not closed here), or -1.
  Result<void> send(const nlohmann::json& header, int attachment = -1);
  // Blocks for the next message. gone: the other end closed; invalid_argument: a datagram
  // that is not a header of ours (too long, cut short, not a JSON object, more than one descriptor).
  Result<Message> receive();

  int fd() const { return socket_.fd(); }
  File release() { return std::move(socket_); }

 private:
  File socket_;
};

// BYTES in a new memory file, sealed so that nobody can change, grow or shrink it (memfd_create).
Result<File> sealed_memory_file(std::string_view bytes);
// The bytes of a memory file received from a worker: invalid_argument unless it is sealed
// against writes, growing and shrinking, and at most MAX_BYTES long.
Result<std::string> read_sealed(const File& file, std::size_t max_bytes);

}  // namespace cinevault::worker
