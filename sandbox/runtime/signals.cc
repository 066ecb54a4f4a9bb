// The program's view of signals, kept apart from the runtime's own.
//
// The runtime owns SIGSYS (every dispatch arrives by it) and, when it
// rewrites syscall sites, SIGTRAP (a thread that meets a site in the middle
// of being rewritten stops on an int3). Both must stay deliverable and
// handled by the runtime at all times: the kernel kills a thread that
// blocks or ignores a signal it forces. So the program's own dispositions
// for them, and its wish to block them, are recorded here and shown back to
// it, while the kernel keeps the runtime's. Every syscall that installs a
// signal mask is edited so the mask never holds an owned signal.
//
// Everything in this file is async-signal-safe: it runs in the runtime's
// signal handlers and on the fast path's full dispatch.
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>

#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"

extern "C" void sandbox_sigsys_handler(int, siginfo_t*, void*);
extern "C" void sandbox_sigtrap_handler(int, siginfo_t*, void*);

namespace sandbox {
namespace {

constexpr uint64_t Bit(int signo) { return 1ULL << (signo - 1); }

constexpr uint64_t kUnblockableBits = Bit(SIGKILL) | Bit(SIGSTOP);

// The signals the runtime owns right now; SIGTRAP joins when rewriting.
uint64_t g_owned_bits = Bit(SIGSYS);

// The dispositions the program set for the owned signals, by signal number.
// Process-wide, as dispositions are; the kernel never sees them.
kernel::KernelSigaction g_program_actions[65] = {};

// For each signal, which owned signals the program put in its handler mask,
// so that reading the action back shows what was set.
std::atomic<uint64_t> g_sa_mask_owned[65] = {};

bool IsOwned(int signo) {
  return signo >= 1 && signo <= 64 && (g_owned_bits & Bit(signo));
}

uint64_t* FrameMask(ucontext_t* frame) {
  return reinterpret_cast<uint64_t*>(&frame->uc_sigmask);
}

// How many program signal handlers have returned, in any thread.
std::atomic<uint64_t> g_handler_returns{0};

// Copies a kernel sigset from the program, or returns false on a bad
// pointer (the kernel would answer EFAULT).
bool CopyMaskFromProgram(long address, uint64_t* mask) {
  return CopyFromProgram(mask, address, sizeof(*mask));
}

long InstallHandler(int signo, void (*handler)(int, siginfo_t*, void*)) {
  kernel::KernelSigaction action = {};
  // The kernel's field holds either handler shape; cast through an integer.
  action.handler =
      reinterpret_cast<void (*)(int)>(reinterpret_cast<uintptr_t>(handler));
  // SA_NODEFER keeps the signal unblocked inside the handler, so a program
  // handler that runs on top of it can make syscalls of its own.
  action.flags = SA_SIGINFO | SA_NODEFER | SA_RESTART | kernel::kSaRestorer;
  action.restorer = sandbox_sigsys_restorer;
  action.mask = 0;
  long result = raw::Syscall(SYS_rt_sigaction, signo, raw::Arg(&action), 0,
                             kernel::kKernelSigsetSize);
  if (result < 0) return result;
  uint64_t unblock = Bit(signo);
  return raw::SigProcMask(SIG_UNBLOCK, &unblock, nullptr);
}

// Where the signal mask that the program will run with lives: in the
// signal frame when the call came by SIGSYS (returning from the handler
// installs it), or in the kernel when it came by the fast path.
class MaskView {
 public:
  explicit MaskView(ucontext_t* frame) : frame_(frame) {
    if (frame_ != nullptr) {
      mask_ = *FrameMask(frame_);
    } else {
      raw::SigProcMask(SIG_BLOCK, nullptr, &mask_);
    }
  }
  uint64_t get() const { return mask_; }
  long Set(uint64_t mask) {
    mask_ = mask;
    if (frame_ != nullptr) {
      *FrameMask(frame_) = mask;
      return 0;
    }
    return raw::SigProcMask(SIG_SETMASK, &mask, nullptr);
  }

 private:
  ucontext_t* frame_;
  uint64_t mask_ = 0;
};

// Sends again the owned signals that waited while the program blocked
// them, now that it takes them.
void ResendPending(ThreadRecord* record) {
  uint64_t due = record->program_pending_owned & ~record->program_blocked_owned;
  if (due == 0) return;
  record->program_pending_owned &= ~due;
  for (int signo = 1; signo <= 64; ++signo) {
    if (due & Bit(signo)) raw::Tgkill(raw::GetPid(), raw::GetTid(), signo);
  }
}

}  // namespace

long InstallRuntimeSignalHandlers(bool own_sigtrap) {
  if (own_sigtrap) g_owned_bits |= Bit(SIGTRAP);
  for (int signo = 1; signo <= 64; ++signo) {
    if (IsOwned(signo) && g_program_actions[signo].handler == nullptr) {
      g_program_actions[signo] = {SIG_DFL, 0, nullptr, 0};
    }
  }
  long result = InstallHandler(SIGSYS, sandbox_sigsys_handler);
  if (result < 0 || !own_sigtrap) return result;
  return InstallHandler(SIGTRAP, sandbox_sigtrap_handler);
}

uint64_t OwnedSignalBits() { return g_owned_bits; }

uint64_t IgnoredOwnedSignals() {
  uint64_t ignored = 0;
  for (int signo = 1; signo <= 64; ++signo) {
    if (IsOwned(signo) && g_program_actions[signo].handler == SIG_IGN) {
      ignored |= Bit(signo);
    }
  }
  return ignored;
}

void AdoptInheritedSignalState(uint64_t ignored, uint64_t blocked) {
  for (int signo = 1; signo <= 64; ++signo) {
    if (IsOwned(signo) && (ignored & Bit(signo))) {
      g_program_actions[signo] = {SIG_IGN, 0, nullptr, 0};
    }
  }
  CurrentThreadRecord()->program_blocked_owned = blocked & g_owned_bits;
}

long HandleRtSigpending(const SyscallContext& call) {
  if (call.args[1] != static_cast<long>(kernel::kKernelSigsetSize)) {
    return RunSyscall(call);
  }
  uint64_t pending = 0;
  long result = raw::Syscall(SYS_rt_sigpending, raw::Arg(&pending),
                             kernel::kKernelSigsetSize);
  if (result < 0) return result;
  // Owned signals the program blocked wait in the runtime, not the kernel.
  pending |= CurrentThreadRecord()->program_pending_owned;
  if (!CopyToProgram(call.args[0], &pending, sizeof(pending))) return -EFAULT;
  return 0;
}

long HandleRtSigaction(const SyscallContext& call) {
  int signo = static_cast<int>(call.args[0]);
  long new_address = call.args[1];
  long old_address = call.args[2];
  if (call.args[3] != static_cast<long>(kernel::kKernelSigsetSize)) {
    return -EINVAL;
  }
  // Program memory is read and written so that a bad pointer gives EFAULT,
  // as the kernel would, rather than a fault in the handler.
  kernel::KernelSigaction requested;
  if (new_address != 0 &&
      !CopyFromProgram(&requested, new_address, sizeof(requested))) {
    return -EFAULT;
  }

  if (IsOwned(signo)) {
    kernel::KernelSigaction previous = g_program_actions[signo];
    if (old_address != 0 &&
        !CopyToProgram(old_address, &previous, sizeof(previous))) {
      return -EFAULT;
    }
    if (new_address != 0) g_program_actions[signo] = requested;
    return 0;
  }

  long result;
  bool valid = signo >= 1 && signo <= 64;
  uint64_t had_owned =
      valid ? g_sa_mask_owned[signo].load(std::memory_order_relaxed) : 0;
  if (new_address != 0) {
    kernel::KernelSigaction edited = requested;
    uint64_t wants_owned = edited.mask & g_owned_bits;
    edited.mask &= ~g_owned_bits;
    result = raw::Syscall(SYS_rt_sigaction, signo, raw::Arg(&edited),
                          call.args[2], call.args[3]);
    if (result == 0 && valid) g_sa_mask_owned[signo].store(wants_owned);
  } else {
    result = RunSyscall(call);
  }
  if (result == 0 && old_address != 0 && had_owned != 0) {
    // The kernel wrote the old action; add back what it was never told.
    kernel::KernelSigaction old;
    if (CopyFromProgram(&old, old_address, sizeof(old))) {
      old.mask |= had_owned;
      CopyToProgram(old_address, &old, sizeof(old));
    }
  }
  return result;
}

long HandleRtSigprocmask(const SyscallContext& call) {
  int how = static_cast<int>(call.args[0]);
  long set_address = call.args[1];
  long old_set = call.args[2];
  if (call.args[3] != static_cast<long>(kernel::kKernelSigsetSize)) {
    return -EINVAL;
  }

  ThreadRecord* record = CurrentThreadRecord();
  MaskView mask(call.frame);
  uint64_t current = mask.get() | record->program_blocked_owned;

  uint64_t requested = current;
  if (set_address != 0) {
    uint64_t set;
    if (!CopyMaskFromProgram(set_address, &set)) return -EFAULT;
    switch (how) {
      case SIG_BLOCK:
        requested = current | set;
        break;
      case SIG_UNBLOCK:
        requested = current & ~set;
        break;
      case SIG_SETMASK:
        requested = set;
        break;
      default:
        return -EINVAL;
    }
    requested &= ~kUnblockableBits;
  }
  if (old_set != 0 && !CopyToProgram(old_set, &current, sizeof(current))) {
    return -EFAULT;
  }

  if (set_address != 0) {
    record->program_blocked_owned = requested & g_owned_bits;
    long result = mask.Set(requested & ~g_owned_bits);
    if (result < 0) return result;
    ResendPending(record);
  }
  return 0;
}

long HandleRtSigreturn(const SyscallContext& call) {
  if (call.frame == nullptr) RawFatal("rt_sigreturn reached the fast path");
  g_handler_returns.fetch_add(1, std::memory_order_relaxed);
  // The program's restorer made rt_sigreturn outside the allowed range.
  // Resume our frame at a syscall instruction inside the range with the
  // program's stack pointer untouched: the kernel then reads the program's
  // own signal frame, exactly as it would have.
  greg_t* regs = call.frame->uc_mcontext.gregs;
  regs[REG_RIP] = reinterpret_cast<greg_t>(sandbox_gateway_syscall_insn);
  return SYS_rt_sigreturn;
}

uint64_t ProgramHandlerReturns() {
  return g_handler_returns.load(std::memory_order_relaxed);
}

void KeepMaskOfNestedHandler(ucontext_t* frame, uint64_t entry_mask) {
  // The mask the nested handler's return left, against the one the
  // SIGSYS handler began with (its own frame's, as SA_NODEFER and an
  // empty sa_mask leave it): the program's bits that changed are the
  // program's doing, and must outlive this handler's return.
  uint64_t now = 0;
  if (raw::SigProcMask(SIG_BLOCK, nullptr, &now) != 0) return;
  uint64_t changed = (now ^ entry_mask) & ~g_owned_bits;
  uint64_t* mask = FrameMask(frame);
  *mask = (*mask & ~changed) | (now & changed);
}

long HandleSigaltstack(const SyscallContext& call) {
  long result = RunSyscall(call);
  if (result == 0 && call.args[0] != 0 && call.frame != nullptr) {
    // Returning from the handler restores the alternate stack recorded in
    // the frame; record the new one there so the change survives.
    stack_t current;
    if (raw::Syscall(SYS_sigaltstack, 0, raw::Arg(&current)) == 0) {
      current.ss_flags &= ~SS_ONSTACK;
      call.frame->uc_stack = current;
    }
  }
  return result;
}

long HandleMaskedWait(const SyscallContext& call) {
  // Which argument holds the temporary mask, and whether it is wrapped in
  // pselect6's {mask pointer, size} pair.
  int mask_arg;
  bool wrapped = false;
  switch (call.nr) {
    case SYS_rt_sigsuspend:
      mask_arg = 0;
      break;
    case SYS_ppoll:
      mask_arg = 3;
      break;
    case SYS_pselect6:
      mask_arg = 5;
      wrapped = true;
      break;
    default:  // epoll_pwait, epoll_pwait2
      mask_arg = 4;
      break;
  }
  long mask_address = call.args[mask_arg];
  if (mask_address == 0) return RunSyscall(call);

  SyscallContext edited = call;
  uint64_t mask;
  long wrapper[2];
  if (wrapped) {
    if (!CopyFromProgram(wrapper, mask_address, sizeof(wrapper))) {
      return -EFAULT;
    }
    if (wrapper[0] == 0) return RunSyscall(call);
    if (!CopyMaskFromProgram(wrapper[0], &mask)) return -EFAULT;
    wrapper[0] = raw::Arg(&mask);
    edited.args[mask_arg] = raw::Arg(wrapper);
  } else {
    if (!CopyMaskFromProgram(mask_address, &mask)) return -EFAULT;
    edited.args[mask_arg] = raw::Arg(&mask);
  }
  mask &= ~g_owned_bits;
  return RunSyscall(edited);
}

void DeliverProgramSignal(int signo, siginfo_t* info, ucontext_t* frame) {
  ThreadRecord* record = CurrentThreadRecord();
  if (record->program_blocked_owned & Bit(signo)) {
    record->program_pending_owned |= Bit(signo);
    return;
  }
  kernel::KernelSigaction action = g_program_actions[signo];
  if (action.handler == SIG_IGN) return;
  if (action.handler == SIG_DFL) {
    // Both owned signals end the process by default. Hand the signal back
    // to the kernel with the default disposition so it does exactly that.
    kernel::KernelSigaction default_action = {SIG_DFL, 0, nullptr, 0};
    raw::Syscall(SYS_rt_sigaction, signo, raw::Arg(&default_action), 0,
                 kernel::kKernelSigsetSize);
    raw::Tgkill(raw::GetPid(), raw::GetTid(), signo);
    raw::ExitGroup(128 + signo);  // not reached
  }
  if (action.flags & SA_RESETHAND) {
    g_program_actions[signo] = {SIG_DFL, 0, nullptr, 0};
  }

  // Run the program's handler with the mask it asked for, as the kernel
  // would have set it; owned signals are blocked only in its view.
  uint64_t handler_mask = *FrameMask(frame) | (action.mask & ~g_owned_bits);
  raw::SigProcMask(SIG_SETMASK, &handler_mask, nullptr);
  uint64_t was_blocked = record->program_blocked_owned;
  record->program_blocked_owned |= action.mask & g_owned_bits;
  if (!(action.flags & SA_NODEFER)) record->program_blocked_owned |= Bit(signo);

  if (action.flags & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(
        reinterpret_cast<uintptr_t>(action.handler))(signo, info, frame);
  } else {
    action.handler(signo);
  }

  record->program_blocked_owned = was_blocked;
  // Returning from the runtime's handler restores the frame's mask.
}

}  // namespace sandbox
