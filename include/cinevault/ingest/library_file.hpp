// Taking a file of someone's library into the store: its bytes are never changed, and when
// the filesystem allows, never duplicated either.
//
// The store promises that an object's bytes never change. A library file is the owner's:
// they may edit, retag or delete it. So the stored source is, in order of preference:
//   1. a reflink (FICLONE): a copy-on-write clone on btrfs, XFS or bcachefs. It shares the
//      file's blocks until either side writes, so it takes no space and no later edit of
//      the library file can reach it.
//   2. a hard link (library.store_files = auto, the same filesystem, and a file the daemon
//      may link: it owns it, or fs.protected_hardlinks is off). No space either; but the
//      object is the library file's inode, so an edit in place (rare for video files:
//      editors and taggers write a new file and rename it over the old) would change the
//      object. library.store_files = copy rules this out.
//   3. a copy, streamed and hashed in one pass; its space is claimed from the upload
//      budget first (507 when the disk, less its reserve, cannot take it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

#include <sys/stat.h>

#include "cinevault/core/result.hpp"
#include "cinevault/ingest/staging.hpp"
#include "cinevault/ingest/upload_budget.hpp"

namespace cinevault::ingest {

enum class TakeMethod { reflink, hard_link, copy };
const char* to_string(TakeMethod method);

// What says whether a file changed: its size and modification time.
struct LibraryFileState {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const LibraryFileState&) const = default;
};
// The state `st` (from stat or fstat) says.
LibraryFileState state_of(const struct stat& st);

struct TakenFile {
  StagedFile staged;  // in the store's temp dir, hashed, durable; removed unless the store takes it
  TakeMethod method;
  LibraryFileState state;  // the library file's, as it was taken
};

struct TakeOptions {
  bool allow_hard_link = true;
  std::uint64_t max_bytes = 0;  // larger files are refused (too_large)
  int settle_s = 0;             // a file modified more recently is still being written (conflict)
  // Claims the bytes of a copy before it is made (the upload budget's reserve rules).
  std::function<Result<UploadBudget::Claim>(std::uint64_t bytes)> claim_copy;
};

// Takes `file` into `temp_dir` (on the store's filesystem). Errors: not_found, forbidden (not
// readable), unsupported_media (not a regular file), too_large, conflict (modified within
// settle_s, or while it was taken: still being written), insufficient_storage, io.
Result<TakenFile> take_library_file(const std::filesystem::path& file, const std::filesystem::path& temp_dir,
                                    const TakeOptions& options);

}  // namespace cinevault::ingest
