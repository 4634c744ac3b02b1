#include "cinevault/worker/channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cinevault/core/text.hpp"

namespace cinevault::worker {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;

}  // namespace

Result<std::pair<Channel, Channel>> Channel::pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    return fail(ErrorCode::internal, errno_message("socketpair", errno));
  return std::pair<Channel, Channel>(Channel(File(fds[0])), Channel(File(fds[1])));
}

Result<void> Channel::send(const nlohmann::json& header, int attachment) {
  if (!header.is_object()) return fail(ErrorCode::internal, "a channel header must be a JSON object");
  std::string text = json_text(header);
  if (text.size() > kMaxHeaderBytes) return fail(ErrorCode::internal, "a channel header is too long");
  iovec part{text.data(), text.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (attachment >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &attachment, sizeof(int));
  }
  for (;;) {
    if (::sendmsg(socket_.fd(), &message, MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return fail(ErrorCode::gone, "the other end of the channel closed");
    return fail(ErrorCode::io, errno_message("sendmsg", errno));
  }
}

Result<Message> Channel::receive() {
  std::string text(kMaxHeaderBytes + 1, '\0');
  iovec part{text.data(), text.size()};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  // Room for more descriptors than we accept: extra ones are received (and closed), not lost in the kernel.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(socket_.fd(), &message, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET) return fail(ErrorCode::gone, "the other end of the channel closed");
    return fail(ErrorCode::io, errno_message("recvmsg", errno));
  }
  if (n == 0) return fail(ErrorCode::gone, "the other end of the channel closed");

  Message received;
  int descriptors = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      File owned(fd);  // closed unless kept
      if (descriptors++ == 0) received.attachment = std::move(owned);
    }
  }
  if (descriptors > 1) return fail(ErrorCode::invalid_argument, "a channel message carried more than one descriptor");
  if (static_cast<std::size_t>(n) > kMaxHeaderBytes || (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
    return fail(ErrorCode::invalid_argument, "a channel message was too long");
  text.resize(static_cast<std::size_t>(n));
  received.header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!received.header.is_object()) return fail(ErrorCode::invalid_argument, "a channel message is not a JSON object");
  return received;
}

Result<File> sealed_memory_file(std::string_view bytes) {
  int fd = ::memfd_create("cinevault-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return fail(ErrorCode::internal, errno_message("memfd_create", errno));
  File file(fd);
  RETURN_IF_ERROR(file.write_all(bytes.data(), bytes.size()));
  if (::fcntl(fd, F_ADD_SEALS, kSeals) != 0) return fail(ErrorCode::internal, errno_message("sealing a memory file", errno));
  return file;
}

Result<std::string> read_sealed(const File& file, std::size_t max_bytes) {
  int seals = ::fcntl(file.fd(), F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)) != (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK))
    return fail(ErrorCode::invalid_argument, "a worker's memory file is not sealed");
  TRY(std::uint64_t size, file.size());
  if (size > max_bytes) return fail(ErrorCode::invalid_argument, "a worker's memory file is larger than allowed");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    TRY(std::size_t n, file.pread_some(bytes.data() + filled, bytes.size() - filled, filled));
    if (n == 0) return fail(ErrorCode::invalid_argument, "a worker's memory file ended early");
    filled += n;
  }
  return bytes;
}

}  // namespace cinevault::worker
