// The confinement of a media worker: entered once, after the worker has every descriptor it
// needs (the source, its socket to the daemon) and before it reads a byte of input.
//
// After enter_sandbox() the process cannot gain privileges (no_new_privs), cannot create a
// socket, connect, run a program or trace another process (any of these kills it: SIGSYS),
// and cannot open a path (open and openat fail with EACCES, so that a library probing an
// optional file carries on without it); it may read and write the descriptors it has, map
// memory, start threads and make memory files (memfd). Its address space and CPU time are
// capped by rlimits, and it runs at a lower priority in a process group of its own (a library
// import's transcode also in the idle I/O class).
#pragma once

#include <cstdint>

#include "cinevault/core/result.hpp"

namespace cinevault::worker {

struct SandboxLimits {
  std::uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0: no limit
  std::uint64_t cpu_seconds = 0;          // RLIMIT_CPU: SIGXCPU at this, SIGKILL 5 s later; 0: none
  int nice = 10;                          // added CPU niceness (0..19)
  bool idle_io = false;                   // the idle I/O scheduling class: its reads wait for everyone else's
  bool allow_device_control = false;      // ioctl, for a hardware encoder's device opened before
};

// Errors: internal (the kernel refused a step; the process must not go on to read input).
Result<void> enter_sandbox(const SandboxLimits& limits);

}  // namespace cinevault::worker
