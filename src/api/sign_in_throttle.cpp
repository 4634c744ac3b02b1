#include "sign_in_throttle.hpp"

#include <algorithm>

namespace cinevault::api {
namespace {

constexpr std::chrono::seconds kLongestWait{15 * 60};

}  // namespace

std::optional<std::chrono::seconds> SignInThrottle::wait(const std::string& user, const std::string& address,
                                                         Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Clock::time_point until{};
  if (const Failures* f = users_.peek(user)) until = std::max(until, f->until);
  if (const Failures* f = addresses_.peek(address)) until = std::max(until, f->until);
  if (until <= now) return std::nullopt;
  return std::chrono::ceil<std::chrono::seconds>(until - now);
}

void SignInThrottle::count(LruMap<std::string, Failures>& map, const std::string& key, int free_failures,
                           Clock::time_point now) {
  Failures* failures = map.try_emplace(key, Failures{}).first;
  ++failures->count;
  int over = failures->count - free_failures;
  if (over <= 0) return;
  auto wait = std::chrono::seconds(1LL << std::min(over - 1, 10));  // 1 s, 2 s, 4 s, … 1024 s
  failures->until = now + std::min<std::chrono::seconds>(wait, kLongestWait);
}

void SignInThrottle::failed(const std::string& user, const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  count(users_, user, kUserFailures, now);
  count(addresses_, address, kAddressFailures, now);
}

void SignInThrottle::succeeded(const std::string& user, const std::string& address) {
  std::lock_guard lock(mutex_);
  users_.erase(user);
  addresses_.erase(address);
}

}  // namespace cinevault::api
