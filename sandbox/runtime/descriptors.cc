// Keeping the runtime's own descriptor (the trace output) out of the
// program's reach. The program does not know the descriptor exists, so it
// must behave as if it were not open: closing it fails with EBADF, ranges
// of closes skip it, and a dup onto its number moves it out of the way
// first.
//
// Everything in this file is async-signal-safe: it runs in the SIGSYS
// handler.
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include <atomic>

#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"

namespace sandbox {

long HandleDescriptorClose(const SyscallContext& call) {
  int ours = __atomic_load_n(&g_runtime.trace_fd, __ATOMIC_ACQUIRE);
  if (ours < 0) return RunSyscall(call);

  switch (call.nr) {
    case SYS_close:
      if (call.args[0] == ours) return -EBADF;
      return RunSyscall(call);

    case SYS_close_range: {
      unsigned long first = static_cast<unsigned int>(call.args[0]);
      unsigned long last = static_cast<unsigned int>(call.args[1]);
      unsigned long flags = static_cast<unsigned long>(call.args[2]);
      if (first > last || ours < static_cast<long>(first) ||
          ours > static_cast<long>(last)) {
        return RunSyscall(call);
      }
      long result = 0;
      if (static_cast<unsigned long>(ours) > first) {
        result = raw::Syscall(SYS_close_range, first, ours - 1, flags);
        if (result < 0) return result;
      }
      if (static_cast<unsigned long>(ours) < last) {
        result = raw::Syscall(SYS_close_range, ours + 1, last, flags);
      }
      return result;
    }

    default: {  // dup2, dup3
      if (call.args[0] == ours) return -EBADF;
      if (call.args[1] != ours) return RunSyscall(call);
      // Move the trace descriptor to a free number above this one, then
      // let the program have the number it asked for.
      long moved = raw::Fcntl(ours, F_DUPFD, ours + 1);
      if (moved < 0) return moved;
      __atomic_store_n(&g_runtime.trace_fd, static_cast<int>(moved),
                       __ATOMIC_RELEASE);
      return RunSyscall(call);
    }
  }
}

}  // namespace sandbox
