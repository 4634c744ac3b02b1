#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include <spdlog/spdlog.h>

#include "cinevault/core/file.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/lru_map.hpp"
#include "cinevault/store/object_store.hpp"

namespace cinevault::store {
namespace {

namespace fs = std::filesystem;

// Open object files, least recently used dropped first beyond the capacity.
class OpenFiles {
 public:
  explicit OpenFiles(std::size_t capacity) : files_(capacity) {}

  std::shared_ptr<const ObjectFile> find(std::string_view sha256) {
    std::lock_guard lock(mutex_);
    auto* file = files_.find(sha256);
    return file ? *file : nullptr;
  }

  // How many objects were forgotten so far: read before opening a file, and given back to
  // insert(), which keeps nothing if an object was removed meanwhile (it may be this one).
  std::uint64_t removals() {
    std::lock_guard lock(mutex_);
    return removals_;
  }

  void insert(const std::string& sha256, std::shared_ptr<const ObjectFile> file, std::uint64_t removals_before) {
    std::lock_guard lock(mutex_);
    if (removals_ != removals_before) return;
    files_.try_emplace(sha256, std::move(file));  // opened by two requests at once: keeps the first
  }

  // After the object's file was removed.
  void forget(const std::string& sha256) {
    std::lock_guard lock(mutex_);
    ++removals_;
    files_.erase(sha256);
  }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::mutex mutex_;
  // A response being sent holds its own reference to the file.
  LruMap<std::string, std::shared_ptr<const ObjectFile>, NameHash, std::equal_to<>> files_;
  std::uint64_t removals_ = 0;
};

// Descriptors kept open: each costs a file table entry, and the service's limit is 65,536.
constexpr std::size_t kOpenFilesKept = 1024;

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(fs::path root) : objects_(root / "objects"), temp_(root / "tmp") {}

  Result<void> create_directories() {
    std::error_code ec;
    fs::create_directories(objects_, ec);
    if (!ec) fs::create_directories(temp_, ec);
    if (ec) return fail(ErrorCode::io, "create store directories under " + objects_.parent_path().string() + ": " + ec.message());
    return {};
  }

  fs::path temp_dir() const override { return temp_; }

  fs::path path_of(std::string_view sha256) const override {
    return objects_ / sha256.substr(0, 2) / sha256.substr(2, 2) / sha256;
  }

  Result<std::shared_ptr<const ObjectFile>> open(std::string_view sha256) override {
    if (auto cached = open_files_.find(sha256)) return cached;
    std::uint64_t removals = open_files_.removals();
    auto file = File::open_read(path_of(sha256));
    if (!file) return fail(ErrorCode::not_found, "no such object");
    auto object = std::make_shared<ObjectFile>();
    TRY(object->size, file->size());
    object->file = std::move(*file);
    open_files_.insert(std::string(sha256), object, removals);
    return object;
  }

  bool contains(std::string_view sha256) const override {
    struct stat st {};
    return is_sha256_hex(sha256) && ::stat(path_of(sha256).c_str(), &st) == 0;
  }

  Result<StoredObject> put_file(const fs::path& staged, const std::string& sha256) override {
    if (!is_sha256_hex(sha256)) return fail(ErrorCode::internal, "put_file: not a SHA-256: " + sha256);
    struct stat st {};
    if (::stat(staged.c_str(), &st) != 0) return fail(ErrorCode::io, errno_message("stat " + staged.string(), errno));
    StoredObject object{sha256, static_cast<std::uint64_t>(st.st_size), false};
    fs::path target = path_of(sha256);
    if (contains(sha256)) {
      object.already_present = true;
      std::error_code ec;
      fs::remove(staged, ec);
      return object;
    }
    RETURN_IF_ERROR(ensure_parent(target));
    if (::rename(staged.c_str(), target.c_str()) != 0)
      return fail(ErrorCode::io, errno_message("rename into the store " + target.string(), errno));
    RETURN_IF_ERROR(fsync_directory(target.parent_path()));
    return object;
  }

  Result<StoredObject> put_bytes(std::string_view bytes) override {
    std::string sha256 = sha256_hex(bytes);
    if (contains(sha256)) return StoredObject{sha256, bytes.size(), true};
    fs::path staged = temp_ / ("put-" + random_hex(8));
    TRY(File file, File::create_new(staged, 0600));
    auto written = file.write_all(bytes.data(), bytes.size())
                       .and_then([&] { return file.sync(); })
                       .and_then([&] { return file.close(); });
    if (!written) {
      std::error_code ec;
      fs::remove(staged, ec);
      return tl::unexpected(written.error());
    }
    return put_file(staged, sha256);
  }

  std::shared_lock<std::shared_mutex> pin() override { return std::shared_lock(gc_mutex_); }

  Result<GcReport> collect_garbage(const Collector& collector, bool remove_temp_files) override {
    std::unique_lock exclusive(gc_mutex_);
    GcReport report;
    TRY(report.rows_removed, collector.drop_unreferenced_rows());
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(objects_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string name = it->path().filename().string();
      if (!is_sha256_hex(name) || it->path() != path_of(name)) {
        // Not an object name at this place: a crash leftover or a stray file. Leave it, say so.
        spdlog::warn("store: unexpected file {} left alone", it->path().string());
        continue;
      }
      TRY(bool referenced, collector.is_referenced(name));
      if (referenced) continue;
      auto size = it->file_size(ec);
      if (fs::remove(it->path(), ec)) {
        open_files_.forget(name);
        ++report.objects_removed;
        report.bytes_freed += size;
      }
    }
    if (ec) return fail(ErrorCode::io, "walk " + objects_.string() + ": " + ec.message());
    if (remove_temp_files) {
      for (auto& entry : fs::directory_iterator(temp_, ec))
        if (fs::remove(entry.path(), ec)) ++report.temp_files_removed;
    }
    return report;
  }

 private:
  Result<void> ensure_parent(const fs::path& target) {
    fs::path parent = target.parent_path();
    if (fs::exists(parent)) return {};
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return fail(ErrorCode::io, "create " + parent.string() + ": " + ec.message());
    // The new directories' own entries must be durable too.
    RETURN_IF_ERROR(fsync_directory(parent.parent_path()));
    return fsync_directory(objects_);
  }

  fs::path objects_;
  fs::path temp_;
  std::shared_mutex gc_mutex_;
  OpenFiles open_files_{kOpenFilesKept};
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> make_local_store(const fs::path& root) {
  auto store = std::make_unique<LocalStore>(root);
  RETURN_IF_ERROR(store->create_directories());
  return std::unique_ptr<ObjectStore>(std::move(store));
}

}  // namespace cinevault::store
