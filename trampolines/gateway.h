// The syscall gateway: every syscall the runtime makes leaves from code
// between sandbox_gateway_begin and sandbox_gateway_end, the address range
// that Syscall User Dispatch is told to let through. Everything declared
// here is async-signal-safe and touches no thread pointer.
#ifndef SANDBOX_TRAMPOLINES_GATEWAY_H_
#define SANDBOX_TRAMPOLINES_GATEWAY_H_

#include <cstddef>
#include <cstdint>

// Where the parent of a vfork-style clone puts its signal frame back before
// it returns to the program. The child shares the parent's stack and may
// overwrite the frame, so the parent keeps a copy off the stack and never
// reads the stack again after the syscall. Offsets are fixed for the
// assembly code (checked by static_assert in the runtime).
struct SandboxVforkResume {
  uint64_t frame_addr;    // where the frame lives on the stack
  uint64_t frame_len;     // its length in bytes
  uint64_t copy_addr;     // the saved copy
  uint64_t sigreturn_sp;  // stack pointer for rt_sigreturn (the ucontext)
  uint64_t result_slot;   // address in the copy that receives RAX
  void* child_record;     // the child's ThreadRecord, released afterwards
  uint64_t syscall_nr;    // the clone-family syscall being finished
};

extern "C" {

// Bounds of the gateway's code, the SUD allowed range.
extern const char sandbox_gateway_begin[];
extern const char sandbox_gateway_end[];

// Makes syscall `nr` with up to six arguments; returns the kernel's result
// (a negative errno on failure). Never touches errno.
long sandbox_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5,
                         long a6);

// Where a direct trampoline jumps to make its syscall; not callable from
// C (see gateway.S for the stack it expects).
void sandbox_gateway_passthrough();

// Makes 32-bit syscall `nr` through int $0x80, for programs that use the
// i386 syscall ABI.
long sandbox_raw_syscall_int80(long nr, long a1, long a2, long a3, long a4,
                               long a5, long a6);

// Restorer for the runtime's own SIGSYS handler: rt_sigreturn from inside
// the allowed range.
void sandbox_sigsys_restorer();

// A bare syscall instruction followed by a trap. Resuming a signal frame at
// this address with RAX = rt_sigreturn and RSP at the program's frame
// re-executes the program's rt_sigreturn from the allowed range.
extern const char sandbox_gateway_syscall_insn[];

// Makes a clone-family syscall whose child starts on a new stack. The child
// calls sandbox_child_start(child_context) on that stack, 16-byte aligned;
// the parent gets the syscall's result.
long sandbox_clone_gateway(long nr, long a1, long a2, long a3, long a4, long a5,
                           void* child_context);

// Makes a clone-family syscall whose child shares the caller's stack (vfork
// and its relatives). The child returns 0 normally. The parent does not
// return: it restores the frame described by *resume with the result in it,
// calls sandbox_vfork_parent_resumed(resume) on the stack below the frame,
// and resumes the program with rt_sigreturn.
long sandbox_vfork_gateway(long nr, long a1, long a2, long a3, long a4, long a5,
                           const SandboxVforkResume* resume);

// Resumes a signal frame: rt_sigreturn with the stack pointer at `ucontext`.
[[noreturn]] void sandbox_resume_frame(void* ucontext);

// Entry of a new-stack child, defined by the runtime; never returns.
[[noreturn]] void sandbox_child_start(void* child_context);

// Finishes a vfork-style clone in the parent once its frame is back,
// defined by the runtime.
void sandbox_vfork_parent_resumed(const SandboxVforkResume* resume);

}  // extern "C"

#endif  // SANDBOX_TRAMPOLINES_GATEWAY_H_
