// Failed sign-ins, per user name and per client address: after a few failures in a row each
// further attempt must wait, 1 s doubling up to 15 minutes, until one succeeds. Answered
// before the password is checked, so guessing costs the guesser time and the server nothing.
// Bounded: the least recently failed names and addresses are forgotten first.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "cinevault/core/lru_map.hpp"

namespace cinevault::api {

class SignInThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kUserFailures = 5;      // failures in a row before a user name must wait
  static constexpr int kAddressFailures = 20;  // ... before an address must wait
  explicit SignInThrottle(std::size_t max_entries = 10000) : users_(max_entries), addresses_(max_entries) {}

  // How long the attempt must wait still; nullopt when it may go ahead.
  std::optional<std::chrono::seconds> wait(const std::string& user, const std::string& address, Clock::time_point now);
  void failed(const std::string& user, const std::string& address, Clock::time_point now);
  void succeeded(const std::string& user, const std::string& address);

 private:
  struct Failures {
    int count = 0;
    Clock::time_point until{};
  };
  void count(LruMap<std::string, Failures>& map, const std::string& key, int free_failures, Clock::time_point now);

  std::mutex mutex_;
  LruMap<std::string, Failures> users_;
  LruMap<std::string, Failures> addresses_;
};

}  // namespace cinevault::api
