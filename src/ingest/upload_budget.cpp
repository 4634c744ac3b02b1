#include "cinevault/ingest/upload_budget.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "cinevault/core/file.hpp"

namespace cinevault::ingest {
namespace {

// A chunked body claims this much more each time it passes its claim: one check per step,
// not per read.
constexpr std::uint64_t kGrowthStep = 16ull << 20;

std::string mebibytes(std::uint64_t bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

}  // namespace

UploadBudget::FreeSpace UploadBudget::free_space_of(std::filesystem::path dir) {
  return [dir = std::move(dir)]() -> Result<std::uint64_t> {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return fail(ErrorCode::io, errno_message("statvfs " + dir.string(), errno));
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  };
}

UploadBudget::UploadBudget(const UploadConfig& config, FreeSpace free_space)
    : config_(config), free_space_(std::move(free_space)) {}

Result<void> UploadBudget::admit(const std::string& owner, std::uint64_t bytes, bool open_upload) {
  if (open_upload) {
    if (open_uploads_ >= config_.max_open_uploads)
      return fail(ErrorCode::too_many, fmt::format("the server has {} unfinished uploads, its limit: finish or delete "
                                                   "some first",
                                                   open_uploads_));
    auto it = owners_.find(owner);
    if (it != owners_.end() && it->second.open_uploads >= config_.max_open_uploads_per_key)
      return fail(ErrorCode::too_many, fmt::format("this uploader has {} unfinished uploads, their limit: finish or delete "
                                                   "some first",
                                                   it->second.open_uploads));
  }
  auto pending = owners_.count(owner) ? owners_.at(owner).size : 0;
  auto per_key = static_cast<std::uint64_t>(config_.max_pending_bytes_per_key);
  if (pending + bytes > per_key)
    return fail(ErrorCode::insufficient_storage,
                fmt::format("this uploader's unfinished uploads would hold {} of their {}", mebibytes(pending + bytes),
                            mebibytes(per_key)));
  TRY(std::uint64_t free, free_space_());
  auto reserve = static_cast<std::uint64_t>(config_.reserve_bytes);
  std::uint64_t needed = reserve + unwritten_ + bytes;
  if (free < needed)
    return fail(ErrorCode::insufficient_storage,
                fmt::format("not enough disk space: {} needed, {} can be given to uploads", mebibytes(bytes),
                            mebibytes(free > reserve + unwritten_ ? free - reserve - unwritten_ : 0)));
  return {};
}

void UploadBudget::add(Claim& claim, std::uint64_t size, std::uint64_t unwritten, int open_uploads) {
  Owner& owner = owners_[claim.owner_];
  owner.size += size;
  owner.open_uploads += open_uploads;
  claim.size_ += size;
  claim.unwritten_ += unwritten;
  unwritten_ += unwritten;
  open_uploads_ += open_uploads;
}

Result<UploadBudget::Claim> UploadBudget::claim(const std::string& owner, std::uint64_t bytes, bool open_upload) {
  std::lock_guard lock(mutex_);
  RETURN_IF_ERROR(admit(owner, bytes, open_upload));
  Claim claim;
  claim.budget_ = this;
  claim.owner_ = owner;
  claim.open_upload_ = open_upload;
  add(claim, bytes, bytes, open_upload ? 1 : 0);
  return claim;
}

UploadBudget::Claim UploadBudget::restore(const std::string& owner, std::uint64_t size, std::uint64_t unwritten) {
  std::lock_guard lock(mutex_);
  Claim claim;
  claim.budget_ = this;
  claim.owner_ = owner;
  claim.open_upload_ = true;
  add(claim, size, std::min(size, unwritten), 1);
  return claim;
}

std::uint64_t UploadBudget::unwritten() const {
  std::lock_guard lock(mutex_);
  return unwritten_;
}

int UploadBudget::open_uploads() const {
  std::lock_guard lock(mutex_);
  return open_uploads_;
}

UploadBudget::Claim& UploadBudget::Claim::operator=(Claim&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::exchange(other.budget_, nullptr);
    owner_ = std::move(other.owner_);
    size_ = std::exchange(other.size_, 0);
    unwritten_ = std::exchange(other.unwritten_, 0);
    open_upload_ = other.open_upload_;
  }
  return *this;
}

Result<void> UploadBudget::Claim::arrived(std::uint64_t bytes) {
  if (!budget_) return {};
  std::lock_guard lock(budget_->mutex_);
  if (bytes > unwritten_) {
    std::uint64_t more = std::max(kGrowthStep, bytes - unwritten_);
    RETURN_IF_ERROR(budget_->admit(owner_, more, false));
    budget_->add(*this, more, more, 0);
  }
  unwritten_ -= bytes;
  budget_->unwritten_ -= bytes;
  return {};
}

void UploadBudget::Claim::set_unwritten(std::uint64_t bytes) {
  if (!budget_) return;
  std::lock_guard lock(budget_->mutex_);
  bytes = std::min(bytes, size_);
  budget_->unwritten_ = budget_->unwritten_ - unwritten_ + bytes;
  unwritten_ = bytes;
}

void UploadBudget::Claim::release() {
  if (!budget_) return;
  std::lock_guard lock(budget_->mutex_);
  auto it = budget_->owners_.find(owner_);
  if (it != budget_->owners_.end()) {
    it->second.size -= std::min(it->second.size, size_);
    if (open_upload_) --it->second.open_uploads;
    if (it->second.size == 0 && it->second.open_uploads <= 0) budget_->owners_.erase(it);
  }
  budget_->unwritten_ -= unwritten_;
  if (open_upload_) --budget_->open_uploads_;
  budget_ = nullptr;
  size_ = unwritten_ = 0;
}

}  // namespace cinevault::ingest
