#include "sandbox/ckpt/ptrace_util.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sandbox::ckpt {

long Ptrace(long request, pid_t tid, uint64_t addr, void* data) {
  long result = syscall(SYS_ptrace, request, tid, addr, data);
  return result < 0 ? -errno : result;
}

absl::StatusOr<long> StepSyscall(pid_t tid, const user_regs_struct& base,
                                 uint64_t instruction, long nr,
                                 std::vector<uint64_t> args, int* signal_stop) {
  if (signal_stop != nullptr) *signal_stop = 0;
  args.resize(6, 0);
  user_regs_struct regs = base;
  regs.rax = static_cast<uint64_t>(nr);
  regs.rdi = args[0];
  regs.rsi = args[1];
  regs.rdx = args[2];
  regs.r10 = args[3];
  regs.r8 = args[4];
  regs.r9 = args[5];
  regs.rip = instruction;
  // Not a syscall being restarted: the kernel must not rewind this.
  regs.orig_rax = static_cast<uint64_t>(-1);
  long result = Ptrace(PTRACE_SETREGS, tid, 0, &regs);
  if (result < 0) {
    return absl::InternalError(absl::StrCat("injecting a syscall into thread ",
                                            tid, ": ", strerror(-result)));
  }
  // To the call's entry, then to its exit: stops that ptrace makes without
  // a signal. A single step would end in a forced SIGTRAP, which resets
  // the program's SIGTRAP action when the thread blocks SIGTRAP and lets a
  // pending synchronous signal (a SUD dispatch) through a blocking mask.
  for (uint8_t expected : {static_cast<uint8_t>(PTRACE_SYSCALL_INFO_ENTRY),
                           static_cast<uint8_t>(PTRACE_SYSCALL_INFO_EXIT)}) {
    if ((result = Ptrace(PTRACE_SYSCALL, tid, 0, nullptr)) < 0) {
      return absl::InternalError(absl::StrCat(
          "injecting a syscall into thread ", tid, ": ", strerror(-result)));
    }
    int status = 0;
    for (int interrupts = 0;; ++interrupts) {
      pid_t got;
      while ((got = waitpid(tid, &status, __WALL)) < 0 && errno == EINTR) {
      }
      if (got != tid || !WIFSTOPPED(status)) {
        return absl::NotFoundError(
            absl::StrCat("thread ", tid, " ended during an injected syscall"));
      }
      // An interrupt asked for while the thread was already stopped may
      // still be due: it stops the thread once more, with no signal.
      if ((status >> 16) != PTRACE_EVENT_STOP || interrupts == 8) break;
      if ((result = Ptrace(PTRACE_SYSCALL, tid, 0, nullptr)) < 0) {
        return absl::InternalError(absl::StrCat(
            "injecting a syscall into thread ", tid, ": ", strerror(-result)));
      }
    }
    struct __ptrace_syscall_info info = {};
    if (Ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) <= 0 ||
        info.op != expected) {
      // A signal on its way to the thread: it stays in this stop with it,
      // for the caller to pass on when it lets the thread go.
      if (signal_stop != nullptr && (status >> 16) == 0) {
        *signal_stop = WSTOPSIG(status);
      }
      return absl::InternalError(
          absl::StrCat("thread ", tid, " stopped by signal ", WSTOPSIG(status),
                       " during an injected syscall"));
    }
  }
  if ((result = Ptrace(PTRACE_GETREGS, tid, 0, &regs)) < 0) {
    return absl::InternalError(absl::StrCat("PTRACE_GETREGS of thread ", tid,
                                            ": ", strerror(-result)));
  }
  return static_cast<long>(regs.rax);
}

}  // namespace sandbox::ckpt
