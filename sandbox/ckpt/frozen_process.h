// A process held still under ptrace for the length of a dump.
//
// Freezing seizes every thread (and threads created meanwhile) and puts
// each in a ptrace stop. From then until Thaw, the tool may read the
// threads' state and inject syscalls into them. Thawing puts back, on
// every thread, the registers and the exact Syscall User Dispatch
// configuration it had when frozen, and only then lets it run: this holds
// on every path out, error paths and destruction included, so a dump that
// fails never leaves a live process that has lost its interception.
#ifndef SANDBOX_CKPT_FROZEN_PROCESS_H_
#define SANDBOX_CKPT_FROZEN_PROCESS_H_

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandbox/common/kernel_abi.h"

namespace sandbox::ckpt {

// One thread as it was when frozen.
struct FrozenThread {
  pid_t tid = 0;
  user_regs_struct regs = {};        // as frozen; put back at thaw
  kernel::PtraceSudConfig sud = {};  // as frozen; put back at thaw
  uint64_t sigmask = 0;              // as frozen; put back at thaw
  bool sud_changed = false;          // SUD is off for an injection
  bool regs_changed = false;         // registers hold an injection
  bool sigmask_changed = false;      // all signals blocked to inject
  // A signal that reached the thread during an injection: it waits in
  // that signal's stop and gets it at thaw, with its own state back.
  int held_signal = 0;
};

class FrozenProcess {
 public:
  // Seizes and stops every thread of `pid`. Fails with NotFound if there is
  // no such process, PermissionDenied if it cannot be traced.
  static absl::StatusOr<std::unique_ptr<FrozenProcess>> Freeze(pid_t pid);

  // Thaws whatever is still frozen.
  ~FrozenProcess();
  FrozenProcess(const FrozenProcess&) = delete;
  FrozenProcess& operator=(const FrozenProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::vector<FrozenThread>& threads() { return threads_; }

  // Makes syscall `nr` with `args` in thread `index`, with its SUD turned
  // off for the call so that the call is not dispatched to the program's
  // own handler. Returns the syscall's result (a negative errno from the
  // syscall is a result, not an error).
  absl::StatusOr<long> Inject(size_t index, long nr,
                              std::vector<uint64_t> args);

  // Puts back every thread's registers, signal mask and SUD configuration
  // that injections changed, leaving the threads stopped. After it, the
  // process is exactly as it was frozen, so that should the tool die, the
  // kernel's detach lets it run on unharmed.
  absl::Status PutBack();

  // PutBack, then lets the process run on. Idempotent.
  absl::Status Thaw();

  // Ends the process (for a dump without --leave-running): it never runs
  // another instruction of its own.
  absl::Status Kill();

 private:
  explicit FrozenProcess(pid_t pid) : pid_(pid) {}
  absl::Status SeizeAll();
  absl::StatusOr<uint64_t> FindSyscallInstruction();

  pid_t pid_;
  std::vector<FrozenThread> threads_;
  uint64_t syscall_instruction_ = 0;
  bool thawed_ = false;
};

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_FROZEN_PROCESS_H_
