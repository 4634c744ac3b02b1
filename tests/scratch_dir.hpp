// A directory of its own under the build's test-tmp for one test: made when the fixture is,
// removed with everything in it when the fixture goes. Declare it before the members that
// keep files open in it (a database, a store), so that they close first.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "cinevault/core/hash.hpp"

namespace cinevault::test_support {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix)
      : path_(std::filesystem::path(CINEVAULT_TEST_TMP) / (prefix + "-" + random_hex(6))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  operator const std::filesystem::path&() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace cinevault::test_support
