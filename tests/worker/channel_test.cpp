#include "cinevault/worker/channel.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "cinevault/worker/sandbox.hpp"

namespace cinevault::worker {
namespace {

TEST(Channel, AHeaderAndASealedMemoryFileTravelTogether) {
  auto [daemon, worker] = Channel::pair().value();
  std::string bytes(3 << 20, 'x');
  bytes[12345] = 'y';
  auto memory = sealed_memory_file(bytes).value();
  ASSERT_TRUE(worker.send({{"type", "media_segment"}, {"number", 3}}, memory.fd()));
  auto message = daemon.receive();
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(message->header["type"], "media_segment");
  EXPECT_EQ(message->header["number"], 3);
  ASSERT_TRUE(message->attachment.is_open());
  EXPECT_EQ(read_sealed(message->attachment, 4 << 20).value(), bytes);
  // Without a descriptor too.
  ASSERT_TRUE(worker.send({{"type", "progress"}}));
  auto plain = daemon.receive().value();
  EXPECT_FALSE(plain.attachment.is_open());
}

TEST(Channel, OnlySealedMemoryFilesOfAllowedSizeAreRead) {
  auto sealed = sealed_memory_file("abc").value();
  EXPECT_FALSE(read_sealed(sealed, 2));  // larger than allowed
  EXPECT_EQ(read_sealed(sealed, 3).value(), "abc");
  // A worker could still change an unsealed one after sending it.
  File unsealed(::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_TRUE(unsealed.write_all("abc", 3));
  auto refused = read_sealed(unsealed, 100);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_argument);
}

TEST(Channel, WhatIsNotAMessageOfOursIsRefused) {
  auto [daemon, worker] = Channel::pair().value();
  auto send_raw = [&](const std::string& datagram) {
    ASSERT_EQ(::send(worker.fd(), datagram.data(), datagram.size(), 0), static_cast<ssize_t>(datagram.size()));
  };
  send_raw("not json");
  EXPECT_EQ(daemon.receive().error().code, ErrorCode::invalid_argument);
  send_raw("[1, 2]");
  EXPECT_EQ(daemon.receive().error().code, ErrorCode::invalid_argument);
  send_raw("{\"a\": \"" + std::string(kMaxHeaderBytes, 'z') + "\"}");
  EXPECT_EQ(daemon.receive().error().code, ErrorCode::invalid_argument);
  // The channel still works after each refusal.
  ASSERT_TRUE(worker.send({{"type", "done"}}));
  EXPECT_EQ(daemon.receive().value().header["type"], "done");
}

TEST(Channel, TheOtherEndClosingIsGone) {
  auto [daemon, worker] = Channel::pair().value();
  worker.release().close();
  auto message = daemon.receive();
  ASSERT_FALSE(message);
  EXPECT_EQ(message.error().code, ErrorCode::gone);
  EXPECT_EQ(daemon.send({{"type", "stop"}}).error().code, ErrorCode::gone);
}

// What a worker does for every segment (memfd_create, write, seal, sendmsg) is allowed by
// its system-call filter.
TEST(Channel, ASandboxedWorkerSendsSegments) {
  auto [daemon, worker] = Channel::pair().value();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!enter_sandbox({})) ::_exit(100);
    auto memory = sealed_memory_file("segment bytes");
    if (!memory) ::_exit(101);
    ::_exit(worker.send({{"type", "media_segment"}}, memory->fd()) ? 0 : 102);
  }
  auto message = daemon.receive();
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(read_sealed(message->attachment, 100).value(), "segment bytes");
}

}  // namespace
}  // namespace cinevault::worker
