#include "cinevault/ingest/library_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "cinevault/core/file.hpp"
#include "cinevault/core/text.hpp"

namespace cinevault::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool hidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

bool same_directory(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return !b.empty() && fs::equivalent(a, b, ec);
}

std::string shown(const fs::path& path) { return to_utf8(path.string()); }

}  // namespace

void walk_library(const fs::path& root, const fs::path& skip, const std::function<bool(const fs::path&)>& visit) {
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    visit(root);
    return;
  }
  std::vector<fs::path> files;
  auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      if (hidden(path) || same_directory(path, skip)) it.disable_recursion_pending();
      continue;
    }
    if (!hidden(path) && it->is_regular_file(ec)) files.push_back(path);  // follows a link to a file
  }
  if (ec) spdlog::warn("library: walking {} stopped: {}", shown(root), ec.message());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files)
    if (!visit(file)) return;
}

LibraryWatcher::LibraryWatcher(WatchSettings settings, LibraryImporter& importer)
    : settings_(std::move(settings)), importer_(importer), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::jthread([this](std::stop_token stop) {
    try {
      run(stop);
    } catch (const std::exception& exception) {
      spdlog::error("library: the folder watcher stopped: {}", exception.what());
    }
  });
}

LibraryWatcher::~LibraryWatcher() {
  thread_.request_stop();
  std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void LibraryWatcher::run(std::stop_token stop) {
  File inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify.is_open()) spdlog::warn("library: cannot watch folders ({}); they are imported at start only",
                                       errno_message("inotify_init1", errno));
  std::unordered_map<int, fs::path> directories;  // watch descriptor → folder
  std::deque<fs::path> ready;                       // to import now, in order
  std::unordered_set<std::string> queued;           // what `ready` holds
  std::map<fs::path, Clock::time_point> settling;   // changed lately: imported once quiet
  const auto settle = std::chrono::seconds(settings_.settle_s);

  auto enqueue = [&](const fs::path& file) {
    if (queued.insert(file.string()).second) ready.push_back(file);
  };
  auto watch_tree = [&](const fs::path& folder) {
    if (!inotify.is_open()) return;
    constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ONLYDIR;
    std::error_code ec;
    std::vector<fs::path> folders{folder};
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
      if (hidden(it->path()) || same_directory(it->path(), settings_.data_dir)) {
        it.disable_recursion_pending();
        continue;
      }
      folders.push_back(it->path());
    }
    for (const fs::path& path : folders) {
      int wd = ::inotify_add_watch(inotify.fd(), path.c_str(), kMask);
      if (wd >= 0) directories[wd] = path;
      else spdlog::warn("library: cannot watch {}: {}", shown(path), errno_message("inotify_add_watch", errno));
    }
  };
  auto scan = [&](const fs::path& folder) {
    walk_library(folder, settings_.data_dir, [&](const fs::path& file) {
      enqueue(file);
      return true;
    });
  };
  auto root_of = [&](const fs::path& file) {
    for (const fs::path& folder : settings_.folders)
      if (file.lexically_relative(folder).native().rfind("..", 0) != 0) return folder;
    return fs::path();
  };

  // Watches first, then the walk: a file written in between is seen by one or the other.
  for (const fs::path& folder : settings_.folders) {
    watch_tree(folder);
    scan(folder);
  }
  spdlog::info("library: {} file(s) to look at in {} folder(s)", ready.size(), settings_.folders.size());

  alignas(inotify_event) char events[64 * 1024];
  while (!stop.stop_requested()) {
    // What the folders say happened.
    for (;;) {
      if (!inotify.is_open()) break;
      ssize_t got = ::read(inotify.fd(), events, sizeof events);
      if (got <= 0) break;
      for (char* at = events; at < events + got;) {
        auto* event = reinterpret_cast<inotify_event*>(at);
        at += sizeof(inotify_event) + event->len;
        if (event->mask & IN_Q_OVERFLOW) {
          spdlog::warn("library: too many changes at once; looking at every folder again");
          for (const fs::path& folder : settings_.folders) scan(folder);
          continue;
        }
        if (event->mask & IN_IGNORED) {
          directories.erase(event->wd);
          continue;
        }
        auto folder = directories.find(event->wd);
        if (folder == directories.end() || event->len == 0) continue;
        fs::path path = folder->second / event->name;
        if (hidden(path)) continue;
        if (event->mask & IN_ISDIR) {
          if (event->mask & (IN_CREATE | IN_MOVED_TO)) {
            watch_tree(path);
            scan(path);
          }
          continue;
        }
        settling[path] = Clock::now() + settle;
      }
    }
    // Files quiet for long enough join the queue.
    const auto now = Clock::now();
    auto next_due = now + std::chrono::minutes(10);
    for (auto it = settling.begin(); it != settling.end();) {
      if (it->second <= now) {
        enqueue(it->first);
        it = settling.erase(it);
      } else {
        next_due = std::min(next_due, it->second);
        ++it;
      }
    }
    if (!ready.empty()) {
      fs::path file = std::move(ready.front());
      ready.pop_front();
      queued.erase(file.string());
      ImportResult result = importer_.import_file(
          {file, root_of(file), settings_.owner_id, settings_.visibility, settings_.folder_tags});
      if (result.outcome == ImportOutcome::busy) settling[file] = Clock::now() + settle;
      else if (result.outcome == ImportOutcome::refused)
        spdlog::info("library: {} refused: {}", shown(file), result.reason);
      continue;
    }
    // Nothing to do until a change, a file's quiet time, or the end.
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify.fd(), POLLIN, 0}};
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - now).count();
    ::poll(fds, inotify.is_open() ? 2 : 1, static_cast<int>(std::clamp<std::int64_t>(wait_ms, 0, 600'000)) + 1);
  }
}

}  // namespace cinevault::ingest
