#include "cinevault/ingest/library_file.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cinevault/core/file.hpp"
#include "cinevault/core/hash.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunk = 1 << 20;

Error open_error(const fs::path& file, int error_number) {
  if (error_number == ENOENT || error_number == ENOTDIR) return {ErrorCode::not_found, "no such file"};
  if (error_number == EACCES || error_number == EPERM)
    return {ErrorCode::forbidden, "the daemon may not read it (permission denied)"};
  return {ErrorCode::io, errno_message("open " + file.string(), error_number)};
}

// Removes the taken file unless it was handed on.
struct RemoveUnlessKept {
  fs::path path;
  ~RemoveUnlessKept() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove(path, ec);
  }
};

// Hashes `in` from its start while copying it to `out` when that is open.
Result<std::string> hash_copying(const File& in, std::uint64_t size, File* out) {
  std::vector<char> buffer(kChunk);
  Hasher hasher(HashAlgorithm::sha256);
  std::uint64_t offset = 0;
  while (offset < size) {
    TRY(std::size_t got, in.pread_some(buffer.data(), std::min<std::uint64_t>(kChunk, size - offset), offset));
    if (got == 0) return fail(ErrorCode::conflict, "it became shorter while it was read (still being written)");
    hasher.update(buffer.data(), got);
    if (out) RETURN_IF_ERROR(out->write_all(buffer.data(), got));
    offset += got;
  }
  return hasher.finish_hex();
}

}  // namespace

const char* to_string(TakeMethod method) {
  switch (method) {
    case TakeMethod::reflink: return "reflink";
    case TakeMethod::hard_link: return "hard link";
    case TakeMethod::copy: return "copy";
  }
  return "copy";
}

LibraryFileState state_of(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<TakenFile> take_library_file(const fs::path& file, const fs::path& temp_dir, const TakeOptions& options) {
  // O_NONBLOCK: a FIFO among the files must not hang the import.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return tl::unexpected(open_error(file, errno));
  File source(fd);
  struct stat before {};
  if (::fstat(source.fd(), &before) != 0) return fail(ErrorCode::io, errno_message("stat " + file.string(), errno));
  if (!S_ISREG(before.st_mode)) return fail(ErrorCode::unsupported_media, "not a regular file");
  const LibraryFileState state = state_of(before);
  if (state.size > options.max_bytes)
    return fail(ErrorCode::too_large, fmt::format("{} bytes, more than uploads.max_upload_bytes", state.size));
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (now_ns - state.mtime_ns < static_cast<std::int64_t>(options.settle_s) * 1'000'000'000)
    return fail(ErrorCode::conflict, "still being written (changed in the last library.settle_s seconds)");
  ::posix_fadvise(source.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);

  RemoveUnlessKept taken{temp_dir / ("import-" + random_hex(8))};
  std::optional<TakeMethod> method;
  File target;
  {
    TRY(File clone, File::create_new(taken.path, 0600));
    if (::ioctl(clone.fd(), FICLONE, source.fd()) == 0) {
      method = TakeMethod::reflink;
      target = std::move(clone);
    } else {
      clone = File();
      std::error_code ec;
      fs::remove(taken.path, ec);
    }
  }
  if (!method && options.allow_hard_link) {
    // Links the inode we opened (not whatever the path names by now), as an unprivileged
    // process may: through /proc. EXDEV (another filesystem) and EPERM
    // (fs.protected_hardlinks, someone else's file) fall through to a copy.
    const std::string opened = "/proc/self/fd/" + std::to_string(source.fd());
    if (::linkat(AT_FDCWD, opened.c_str(), AT_FDCWD, taken.path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      method = TakeMethod::hard_link;
      TRY(target, File::open_read(taken.path));
    }
  }

  std::string sha256;
  UploadBudget::Claim claim;
  if (method) {
    // Shared blocks: read once to hash; the clone's metadata, the link's entry made durable.
    TRY(sha256, hash_copying(target, state.size, nullptr));
  } else {
    if (options.claim_copy) {
      TRY(claim, options.claim_copy(state.size));
    }
    TRY(target, File::create_new(taken.path, 0600));
    TRY(sha256, hash_copying(source, state.size, &target));
    method = TakeMethod::copy;
  }
  RETURN_IF_ERROR(target.sync());
  RETURN_IF_ERROR(target.close());

  struct stat after {};
  if (::fstat(source.fd(), &after) != 0) return fail(ErrorCode::io, errno_message("stat " + file.string(), errno));
  if (state_of(after) != state)
    return fail(ErrorCode::conflict, "it changed while it was imported (still being written)");
  TakenFile result{StagedFile(taken.path, sha256, state.size), *method, state};
  taken.path.clear();
  return result;
}

}  // namespace cinevault::ingest
