#include "cinevault/core/file.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include "scratch_dir.hpp"

namespace cinevault {
namespace {

namespace fs = std::filesystem;

class WritebackPacerTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = File::create_new(dir_ / "upload").value(); }
  // Appends `chunks` pacer chunks of bytes and tells the pacer.
  void append(WritebackPacer& pacer, std::uint64_t chunks) {
    std::string block(WritebackPacer::kChunk, 'x');
    for (std::uint64_t i = 0; i < chunks; ++i) {
      ASSERT_TRUE(file_.pwrite_all(block.data(), block.size(), end_));
      end_ += block.size();
      pacer.wrote(file_.fd(), end_);
    }
  }
  test_support::ScratchDir dir_{"pacer"};
  File file_;
  std::uint64_t end_ = 0;
};

TEST_F(WritebackPacerTest, AsksToWaitOnceMoreThanTheLimitIsOnItsWay) {
  WritebackPacer pacer;
  constexpr std::uint64_t in_flight_chunks = WritebackPacer::kMaxInFlight / WritebackPacer::kChunk;
  append(pacer, in_flight_chunks);
  EXPECT_FALSE(pacer.should_wait());
  append(pacer, 1);
  EXPECT_TRUE(pacer.should_wait());
  ASSERT_TRUE(pacer.wait(file_.fd()));
  EXPECT_FALSE(pacer.should_wait());  // one chunk stays in flight
  EXPECT_EQ(pacer.waits(), 1);
  append(pacer, in_flight_chunks - 1);
  EXPECT_FALSE(pacer.should_wait());
  append(pacer, 1);
  EXPECT_TRUE(pacer.should_wait());
}

TEST_F(WritebackPacerTest, EachWaitLetsTheWriterGoOn) {
  WritebackPacer pacer;
  constexpr std::uint64_t total = 128 << 20;
  for (std::uint64_t written = 0; written < total; written += WritebackPacer::kChunk) {
    append(pacer, 1);
    if (pacer.should_wait()) {
      ASSERT_TRUE(pacer.wait(file_.fd()));
      EXPECT_FALSE(pacer.should_wait()) << "after " << written << " bytes";
    }
  }
  // Asked for all along the write, not only once.
  EXPECT_GE(pacer.waits(), static_cast<int>(total / (2 * WritebackPacer::kMaxInFlight)));
}

TEST_F(WritebackPacerTest, FlushesInTheBackgroundEveryFlushInterval) {
  WritebackPacer pacer;
  constexpr std::uint64_t chunks_per_flush = WritebackPacer::kFlushEvery / WritebackPacer::kChunk;
  for (std::uint64_t i = 0; i < chunks_per_flush; ++i) {
    EXPECT_EQ(pacer.flushes(), 0);
    append(pacer, 1);
    if (pacer.should_wait()) {
      ASSERT_TRUE(pacer.wait(file_.fd()));
    }
  }
  EXPECT_EQ(pacer.flushes(), 1);
  EXPECT_TRUE(pacer.finish());
}

TEST_F(WritebackPacerTest, AFailedBackgroundFlushFailsTheFinish) {
  // fdatasync fails on a pipe (EINVAL): the error must not be lost with the thread.
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  File read_end(ends[0]), write_end(ends[1]);
  WritebackPacer pacer;
  pacer.wrote(write_end.fd(), WritebackPacer::kFlushEvery);
  EXPECT_EQ(pacer.flushes(), 1);
  auto finished = pacer.finish();
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, ErrorCode::io);
  EXPECT_NE(finished.error().message.find("fdatasync"), std::string::npos) << finished.error().message;
}

TEST_F(WritebackPacerTest, PartialChunksAreNotCountedUntilAWholeChunkCame) {
  WritebackPacer pacer;
  std::string bytes(WritebackPacer::kMaxInFlight + WritebackPacer::kChunk - 1, 'y');
  ASSERT_TRUE(file_.pwrite_all(bytes.data(), bytes.size(), 0));
  for (std::uint64_t end = 4096; end <= bytes.size(); end += 4096) pacer.wrote(file_.fd(), end);
  pacer.wrote(file_.fd(), bytes.size());
  EXPECT_FALSE(pacer.should_wait());  // the last chunk is one byte short
}

TEST_F(WritebackPacerTest, AResumedWriteCountsFromItsOffset) {
  end_ = 10 * WritebackPacer::kChunk;
  WritebackPacer pacer(end_);
  append(pacer, WritebackPacer::kMaxInFlight / WritebackPacer::kChunk);
  EXPECT_FALSE(pacer.should_wait());
  append(pacer, 1);
  EXPECT_TRUE(pacer.should_wait());
  ASSERT_TRUE(pacer.wait(file_.fd()));
}

TEST_F(WritebackPacerTest, AFailedWaitIsAnIoError) {
  WritebackPacer pacer;
  append(pacer, WritebackPacer::kMaxInFlight / WritebackPacer::kChunk + 1);
  ASSERT_TRUE(file_.close());
  auto waited = pacer.wait(file_.fd());  // the descriptor is gone
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::io);
}

}  // namespace
}  // namespace cinevault
