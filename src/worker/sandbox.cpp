#include "cinevault/worker/sandbox.hpp"

#include <fcntl.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "cinevault/core/file.hpp"

// libseccomp's SCMP_A0..A5 macros are C compound literals that leave a field to its default:
// clang (the fuzzing build) warned twice at every rule.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wc99-extensions"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace cinevault::worker {
namespace {

// AddressSanitizer reserves terabytes of address space for its shadow memory: with an
// RLIMIT_AS every allocation fails. Test builds run workers without the memory cap.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

using FilterPtr = std::unique_ptr<std::remove_pointer_t<scmp_filter_ctx>, decltype(&seccomp_release)>;

// What demuxing, decoding, filtering, encoding and packaging do once their descriptors are
// open: memory, threads and their synchronisation, time, signals, and I/O on descriptors
// already held. Everything not listed (socket, connect, execve, ptrace, mount, bpf, …) kills.
constexpr int kAllowed[] = {
    // memory
    SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
    SCMP_SYS(memfd_create),
    // threads and their synchronisation
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(getppid), SCMP_SYS(exit),
    SCMP_SYS(exit_group), SCMP_SYS(set_tid_address),
    // time
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(restart_syscall),
    // signals (raise and abort signal the calling thread: tgkill is limited below)
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    // descriptors already open: the source, the daemon's socket, memory files
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
    SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup3), SCMP_SYS(fcntl),
    SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(poll), SCMP_SYS(ppoll),
    SCMP_SYS(shutdown), SCMP_SYS(pipe2),
    // small facts libraries ask for
    SCMP_SYS(getrandom), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(uname), SCMP_SYS(sysinfo), SCMP_SYS(getrusage),
    SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler),
};

Result<void> refused(const char* what, int error) {
  return fail(ErrorCode::internal, std::string("sandbox: ") + what + ": " + std::strerror(error < 0 ? -error : error));
}

Result<void> install_filter(bool allow_device_control) {
  FilterPtr filter(seccomp_init(SCMP_ACT_KILL_PROCESS), &seccomp_release);
  if (!filter) return fail(ErrorCode::internal, "sandbox: seccomp_init failed");
  scmp_filter_ctx ctx = filter.get();
  int rc = 0;
  auto add = [&](std::uint32_t action, int syscall, unsigned count = 0, scmp_arg_cmp a = {}, scmp_arg_cmp b = {}) {
    if (rc < 0) return;
    if (count == 0) rc = seccomp_rule_add(ctx, action, syscall, 0);
    else if (count == 1) rc = seccomp_rule_add(ctx, action, syscall, 1, a);
    else rc = seccomp_rule_add(ctx, action, syscall, 2, a, b);
  };
  for (int syscall : kAllowed) add(SCMP_ACT_ALLOW, syscall);
  // New threads only, never a new process: clone with CLONE_THREAD. clone3's flags are in
  // memory the filter cannot read, so it reports ENOSYS and glibc falls back to clone.
  add(SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  add(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3));
  // fstat of a descriptor (glibc's is newfstatat(fd, "", AT_EMPTY_PATH)); of a path, EACCES
  // like an open (the dynamic loader looking for a hardware driver's library goes on without it).
  add(SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
  add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(newfstatat), 1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
  add(SCMP_ACT_ALLOW, SCMP_SYS(statx), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
  add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(statx), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0));
  for (int syscall : {SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
                      SCMP_SYS(readlink), SCMP_SYS(readlinkat)})
    add(SCMP_ACT_ERRNO(EACCES), syscall);
  // Signals to this process's own threads only (raise, abort).
  add(SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(::getpid())));
  // Naming its own threads ("rung 720p"); no other prctl.
  add(SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
  add(SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
  // Paths cannot be opened: a library that probes an optional file goes on without it.
  add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat));
  add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open));
  // A terminal query (isatty on stderr) is answered "not a terminal". A hardware encoder
  // talks to the device it opened before the filter through ioctl: allowed for that job only.
  if (allow_device_control) add(SCMP_ACT_ALLOW, SCMP_SYS(ioctl));
  else add(SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl));
  if (rc < 0) return refused("seccomp_rule_add", rc);
  // no_new_privs is libseccomp's default (SCMP_FLTATR_CTL_NNP): set with the filter.
  if ((rc = seccomp_load(ctx)) < 0) return refused("seccomp_load", rc);
  return {};
}

}  // namespace

Result<void> enter_sandbox(const SandboxLimits& limits) {
  // Before the filter: what is decided once and would need a file later (the time zone).
  ::tzset();
  if (::setpgid(0, 0) != 0 && errno != EPERM) return refused("setpgid", errno);  // EPERM: a group leader already
  errno = 0;
  if (::nice(limits.nice) == -1 && errno != 0) return refused("nice", errno);
  // Before the filter, which does not allow ioprio_set: the worker cannot change it back.
  // The threads it starts later inherit it, as they inherit the niceness.
  if (limits.idle_io &&
      ::syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) != 0)
    return refused("ioprio_set", errno);
  if (limits.address_space_bytes > 0 && !kAddressSanitizer) {
    rlimit as{limits.address_space_bytes, limits.address_space_bytes};
    if (::setrlimit(RLIMIT_AS, &as) != 0) return refused("setrlimit(RLIMIT_AS)", errno);
  }
  if (limits.cpu_seconds > 0) {
    rlimit cpu{limits.cpu_seconds, limits.cpu_seconds + 5};
    if (::setrlimit(RLIMIT_CPU, &cpu) != 0) return refused("setrlimit(RLIMIT_CPU)", errno);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return refused("no_new_privs", errno);
  return install_filter(limits.allow_device_control);
}

}  // namespace cinevault::worker
