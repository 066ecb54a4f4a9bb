// ptrace calls shared by the dump and the restore.
#ifndef SANDBOX_CKPT_PTRACE_UTIL_H_
#define SANDBOX_CKPT_PTRACE_UTIL_H_

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace sandbox::ckpt {

// ptrace(2) that returns the result or -errno.
long Ptrace(long request, pid_t tid, uint64_t addr, void* data);

// Makes syscall `nr` with `args` in the ptrace-stopped thread `tid`: sets
// its registers to `base` with the call's, at the syscall instruction
// `instruction`, and runs it from its entry stop to its exit stop. Returns
// the call's result (a negative errno from the call is a result); the
// thread stays in the exit stop with the registers the call left. If a
// signal stops the thread first, fails and sets *signal_stop (when given)
// to that signal, which the thread holds until it is resumed with it.
// The thread must be traced with PTRACE_O_TRACESYSGOOD.
absl::StatusOr<long> StepSyscall(pid_t tid, const user_regs_struct& base,
                                 uint64_t instruction, long nr,
                                 std::vector<uint64_t> args,
                                 int* signal_stop = nullptr);

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_PTRACE_UTIL_H_
