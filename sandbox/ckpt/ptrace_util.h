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
// `instruction`, and single-steps it. Returns the call's result (a
// negative errno from the call is a result); the thread's registers are
// left as the call left them.
absl::StatusOr<long> StepSyscall(pid_t tid, const user_regs_struct& base,
                                 uint64_t instruction, long nr,
                                 std::vector<uint64_t> args);

}  // namespace sandbox::ckpt

#endif  // SANDBOX_CKPT_PTRACE_UTIL_H_
