// Creating threads and processes so that every new task is intercepted
// before it runs a single instruction of the program.
//
// A new task starts with SUD off. The runtime therefore makes every clone
// itself, from the gateway, and has the child arm SUD before it resumes the
// program. Three shapes need three paths:
//   - a child on a new stack (threads, posix_spawn, clone3) starts in
//     sandbox_child_start on that stack, arms itself, and resumes the
//     program from a copy of the parent's signal frame with RAX = 0;
//   - a child sharing the parent's stack and memory (vfork) returns through
//     the handler while the parent sleeps; the parent then restores its
//     frame from an off-stack copy, since the child overwrote the stack;
//   - a child with a copy of memory and stack (fork) returns through the
//     handler like the parent.
// All signals are blocked from just before the clone until the child's (and
// the parent's) rt_sigreturn installs the program's mask again, so no
// program handler runs in a child that is not armed yet.
//
// Everything in this file is async-signal-safe, and sandbox_child_start runs
// with no usable thread pointer.
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <cstddef>
#include <cstring>

#include "patches/site_patcher.h"
#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"

static_assert(offsetof(SandboxVforkResume, frame_addr) == 0);
static_assert(offsetof(SandboxVforkResume, frame_len) == 8);
static_assert(offsetof(SandboxVforkResume, copy_addr) == 16);
static_assert(offsetof(SandboxVforkResume, sigreturn_sp) == 24);
static_assert(offsetof(SandboxVforkResume, result_slot) == 32);

namespace sandbox {
namespace {

// The extent of the signal frame the kernel built for this SIGSYS: from the
// return address below the ucontext to the end of the extended state above
// it.
struct FrameExtent {
  char* low;
  size_t length;
};

bool MeasureFrame(ucontext_t* frame, FrameExtent* extent) {
  char* low = reinterpret_cast<char*>(frame) - sizeof(void*);
  char* fpstate = reinterpret_cast<char*>(frame->uc_mcontext.fpregs);
  if (fpstate == nullptr || fpstate < low) return false;
  // The software-reserved bytes of the legacy area say how large the
  // extended state is (struct _fpx_sw_bytes at offset 464).
  uint32_t magic, extended_size;
  memcpy(&magic, fpstate + 464, sizeof(magic));
  memcpy(&extended_size, fpstate + 468, sizeof(extended_size));
  size_t fp_size = magic == kernel::kFpXstateMagic1 ? extended_size : 512;
  size_t length = static_cast<size_t>(fpstate - low) + fp_size;
  char* siginfo_end = reinterpret_cast<char*>(frame + 1) + sizeof(siginfo_t);
  if (low + length < siginfo_end) length = siginfo_end - low;
  if (length + 64 > kFrameCapacity) return false;
  extent->low = low;
  extent->length = length;
  return true;
}

// Copies the frame into `storage` at the same offset modulo 64, which keeps
// the extended state 64-byte aligned as XRSTOR requires, and points the
// copy's fpregs at the copy's own state. Returns the copy's ucontext.
ucontext_t* CopyFrame(ucontext_t* frame, const FrameExtent& extent,
                      char* storage) {
  uintptr_t base = (reinterpret_cast<uintptr_t>(storage) + 63) & ~63UL;
  char* copy = reinterpret_cast<char*>(base) +
               (reinterpret_cast<uintptr_t>(extent.low) & 63);
  memcpy(copy, extent.low, extent.length);
  auto* copied = reinterpret_cast<ucontext_t*>(copy + sizeof(void*));
  char* fpstate = reinterpret_cast<char*>(frame->uc_mcontext.fpregs);
  copied->uc_mcontext.fpregs =
      reinterpret_cast<fpregset_t>(copy + (fpstate - extent.low));
  return copied;
}

// What a clone-family call asks for, read from its arguments.
struct CloneRequest {
  uint64_t flags;
  uint64_t stack_top;  // 0: the child shares the caller's stack pointer
};

long ReadCloneRequest(const SyscallContext& call, CloneRequest* request) {
  switch (call.nr) {
    case SYS_fork:
      *request = {SIGCHLD, 0};
      return 0;
    case SYS_vfork:
      *request = {CLONE_VM | CLONE_VFORK | SIGCHLD, 0};
      return 0;
    case SYS_clone:
      *request = {static_cast<uint64_t>(call.args[0]),
                  static_cast<uint64_t>(call.args[1])};
      return 0;
    default: {  // clone3
      kernel::CloneArgs args = {};
      size_t size = static_cast<size_t>(call.args[1]);
      if (size < 64) return -EINVAL;  // the kernel's smallest version
      size_t known = size < sizeof(args) ? size : sizeof(args);
      if (!CopyFromProgram(&args, call.args[0], known)) {
        return -EFAULT;
      }
      // clone3 describes the stack by base and size; the child's stack
      // pointer starts at the top.
      uint64_t top = args.stack != 0 ? args.stack + args.stack_size : 0;
      *request = {args.flags, top};
      return 0;
    }
  }
}

// Arms the calling new task and makes `record` its own. Runs in the child
// before any program code, on whatever stack the child has.
void SetUpChild(ThreadRecord* record, uint64_t flags) {
  int tid = raw::GetTid();
  ClaimThreadRecord(record, tid);
  if (!(flags & CLONE_VM)) {
    // A process of its own, whose first thread's id is its process id.
    g_runtime.pid = tid;
    ReleaseAllThreadRecordsBut(record);
    if (g_runtime.rewriting) ResetSitePatcherAfterFork();
  }
  if (flags & kernel::kCloneClearSighand) {
    long result = InstallRuntimeSignalHandlers(RewritingEnabled());
    if (result < 0) RawFatal("cannot install the SIGSYS handler", result);
  }
  long armed = ArmSyscallUserDispatch(&record->selector);
  if (armed < 0) {
    RawFatal("cannot arm Syscall User Dispatch in a new task", armed);
  }
}

// Makes the clone for a child that starts on its own stack.
long CloneOnNewStack(const SyscallContext& call, const CloneRequest& request,
                     const FrameExtent& extent, ThreadRecord* child) {
  ucontext_t* start = CopyFrame(call.frame, extent, child->frame);
  greg_t* regs = start->uc_mcontext.gregs;
  regs[REG_RAX] = 0;
  regs[REG_RSP] = static_cast<greg_t>(request.stack_top);
  if ((request.flags & CLONE_VM) && !(request.flags & CLONE_VFORK)) {
    // The kernel gives a new thread no alternate signal stack.
    start->uc_stack = {nullptr, SS_DISABLE, 0};
  }
  child->clone_flags = request.flags;
  child->start_frame = start;
  return sandbox_clone_gateway(call.nr, call.args[0], call.args[1],
                               call.args[2], call.args[3], call.args[4], child);
}

}  // namespace

long HandleClone(const SyscallContext& call) {
  if (call.frame == nullptr) RawFatal("clone reached the fast path");
  CloneRequest request;
  long status = ReadCloneRequest(call, &request);
  if (status < 0) return status;

  FrameExtent extent;
  if (!MeasureFrame(call.frame, &extent)) {
    RawFatal("signal frame too large to copy for a clone");
  }
  ThreadRecord* parent = CurrentThreadRecord();
  ThreadRecord* child = ReserveThreadRecord();
  if (child == nullptr) return -EAGAIN;
  child->program_blocked_owned = parent->program_blocked_owned;

  uint64_t all = ~0ULL;
  raw::SigProcMask(SIG_SETMASK, &all, nullptr);
  // A child with a copy of the address space must not get a site that
  // another thread is rewriting right now: its int3 would stay for good.
  const bool holds_rewrites =
      g_runtime.rewriting && !(request.flags & CLONE_VM);
  if (holds_rewrites) HoldRewritesForFork();

  if (request.stack_top != 0) {
    long result = CloneOnNewStack(call, request, extent, child);
    if (holds_rewrites) ResumeRewritesAfterFork();
    // A thread keeps its record until it exits; a process has its own copy
    // of the table, and a vfork child is done with its record by now.
    bool child_keeps_record = result > 0 && (request.flags & CLONE_VM) &&
                              !(request.flags & CLONE_VFORK);
    if (!child_keeps_record) ReleaseThreadRecord(child);
    return result;
  }

  if (request.flags & CLONE_VM) {
    // The child will run on this very stack. Keep a copy of the frame in
    // the parent's record; the gateway puts it back for the parent.
    ucontext_t* copy = CopyFrame(call.frame, extent, parent->frame);
    SandboxVforkResume& resume = parent->vfork_resume;
    resume.frame_addr = reinterpret_cast<uint64_t>(extent.low);
    resume.frame_len = extent.length;
    resume.copy_addr = reinterpret_cast<uint64_t>(copy) - sizeof(void*);
    resume.sigreturn_sp = reinterpret_cast<uint64_t>(call.frame);
    resume.result_slot =
        reinterpret_cast<uint64_t>(&copy->uc_mcontext.gregs[REG_RAX]);
    resume.child_record = child;
    resume.syscall_nr = static_cast<uint64_t>(call.nr);
    // The copy must carry the frame's own fpregs address, since it goes
    // back to the same place.
    copy->uc_mcontext.fpregs = call.frame->uc_mcontext.fpregs;
    sandbox_vfork_gateway(call.nr, call.args[0], call.args[1], call.args[2],
                          call.args[3], call.args[4], &resume);
    // Only the child comes back here.
    SetUpChild(child, request.flags);
    return 0;
  }

  long result = RunSyscall(call);
  if (result == 0) {
    SetUpChild(child, request.flags);
    return 0;
  }
  if (holds_rewrites) ResumeRewritesAfterFork();
  ReleaseThreadRecord(child);
  return result;
}

long HandleExit(const SyscallContext& call) {
  if (call.nr == SYS_exit) {
    // The thread is gone after this call: give its record back first, with
    // every signal blocked so that no handler runs without one.
    uint64_t all = ~0ULL;
    raw::SigProcMask(SIG_SETMASK, &all, nullptr);
    ThreadRecord* record = FindThreadRecord(raw::GetTid());
    if (record != nullptr) ReleaseThreadRecord(record);
  }
  return RunSyscall(call);
}

}  // namespace sandbox

// The vfork parent's last step, on the stack below its restored frame.
// Async-signal-safe.
extern "C" void sandbox_vfork_parent_resumed(const SandboxVforkResume* resume) {
  using namespace sandbox;
  ReleaseThreadRecord(static_cast<ThreadRecord*>(resume->child_record));
  auto* frame = reinterpret_cast<ucontext_t*>(resume->sigreturn_sp);
  greg_t* regs = frame->uc_mcontext.gregs;
  // The frame's RAX holds the result; the number and arguments are those
  // the program passed, still in their registers.
  long nr = static_cast<long>(resume->syscall_nr);
  SyscallContext call = {nr,
                         {regs[REG_RDI], regs[REG_RSI], regs[REG_RDX],
                          regs[REG_R10], regs[REG_R8], regs[REG_R9]},
                         frame};
  FinishSyscall(call, regs[REG_RAX]);
}

// The first code a new-stack child runs, on the program's new stack with no
// usable thread pointer. Async-signal-safe; never returns.
extern "C" void sandbox_child_start(void* child_context) {
  using namespace sandbox;
  auto* record = static_cast<ThreadRecord*>(child_context);
  SetUpChild(record, record->clone_flags);
  sandbox_resume_frame(record->start_frame);
}
