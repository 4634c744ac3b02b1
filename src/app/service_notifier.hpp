// Tells systemd how the daemon stands (a Type=notify service): READY=1 once it serves,
// STOPPING=1 when a shutdown begins, and WATCHDOG=1 while the HTTP server's event loops
// answer, so that a daemon whose loops hang is restarted even though its process lives on.
// Through libsystemd's sd_notify: every message is a no-op when systemd did not start the
// daemon (no NOTIFY_SOCKET), and the watchdog runs only when the unit sets WatchdogSec.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "cinevault/http/server.hpp"

namespace cinevault::app {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(http::Server& server);
  ~ServiceNotifier();  // stops the thread; says STOPPING=1 if it was not said yet

  // The daemon serves: READY=1 with a STATUS line.
  void ready(const std::string& status);

 private:
  void run(std::stop_token stop);
  void stopping();

  http::Server& server_;
  std::chrono::microseconds watchdog_interval_{0};  // 0: no watchdog
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool stopping_said_ = false;
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace cinevault::app
