#include "cinevault/worker/sandbox.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "../package/cmaf_test_support.hpp"
#include "cinevault/media/probe.hpp"
#include "cinevault/media/transcode.hpp"

namespace cinevault::worker {
namespace {

// Runs BODY in a child that first enters the sandbox; returns the child's wait status. The
// child leaves with _exit: no atexit handlers (LeakSanitizer's would need ptrace).
int in_sandbox(const std::function<int()>& body, const std::function<void(pid_t)>& meanwhile = {},
               const SandboxLimits& limits = {}) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!enter_sandbox(limits)) ::_exit(100);
    ::_exit(body());
  }
  if (meanwhile) meanwhile(pid);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

bool killed_by(int status, int signal) { return WIFSIGNALED(status) && WTERMSIG(status) == signal; }
bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

std::string status_line(pid_t pid, const std::string& name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(name + ":", 0) == 0) return line;
  return "";
}

// Runs a sandboxed child that waits on a pipe, calls LOOK with its pid once the kernel shows
// it filtered, then lets it exit; returns the child's wait status.
int observe_sandboxed(const std::function<void(pid_t)>& look, const SandboxLimits& limits = {}) {
  int go[2];
  EXPECT_EQ(::pipe(go), 0);
  int status = in_sandbox(
      [&] {
        char byte;
        return ::read(go[0], &byte, 1) == 1 ? 0 : 1;
      },
      [&](pid_t pid) {
        // The child is sandboxed once it blocks in read: poll until the kernel says so.
        for (int i = 0; i < 200 && status_line(pid, "Seccomp") != "Seccomp:\t2"; ++i) ::usleep(10000);
        look(pid);
        EXPECT_EQ(::write(go[1], "x", 1), 1);
      },
      limits);
  ::close(go[0]);
  ::close(go[1]);
  return status;
}

TEST(Sandbox, TheKernelShowsSeccompFilteringAndNoNewPrivileges) {
  std::string seccomp, no_new_privs;
  int status = observe_sandboxed([&](pid_t pid) {
    seccomp = status_line(pid, "Seccomp");
    no_new_privs = status_line(pid, "NoNewPrivs");
  });
  EXPECT_TRUE(exited_with(status, 0)) << status;
  EXPECT_EQ(seccomp, "Seccomp:\t2");  // mode 2: a filter
  EXPECT_EQ(no_new_privs, "NoNewPrivs:\t1");
}

TEST(Sandbox, CreatingASocketKillsTheProcess) {
  EXPECT_TRUE(killed_by(in_sandbox([] { return ::socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1; }), SIGSYS));
  EXPECT_TRUE(killed_by(in_sandbox([] { return ::socket(AF_UNIX, SOCK_DGRAM, 0) >= 0 ? 0 : 1; }), SIGSYS));
}

TEST(Sandbox, ConnectingASocketItHasKillsTheProcess) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(9);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int status = in_sandbox([&] { return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address); });
  ::close(fd);
  EXPECT_TRUE(killed_by(status, SIGSYS)) << status;
}

TEST(Sandbox, RunningAProgramOrANewProcessKills) {
  EXPECT_TRUE(killed_by(in_sandbox([] {
                          char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
                          ::execv("/bin/true", argv);
                          return 1;
                        }),
                        SIGSYS));
  EXPECT_TRUE(killed_by(in_sandbox([] { return ::fork() >= 0 ? 0 : 1; }), SIGSYS));
}

TEST(Sandbox, OpeningAPathIsRefused) {
  int status = in_sandbox([] {
    int fd = ::open("/etc/hostname", O_RDONLY);
    return fd < 0 && errno == EACCES ? 0 : 1;
  });
  EXPECT_TRUE(exited_with(status, 0)) << status;
}

// What the kernel says of a sandboxed child's CPU and I/O priority, asked from outside.
struct Priorities {
  int nice = 0;
  int ioprio = -1;
};

Priorities priorities_in_sandbox(const SandboxLimits& limits) {
  Priorities seen;
  int status = observe_sandboxed(
      [&](pid_t pid) {
        errno = 0;
        seen.nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(pid));
        seen.ioprio = static_cast<int>(::syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid));
      },
      limits);
  EXPECT_TRUE(exited_with(status, 0)) << status;
  return seen;
}

// A library import's worker: nicer, and in the idle I/O class, set before the filter.
TEST(Sandbox, ABackgroundWorkerRunsNicerInTheIdleIoClass) {
  const int own = ::getpriority(PRIO_PROCESS, 0);
  SandboxLimits background;
  background.nice = 7;
  background.idle_io = true;
  Priorities seen = priorities_in_sandbox(background);
  EXPECT_EQ(seen.nice, std::min(19, own + 7));
  EXPECT_EQ(seen.ioprio, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));

  SandboxLimits person;
  person.nice = 3;
  Priorities upload = priorities_in_sandbox(person);
  EXPECT_EQ(upload.nice, std::min(19, own + 3));
  EXPECT_GE(upload.ioprio, 0);
  EXPECT_NE(IOPRIO_PRIO_CLASS(upload.ioprio), IOPRIO_CLASS_IDLE);
}

// The filter does not let a worker change its I/O priority (back up, or at all).
TEST(Sandbox, ChangingTheIoPriorityInsideKills) {
  EXPECT_TRUE(killed_by(in_sandbox([] {
                          return ::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
                                           IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 0)) == 0 ? 0 : 1;
                        }),
                        SIGSYS));
}

// The whole media path runs inside: demux, decode, filter, scale, x264 with its threads,
// AAC, packaging and thumbnails, on a source opened before the sandbox.
TEST(Sandbox, ATranscodeRunsInside) {
  test::TempDir dir("sandbox");
  auto clip = dir.path() / "clip.mp4";
  ASSERT_TRUE(test::make_clip(clip,
                              "-f lavfi -i testsrc2=size=320x180:rate=25:duration=3 -f lavfi -i "
                              "sine=sample_rate=48000:duration=3 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
                              "-c:a aac"));
  auto info = media::probe_file(clip, MediaLimits{});
  ASSERT_TRUE(info) << info.error().message;
  media::LadderConfig ladder = media::default_ladder();
  auto plan = media::plan_ladder(*info, ladder);
  ASSERT_TRUE(plan);
  media::TranscodeRequest request;
  request.source_info = *info;
  request.plan = *plan;
  request.ladder = ladder;  // the production preset
  request.threads = 2;
  int source = ::open(clip.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(source, 0);
  request.source_fd = source;
  int status = in_sandbox([&] {
    test::RecordingListener listener;
    auto report = media::transcode(request, listener, [](const media::TranscodeProgress&) {}, {});
    if (!report) return 2;
    for (auto& [id, rendition] : listener.renditions)
      if (!rendition.finished || rendition.segments.empty()) return 3;
    return report->thumbnails && !report->thumbnails->posters.empty() ? 0 : 4;
  });
  ::close(source);
  EXPECT_TRUE(exited_with(status, 0)) << "wait status " << status;
}

}  // namespace
}  // namespace cinevault::worker
