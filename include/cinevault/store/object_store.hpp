// The content-addressed object store: every stored byte string is named by its SHA-256.
//
// An object becomes visible under its name only once it is durable: written to a temp file
// on the same filesystem, fsynced, renamed, and the directory fsynced. Identical bytes are
// stored once. The store knows nothing of who refers to an object; the database does, and
// collect_garbage() joins the two.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cinevault/core/file.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::store {

struct StoredObject {
  std::string sha256;
  std::uint64_t size = 0;
  bool already_present = false;  // identical bytes were stored before: nothing was written
};

struct GcReport {
  std::size_t rows_removed = 0;     // object rows nothing referred to
  std::size_t objects_removed = 0;  // files removed from disk
  std::uint64_t bytes_freed = 0;
  std::size_t temp_files_removed = 0;
};

// An object's file open for reading.
struct ObjectFile {
  File file;
  std::uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Where to stage files that put_file() will take: same filesystem, so the move is a rename.
  virtual std::filesystem::path temp_dir() const = 0;

  // Takes a complete, fsynced staged file whose SHA-256 the caller computed while writing it.
  // The staged file is renamed into place, or removed if the object already exists.
  virtual Result<StoredObject> put_file(const std::filesystem::path& staged, const std::string& sha256) = 0;
  virtual Result<StoredObject> put_bytes(std::string_view bytes) = 0;

  virtual bool contains(std::string_view sha256) const = 0;
  // Where the object's bytes are, for serving. The hash must be valid lowercase hex.
  virtual std::filesystem::path path_of(std::string_view sha256) const = 0;
  // The object opened for serving (not_found if absent). Objects never change, so one
  // descriptor is shared by every reader (reads and sendfile take explicit offsets), and the
  // most recently used stay open for the next request, as nginx's open_file_cache does;
  // collect_garbage() closes those of the objects it removes.
  virtual Result<std::shared_ptr<const ObjectFile>> open(std::string_view sha256) = 0;

  // Held (shared) from a put until the database row that refers to the object is committed,
  // so that a collection running in between cannot take the object away.
  virtual std::shared_lock<std::shared_mutex> pin() = 0;

  // Removes every object for which is_referenced() says false, and, when remove_temp_files
  // is set (at start-up, when no write can be in flight), every leftover temp file.
  // drop_unreferenced_rows runs first, under the same exclusive lock.
  struct Collector {
    std::function<Result<std::size_t>()> drop_unreferenced_rows;
    std::function<Result<bool>(const std::string& sha256)> is_referenced;
  };
  virtual Result<GcReport> collect_garbage(const Collector& collector, bool remove_temp_files) = 0;
};

// A store under `root`: objects in root/objects/ab/cd/<sha256>, temp files in root/tmp.
Result<std::unique_ptr<ObjectStore>> make_local_store(const std::filesystem::path& root);

}  // namespace cinevault::store
