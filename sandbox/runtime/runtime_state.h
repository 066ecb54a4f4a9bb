// The runtime's process-wide state, set up once by the library constructor
// and read-only afterwards except where a field says otherwise.
#ifndef SANDBOX_RUNTIME_RUNTIME_STATE_H_
#define SANDBOX_RUNTIME_RUNTIME_STATE_H_

#include <signal.h>
#include <ucontext.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sandbox/common/policy.h"
#include "sandbox/common/stats.h"

namespace sandbox {

inline constexpr size_t kEnvEntryMax = 4096;

struct RuntimeState {
  Policy policy;
  // Syscall sites are being rewritten into jumps to trampolines.
  bool rewriting = false;
  // This process's id, kept so that reading the program's memory makes no
  // getpid (which a seccomp filter of the program may trap). A vfork child
  // shares it with its parent, whose address space it also shares.
  int pid = 0;
  // Shared counters, or nullptr when --stats is off.
  StatsBlock* stats = nullptr;
  // "SANDBOX_POLICY=..." and "LD_PRELOAD=/path/libsandbox.so", put back
  // into the environment of every exec.
  char policy_env[kEnvEntryMax] = {};
  char preload_env[kEnvEntryMax] = {};
};

// The one instance.
extern RuntimeState g_runtime;

// One intercepted syscall: its number, its arguments, and the signal frame
// of the program at the syscall instruction (null on the fast path).
struct SyscallContext {
  long nr;
  long args[6];
  ucontext_t* frame;
};

// The kernel's own result for a syscall that the runtime runs as is.
long RunSyscall(const SyscallContext& call);

// Arms SUD on the calling thread with `selector`. Returns the prctl result.
long ArmSyscallUserDispatch(volatile char* selector);

// Installs the runtime's SIGSYS handler, and its SIGTRAP handler if
// `own_sigtrap`. Returns the first failing rt_sigaction result, or 0.
long InstallRuntimeSignalHandlers(bool own_sigtrap);

// The signals the runtime keeps for itself, as a kernel sigset.
uint64_t OwnedSignalBits();

// The owned signals the program has set to SIG_IGN, which an exec keeps.
uint64_t IgnoredOwnedSignals();

// At start-up after an exec: the owned signals the program had ignored and
// blocked before it, which the kernel keeps for any other signal.
void AdoptInheritedSignalState(uint64_t ignored, uint64_t blocked);

// True when syscall sites are being rewritten (modes auto and rewrite).
bool RewritingEnabled();

// Handles one intercepted syscall: applies the policy, runs or emulates the
// call, traces it, and returns the value the program sees in RAX. A call
// from the fast path has no signal frame (call.frame is null).
// Async-signal-safe; may not return (exit, a successful exec).
long DispatchSyscall(const SyscallContext& call, bool via_fast_path);

// Counts one more rewritten site in the statistics. Async-signal-safe.
void CountRewrittenSite();

// Copies exactly `len` bytes of the program's memory at `src` without
// risking a fault: process_vm_readv on the process itself fails with EFAULT
// where a load would crash. Returns true on success. Async-signal-safe.
bool CopyFromProgram(void* dst, uint64_t src, size_t len);

// Copies `len` bytes to the program's memory at `dst` without risking a
// fault (process_vm_writev). Returns true on success. Async-signal-safe.
bool CopyToProgram(uint64_t dst, const void* src, size_t len);

// Like CopyFromProgram, but copies what it can up to the first unreadable
// page: returns the bytes copied or -errno, as a MemoryReader.
// Async-signal-safe.
long ReadProgramMemory(void* dst, uint64_t src, size_t len);

// Completes a syscall once its result is known: writes its trace line if
// the policy traces it. Async-signal-safe.
void FinishSyscall(const SyscallContext& call, long result);

// Appends `line` to the trace output, if there is one. Async-signal-safe.
void WriteTraceText(std::string_view line);

// Writes one trace line for `call`. Async-signal-safe.
void TraceSyscall(const SyscallContext& call, bool has_result, long result);

// Syscalls with their own handling; each returns the program's RAX.
long HandleClone(const SyscallContext& call);
long HandleExec(const SyscallContext& call);
long HandleExit(const SyscallContext& call);
long HandleRtSigaction(const SyscallContext& call);
long HandleRtSigprocmask(const SyscallContext& call);
long HandleRtSigreturn(const SyscallContext& call);

// How many times a program's signal handler has returned (through
// rt_sigreturn), in any thread: a change across a dispatch means a handler
// ran and returned on top of it.
uint64_t ProgramHandlerReturns();
// Carries into the SIGSYS `frame` the changes to the signal mask that a
// program handler, nested in this dispatch, made by returning with an
// edited uc_sigmask; `entry_mask` is the frame's mask when the dispatch
// began. Without it the frame's return would undo them.
void KeepMaskOfNestedHandler(ucontext_t* frame, uint64_t entry_mask);
long HandleSigaltstack(const SyscallContext& call);
long HandleRtSigpending(const SyscallContext& call);
long HandleMaskedWait(const SyscallContext& call);

// Delivers an owned signal that is the program's own (not the runtime's
// doing) to the handler the program installed, or applies its disposition.
void DeliverProgramSignal(int signo, siginfo_t* info, ucontext_t* frame);

}  // namespace sandbox

#endif  // SANDBOX_RUNTIME_RUNTIME_STATE_H_
