// The fast path's first stop: answers a syscall from a rewritten site with
// the policy and the gateway alone.
//
// This file is built with -mgeneral-regs-only and calls nothing but the
// gateway and the general-registers-only patch table, so it provably leaves
// every vector, opmask and x87 register as the program had it; the entry
// code therefore saves only general registers around it. Anything it cannot
// answer goes to the full dispatch, around which the entry saves the whole
// extended state. Async-signal-safe: it runs on the program's stack, in any
// thread, possibly nested in a signal handler.
#include "sandbox/runtime/fast_path.h"

#include <sys/syscall.h>

#include "patches/patch_table.h"
#include "sandbox/runtime/runtime_state.h"
#include "trampolines/fast_frame.h"
#include "trampolines/gateway.h"

namespace sandbox {
namespace {

// Syscalls with handling of their own in the full dispatch.
bool HasOwnHandling(long nr) {
  switch (nr) {
    case SYS_rt_sigreturn:
    case SYS_rt_sigaction:
    case SYS_rt_sigprocmask:
    case SYS_sigaltstack:
    case SYS_rt_sigpending:
    case SYS_rt_sigsuspend:
    case SYS_ppoll:
    case SYS_pselect6:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
    case SYS_execve:
    case SYS_execveat:
    case SYS_exit:
    case SYS_exit_group:
    case SYS_prctl:
      return true;
    default:
      return false;
  }
}

void CountFastSyscall(long nr) {
  StatsBlock* stats = g_runtime.stats;
  if (stats == nullptr) return;
  stats->syscalls.fetch_add(1, std::memory_order_relaxed);
  stats->via_fast_path.fetch_add(1, std::memory_order_relaxed);
  stats->per_syscall[nr].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

bool PassesStraightThrough(long nr) {
  const SyscallRule* rule = g_runtime.policy.RuleFor(nr);
  return rule != nullptr && rule->action == RuleAction::kAllow &&
         !rule->trace && g_runtime.stats == nullptr && !HasOwnHandling(nr) &&
         !MayBeMappingChange(nr);
}

}  // namespace sandbox

extern "C" int sandbox_fast_dispatch(SandboxFastFrame* frame) {
  using namespace sandbox;
  long nr = static_cast<long>(frame->nr);
  const SyscallRule* rule = g_runtime.policy.RuleFor(nr);
  if (rule == nullptr || rule->trace) return 0;
  if (rule->action == RuleAction::kDeny) {
    CountFastSyscall(nr);
    frame->result = static_cast<uint64_t>(-rule->value);
    return 1;
  }
  const long* args = reinterpret_cast<const long*>(frame->args);
  if (HasOwnHandling(nr)) return 0;
  bool announced = BeginMappingChange(nr, args);
  if (announced && NeedsMappingBookkeeping(nr, args)) {
    EndMappingChange();
    return 0;
  }
  CountFastSyscall(nr);
  frame->result = static_cast<uint64_t>(sandbox_raw_syscall(
      nr, args[0], args[1], args[2], args[3], args[4], args[5]));
  if (announced) EndMappingChange();
  return 1;
}
