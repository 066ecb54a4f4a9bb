// The SIGSYS handler and the policy dispatch behind it.
//
// Everything in this file is async-signal-safe: it runs in the SIGSYS
// handler, possibly nested (the handler is installed with SA_NODEFER so that
// a program signal handler running on top of it can still make syscalls),
// on whatever stack the program was using. It allocates nothing, takes no
// lock, uses no stdio and never touches errno: all of its syscalls leave
// from the gateway and return -errno.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>

#include <cstring>

#include "patches/patch_table.h"
#include "patches/site_patcher.h"
#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/trace_format.h"
#include "trampolines/fast_frame.h"

namespace sandbox {

RuntimeState g_runtime;

namespace {

long CopyWithProcessVm(void* dst, uint64_t src, size_t len) {
  struct iovec local = {dst, len};
  struct iovec remote = {reinterpret_cast<void*>(src), len};
  return raw::ProcessVmReadv(g_runtime.pid, &local, 1, &remote, 1);
}

}  // namespace

bool CopyFromProgram(void* dst, uint64_t src, size_t len) {
  return CopyWithProcessVm(dst, src, len) == static_cast<long>(len);
}

bool CopyToProgram(uint64_t dst, const void* src, size_t len) {
  struct iovec local = {const_cast<void*>(src), len};
  struct iovec remote = {reinterpret_cast<void*>(dst), len};
  return raw::Syscall(SYS_process_vm_writev, g_runtime.pid, raw::Arg(&local), 1,
                      raw::Arg(&remote), 1, 0) == static_cast<long>(len);
}

long ReadProgramMemory(void* dst, uint64_t src, size_t len) {
  long copied = CopyWithProcessVm(dst, src, len);
  if (copied != -EFAULT || len <= 1) return copied;
  // The range may end in unmapped memory: retry up to the page boundary so
  // that a string near the end of a mapping is still read.
  uint64_t page_end = (src | 4095) + 1;
  if (page_end - src >= len) return copied;
  return CopyWithProcessVm(dst, src, page_end - src);
}

namespace {

void CountSyscall(long nr, bool via_fast_path) {
  StatsBlock* stats = g_runtime.stats;
  if (stats == nullptr) return;
  stats->syscalls.fetch_add(1, std::memory_order_relaxed);
  (via_fast_path ? stats->via_fast_path : stats->via_signal)
      .fetch_add(1, std::memory_order_relaxed);
  if (nr >= 0 && nr < kSyscallTableSize) {
    stats->per_syscall[nr].fetch_add(1, std::memory_order_relaxed);
  } else {
    stats->out_of_table.fetch_add(1, std::memory_order_relaxed);
  }
}

// Runs or emulates a syscall the policy allows.
long ExecuteAllowed(const SyscallContext& call) {
  if (g_runtime.rewriting && BeginMappingChange(call.nr, call.args)) {
    long result = NeedsMappingBookkeeping(call.nr, call.args)
                      ? RunMappingChange(call.nr, call.args)
                      : RunSyscall(call);
    EndMappingChange();
    return result;
  }
  switch (call.nr) {
    case SYS_rt_sigreturn:
      return HandleRtSigreturn(call);
    case SYS_rt_sigaction:
      return HandleRtSigaction(call);
    case SYS_rt_sigprocmask:
      return HandleRtSigprocmask(call);
    case SYS_sigaltstack:
      return HandleSigaltstack(call);
    case SYS_rt_sigpending:
      return HandleRtSigpending(call);
    case SYS_rt_sigsuspend:
    case SYS_ppoll:
    case SYS_pselect6:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      return HandleMaskedWait(call);
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
      return HandleClone(call);
    case SYS_execve:
    case SYS_execveat:
      return HandleExec(call);
    case SYS_exit:
    case SYS_exit_group:
      return HandleExit(call);
    case SYS_prctl:
      // A second user of SUD in the same thread would silently replace the
      // runtime's configuration; refuse it as the kernel refuses a busy
      // resource.
      if (call.args[0] == kernel::kPrSetSyscallUserDispatch) return -EBUSY;
      return RunSyscall(call);
    default:
      return RunSyscall(call);
  }
}

// Dispatches a syscall made through the i386 ABI (int $0x80). The runtime
// applies no policy by number to these, since the numbers differ; it runs
// them as is so that such programs behave natively.
void DispatchI386(ucontext_t* frame) {
  greg_t* regs = frame->uc_mcontext.gregs;
  regs[REG_RAX] = sandbox_raw_syscall_int80(
      static_cast<uint32_t>(regs[REG_RAX]), regs[REG_RBX] & 0xffffffff,
      regs[REG_RCX] & 0xffffffff, regs[REG_RDX] & 0xffffffff,
      regs[REG_RSI] & 0xffffffff, regs[REG_RDI] & 0xffffffff,
      regs[REG_RBP] & 0xffffffff);
}

}  // namespace

long RunSyscall(const SyscallContext& call) {
  return sandbox_raw_syscall(call.nr, call.args[0], call.args[1], call.args[2],
                             call.args[3], call.args[4], call.args[5]);
}

void WriteTraceText(std::string_view line) {
  if (g_runtime.policy.trace_path[0] == '\0') return;
  // Opened for each line: a descriptor kept open would sit in the
  // program's table, where the program could see, use or renumber it.
  // Non-blocking, so that a pipe whose reader is gone fails at once
  // (ENXIO) instead of holding the program up for good; the write itself
  // blocks again, so that a slow reader slows the program, not loses lines.
  long fd =
      raw::OpenAt(AT_FDCWD, g_runtime.policy.trace_path,
                  O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return;
  raw::Fcntl(static_cast<int>(fd), F_SETFL, O_APPEND);
  RawWriteAll(static_cast<int>(fd), line);
  raw::Close(static_cast<int>(fd));
}

void TraceSyscall(const SyscallContext& call, bool has_result, long result) {
  if (g_runtime.policy.trace_path[0] == '\0') return;
  TraceCall trace = {raw::GetTid(), call.nr, {}};
  for (int i = 0; i < 6; ++i) trace.args[i] = call.args[i];
  char line[1024];
  FixedWriter out(line, sizeof(line));
  FormatTraceLine(trace, has_result, result, ReadProgramMemory, &out);
  WriteTraceText(out.view());
}

namespace {

bool IsTraced(long nr) {
  const SyscallRule* rule = g_runtime.policy.RuleFor(nr);
  return rule != nullptr ? rule->trace : g_runtime.policy.trace_unknown;
}

bool IsCloneFamily(long nr) {
  return nr == SYS_clone || nr == SYS_clone3 || nr == SYS_fork ||
         nr == SYS_vfork;
}

}  // namespace

long DispatchSyscall(const SyscallContext& call, bool via_fast_path) {
  CountSyscall(call.nr, via_fast_path);
  const SyscallRule* rule = g_runtime.policy.RuleFor(call.nr);
  if (rule != nullptr && rule->action == RuleAction::kDeny) {
    FinishSyscall(call, -rule->value);
    return -rule->value;
  }
  if (IsTraced(call.nr)) {
    // These do not come back with a result of their own, so their line is
    // written first: exit and exit_group end the thread, and rt_sigreturn
    // resumes whatever the signal interrupted.
    if (call.nr == SYS_exit || call.nr == SYS_exit_group ||
        call.nr == SYS_rt_sigreturn) {
      TraceSyscall(call, false, 0);
    }
  }
  long result = ExecuteAllowed(call);
  FinishSyscall(call, result);
  return result;
}

void FinishSyscall(const SyscallContext& call, long result) {
  if (!IsTraced(call.nr)) return;
  if (call.nr == SYS_exit || call.nr == SYS_exit_group ||
      call.nr == SYS_rt_sigreturn) {
    return;
  }
  // As strace does, the parent reports a clone; the child's zero is not a
  // line of its own.
  if (IsCloneFamily(call.nr) && result == 0) return;
  TraceSyscall(call, true, result);
}

bool RewritingEnabled() { return g_runtime.rewriting; }

void CountRewrittenSite() {
  if (g_runtime.stats != nullptr) {
    g_runtime.stats->sites_rewritten.fetch_add(1, std::memory_order_relaxed);
  }
}

long ArmSyscallUserDispatch(volatile char* selector) {
  uintptr_t begin = reinterpret_cast<uintptr_t>(sandbox_gateway_begin);
  uintptr_t end = reinterpret_cast<uintptr_t>(sandbox_gateway_end);
  return raw::Prctl(kernel::kPrSetSyscallUserDispatch, kernel::kSudOn,
                    static_cast<long>(begin), static_cast<long>(end - begin),
                    reinterpret_cast<long>(selector));
}

}  // namespace sandbox

// The SIGSYS handler. Async-signal-safe; runs nested.
extern "C" void sandbox_sigsys_handler(int, siginfo_t* info, void* context) {
  using namespace sandbox;
  auto* frame = static_cast<ucontext_t*>(context);
  greg_t* regs = frame->uc_mcontext.gregs;

  // Only a dispatch raised by the kernel for this thread is the runtime's;
  // anything else (raise, kill, seccomp) belongs to the program.
  if (info->si_code != kernel::kSysUserDispatch ||
      reinterpret_cast<greg_t>(info->si_call_addr) != regs[REG_RIP]) {
    DeliverProgramSignal(SIGSYS, info, frame);
    return;
  }
  if (static_cast<uint32_t>(info->si_arch) != kernel::kAuditArchX86_64) {
    DispatchI386(frame);
    return;
  }

  SyscallContext call = {regs[REG_RAX],
                         {regs[REG_RDI], regs[REG_RSI], regs[REG_RDX],
                          regs[REG_R10], regs[REG_R8], regs[REG_R9]},
                         frame};
  if (g_runtime.rewriting) {
    MaybeRewriteSite(static_cast<uint64_t>(regs[REG_RIP]), call.nr);
  }
  uint64_t handler_returns = ProgramHandlerReturns();
  uint64_t entry_mask;
  memcpy(&entry_mask, &frame->uc_sigmask, sizeof(entry_mask));
  regs[REG_RAX] = DispatchSyscall(call, /*via_fast_path=*/false);
  if (call.nr != SYS_rt_sigreturn &&
      ProgramHandlerReturns() != handler_returns) {
    KeepMaskOfNestedHandler(frame, entry_mask);
  }
  // The kernel leaves RCX and R11 as the syscall instruction set them (the
  // return address and the flags); the frame already holds exactly that.
}

// The SIGTRAP handler, installed while sites are rewritten: an int3 that a
// rewrite left in a site's first byte is the runtime's; anything else is
// the program's. Async-signal-safe.
extern "C" void sandbox_sigtrap_handler(int, siginfo_t* info, void* context) {
  using namespace sandbox;
  auto* frame = static_cast<ucontext_t*>(context);
  if (info->si_code == SI_KERNEL && RecoverFromSiteTrap(frame)) return;
  DeliverProgramSignal(SIGTRAP, info, frame);
}

// The full dispatch for a rewritten site, entered with the program's
// extended state already saved. Async-signal-safe.
extern "C" void sandbox_fast_full_dispatch(SandboxFastFrame* fast) {
  using namespace sandbox;
  SyscallContext call = {static_cast<long>(fast->nr), {}, nullptr};
  for (int i = 0; i < 6; ++i) call.args[i] = static_cast<long>(fast->args[i]);
  fast->result =
      static_cast<uint64_t>(DispatchSyscall(call, /*via_fast_path=*/true));
}
