#include "service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

namespace cinevault::app {
namespace {

// How often the thread looks at the server for the start of a shutdown.
constexpr std::chrono::milliseconds kPoll{200};

}  // namespace

ServiceNotifier::ServiceNotifier(http::Server& server) : server_(server) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    // systemd's advice: ping at half the interval, so one late ping is not yet a restart.
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    spdlog::info("systemd watchdog: the event loops are checked every {} ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_interval_).count());
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

ServiceNotifier::~ServiceNotifier() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  stopping();
}

void ServiceNotifier::ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void ServiceNotifier::stopping() {
  std::lock_guard lock(mutex_);
  if (stopping_said_) return;
  stopping_said_ = true;
  sd_notify(0, "STOPPING=1\nSTATUS=finishing the requests in flight");
}

void ServiceNotifier::run(std::stop_token stop) {
  auto next_ping = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait_for(lock, stop, kPoll, [] { return false; });
    if (stop.stop_requested()) break;
    lock.unlock();
    if (server_.draining()) stopping();
    if (watchdog_interval_.count() > 0 && std::chrono::steady_clock::now() >= next_ping) {
      // A loop that cannot run a task in half the interval is stuck: no ping, and systemd
      // restarts the daemon when the whole interval has passed.
      auto within = std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_interval_ / 2);
      if (server_.loops_answer(within)) sd_notify(0, "WATCHDOG=1");
      else spdlog::warn("an HTTP event loop did not answer within {} ms: no watchdog ping", within.count());
      next_ping = std::chrono::steady_clock::now() + watchdog_interval_;
    }
    lock.lock();
  }
}

}  // namespace cinevault::app
