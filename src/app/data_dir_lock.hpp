// One process per data directory: an exclusive flock held for the daemon's life (and by
// the commands that write the store while no daemon runs).
#pragma once

#include <fcntl.h>
#include <sys/file.h>

#include <filesystem>

#include "cinevault/core/file.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::app {

class DataDirLock {
 public:
  static Result<DataDirLock> acquire(const std::filesystem::path& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return fail(ErrorCode::io, "cannot create the data directory " + data_dir.string() + ": " + ec.message());
    auto path = data_dir / "lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fail(ErrorCode::io, errno_message("open " + path.string(), errno));
    File file(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
      return fail(ErrorCode::unavailable, "another cinevault process is using " + data_dir.string());
    return DataDirLock(std::move(file));
  }

 private:
  explicit DataDirLock(File file) : file_(std::move(file)) {}
  File file_;
};

}  // namespace cinevault::app
