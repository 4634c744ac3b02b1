// What the uploads in progress may still put on the disk, and how many an uploader may hold
// open (an uploader: a user, whichever key or session they send; the names say "key" from
// before accounts).
//
// Every upload claims its bytes before they arrive: a one-shot upload its Content-Length
// (sent chunked, each piece as it comes), a tus upload its Upload-Length for as long as it
// is open. A claim is refused when the disk's free space, less what earlier claims have yet
// to write, would fall below uploads.reserve_bytes (507), when the claims of the caller
// would exceed uploads.max_pending_bytes_per_key (507), or when a tus upload would be over
// uploads.max_open_uploads or uploads.max_open_uploads_per_key (429). So a request that
// cannot fit is answered before its first byte, and twenty 64 GiB creations cannot promise
// the same free space twenty times.
// Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "cinevault/core/config.hpp"
#include "cinevault/core/result.hpp"

namespace cinevault::ingest {

class UploadBudget {
 public:
  // Bytes the filesystem still gives an unprivileged writer.
  using FreeSpace = std::function<Result<std::uint64_t>()>;
  static FreeSpace free_space_of(std::filesystem::path dir);

  UploadBudget(const UploadConfig& config, FreeSpace free_space);

  // One upload's share. Movable; gives everything back when destroyed.
  class Claim {
   public:
    Claim() = default;
    Claim(Claim&& other) noexcept { *this = std::move(other); }
    Claim& operator=(Claim&& other) noexcept;
    ~Claim() { release(); }

    // BYTES arrived (they are on the disk now, not owed to it). Past what was claimed (a
    // chunked body) the claim grows first, in steps, or fails as a new claim would.
    Result<void> arrived(std::uint64_t bytes);
    // What the upload has yet to write, as recorded (a tus offset acknowledged, or bytes
    // past it discarded).
    void set_unwritten(std::uint64_t bytes);
    void release();

   private:
    friend class UploadBudget;
    UploadBudget* budget_ = nullptr;
    std::string owner_;
    std::uint64_t size_ = 0;       // counts against the owner's pending bytes
    std::uint64_t unwritten_ = 0;  // counts against the disk's free space
    bool open_upload_ = false;     // a tus upload: counts against the open-upload limits
  };

  // Claims BYTES for OWNER (the API key's id). OPEN_UPLOAD: a tus upload, which also counts
  // as one of the owner's open uploads.
  Result<Claim> claim(const std::string& owner, std::uint64_t bytes, bool open_upload);
  // The same without the checks: uploads that were open before a restart keep their place.
  Claim restore(const std::string& owner, std::uint64_t size, std::uint64_t unwritten);

  // For tests and logs.
  std::uint64_t unwritten() const;
  int open_uploads() const;

 private:
  struct Owner {
    std::uint64_t size = 0;
    int open_uploads = 0;
  };
  // Checks that OWNER may add BYTES (and one open upload when OPEN_UPLOAD), with the mutex held.
  Result<void> admit(const std::string& owner, std::uint64_t bytes, bool open_upload);
  void add(Claim& claim, std::uint64_t size, std::uint64_t unwritten, int open_uploads);

  UploadConfig config_;
  FreeSpace free_space_;
  mutable std::mutex mutex_;
  std::map<std::string, Owner> owners_;
  std::uint64_t unwritten_ = 0;
  int open_uploads_ = 0;
};

}  // namespace cinevault::ingest
