// The program's view of signals, kept apart from the runtime's SIGSYS.
//
// SIGSYS must stay deliverable and handled by the runtime at all times: a
// dispatch with SIGSYS blocked or ignored kills the thread. So the program's
// own SIGSYS disposition and its wish to block SIGSYS are recorded here and
// shown back to it, while the kernel keeps the runtime's. Every syscall that
// installs a signal mask is edited so the mask never holds SIGSYS.
//
// Everything in this file is async-signal-safe: it runs in the SIGSYS
// handler.
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>

#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"

extern "C" void sandbox_sigsys_handler(int, siginfo_t*, void*);

namespace sandbox {
namespace {

constexpr uint64_t kSigsysBit = 1ULL << (SIGSYS - 1);
constexpr uint64_t kUnblockableBits =
    (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

// The disposition the program set for SIGSYS. Process-wide, as dispositions
// are; the runtime never hands it to the kernel.
kernel::KernelSigaction g_program_sigsys_action = {SIG_DFL, 0, nullptr, 0};

// Signals whose handler mask the program asked to include SIGSYS, one bit
// per signal, so that reading the action back shows what was set.
std::atomic<uint64_t> g_sa_mask_had_sigsys{0};

uint64_t* FrameMask(ucontext_t* frame) {
  return reinterpret_cast<uint64_t*>(&frame->uc_sigmask);
}

// Copies a kernel sigset from the program, or returns false on a bad
// pointer (the kernel would answer EFAULT).
bool CopyMaskFromProgram(long address, uint64_t* mask) {
  return CopyFromProgram(mask, address, sizeof(*mask));
}

}  // namespace

long InstallSigsysHandler() {
  kernel::KernelSigaction action = {};
  // The kernel's field holds either handler shape; cast through an integer.
  action.handler = reinterpret_cast<void (*)(int)>(
      reinterpret_cast<uintptr_t>(sandbox_sigsys_handler));
  // SA_NODEFER keeps SIGSYS unblocked inside the handler, so a program
  // handler that runs on top of it can make syscalls of its own.
  action.flags = SA_SIGINFO | SA_NODEFER | SA_RESTART | kernel::kSaRestorer;
  action.restorer = sandbox_sigsys_restorer;
  action.mask = 0;
  long result = raw::Syscall(SYS_rt_sigaction, SIGSYS, raw::Arg(&action), 0,
                             kernel::kKernelSigsetSize);
  if (result < 0) return result;
  uint64_t unblock = kSigsysBit;
  return raw::SigProcMask(SIG_UNBLOCK, &unblock, nullptr);
}

long HandleRtSigaction(const SyscallContext& call) {
  int signo = static_cast<int>(call.args[0]);
  auto* new_action = reinterpret_cast<kernel::KernelSigaction*>(call.args[1]);
  auto* old_action = reinterpret_cast<kernel::KernelSigaction*>(call.args[2]);
  if (call.args[3] != static_cast<long>(kernel::kKernelSigsetSize)) {
    return -EINVAL;
  }

  if (signo == SIGSYS) {
    kernel::KernelSigaction previous = g_program_sigsys_action;
    if (new_action != nullptr) g_program_sigsys_action = *new_action;
    if (old_action != nullptr) *old_action = previous;
    return 0;
  }

  long result;
  uint64_t signal_bit = signo >= 1 && signo <= 64 ? 1ULL << (signo - 1) : 0;
  uint64_t had_sigsys =
      g_sa_mask_had_sigsys.load(std::memory_order_relaxed) & signal_bit;
  if (new_action != nullptr) {
    kernel::KernelSigaction edited = *new_action;
    bool wants_sigsys = (edited.mask & kSigsysBit) != 0;
    edited.mask &= ~kSigsysBit;
    result = raw::Syscall(SYS_rt_sigaction, signo, raw::Arg(&edited),
                          call.args[2], call.args[3]);
    if (result == 0 && signal_bit != 0) {
      if (wants_sigsys) {
        g_sa_mask_had_sigsys.fetch_or(signal_bit);
      } else {
        g_sa_mask_had_sigsys.fetch_and(~signal_bit);
      }
    }
  } else {
    result = RunSyscall(call);
  }
  if (result == 0 && old_action != nullptr && had_sigsys != 0) {
    old_action->mask |= kSigsysBit;
  }
  return result;
}

long HandleRtSigprocmask(const SyscallContext& call) {
  int how = static_cast<int>(call.args[0]);
  long set_address = call.args[1];
  auto* old_set = reinterpret_cast<uint64_t*>(call.args[2]);
  if (call.args[3] != static_cast<long>(kernel::kKernelSigsetSize)) {
    return -EINVAL;
  }

  // The mask the frame holds is what the kernel restores when the handler
  // returns, so that is the mask to read and edit.
  ThreadRecord* record = CurrentThreadRecord();
  uint64_t* frame_mask = FrameMask(call.frame);
  uint64_t current =
      *frame_mask | (record->program_blocks_sigsys ? kSigsysBit : 0);

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
  if (old_set != nullptr) *old_set = current;

  if (set_address != 0) {
    bool was_blocked = record->program_blocks_sigsys;
    record->program_blocks_sigsys = (requested & kSigsysBit) != 0;
    *frame_mask = requested & ~kSigsysBit;
    if (was_blocked && !record->program_blocks_sigsys &&
        record->program_sigsys_pending) {
      // A SIGSYS of the program's waited while it was blocked: send it
      // again now that the program takes it.
      record->program_sigsys_pending = false;
      raw::Tgkill(raw::GetPid(), raw::GetTid(), SIGSYS);
    }
  }
  return 0;
}

long HandleRtSigreturn(const SyscallContext& call) {
  // The program's restorer made rt_sigreturn outside the allowed range.
  // Resume our frame at a syscall instruction inside the range with the
  // program's stack pointer untouched: the kernel then reads the program's
  // own signal frame, exactly as it would have.
  greg_t* regs = call.frame->uc_mcontext.gregs;
  regs[REG_RIP] = reinterpret_cast<greg_t>(sandbox_gateway_syscall_insn);
  return SYS_rt_sigreturn;
}

long HandleSigaltstack(const SyscallContext& call) {
  long result = RunSyscall(call);
  if (result == 0 && call.args[0] != 0) {
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
  mask &= ~kSigsysBit;
  return RunSyscall(edited);
}

void DeliverProgramSigsys(siginfo_t* info, ucontext_t* frame) {
  ThreadRecord* record = CurrentThreadRecord();
  if (record->program_blocks_sigsys) {
    record->program_sigsys_pending = true;
    return;
  }
  kernel::KernelSigaction action = g_program_sigsys_action;
  if (action.handler == SIG_IGN) return;
  if (action.handler == SIG_DFL) {
    // The default action ends the process with SIGSYS. Hand the signal back
    // to the kernel with the default disposition so it does exactly that.
    kernel::KernelSigaction default_action = {SIG_DFL, 0, nullptr, 0};
    raw::Syscall(SYS_rt_sigaction, SIGSYS, raw::Arg(&default_action), 0,
                 kernel::kKernelSigsetSize);
    raw::Tgkill(raw::GetPid(), raw::GetTid(), SIGSYS);
    raw::ExitGroup(128 + SIGSYS);  // not reached
  }
  if (action.flags & SA_RESETHAND) {
    g_program_sigsys_action = {SIG_DFL, 0, nullptr, 0};
  }

  // Run the program's handler with the mask it asked for, as the kernel
  // would have set it; SIGSYS itself is blocked only in the program's view.
  uint64_t handler_mask = *FrameMask(frame) | (action.mask & ~kSigsysBit);
  raw::SigProcMask(SIG_SETMASK, &handler_mask, nullptr);
  bool was_blocked = record->program_blocks_sigsys;
  if (!(action.flags & SA_NODEFER)) record->program_blocks_sigsys = true;
  if (action.mask & kSigsysBit) record->program_blocks_sigsys = true;

  if (action.flags & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(
        reinterpret_cast<uintptr_t>(action.handler))(SIGSYS, info, frame);
  } else {
    reinterpret_cast<void (*)(int)>(action.handler)(SIGSYS);
  }

  record->program_blocks_sigsys = was_blocked;
  // Returning from the runtime's handler restores the frame's mask.
}

}  // namespace sandbox
