// The frame the fast-path entry builds on the program's stack (below its
// red zone) before it calls into the runtime. Shared by the generated entry
// code, which pushes it, and the C++ code that reads and answers it.
#ifndef SANDBOX_TRAMPOLINES_FAST_FRAME_H_
#define SANDBOX_TRAMPOLINES_FAST_FRAME_H_

#include <cstddef>
#include <cstdint>

// One syscall arriving through a rewritten site. Lowest address first, in
// the reverse of the order the entry pushes it.
struct SandboxFastFrame {
  uint64_t result;          // out: what the program sees in RAX
  uint64_t nr;              // the syscall number the site loads into EAX
  uint64_t args[6];         // rdi, rsi, rdx, r10, r8, r9
  uint64_t return_address;  // the address after the site's syscall
  uint64_t flags;           // the program's RFLAGS
};
static_assert(offsetof(SandboxFastFrame, args) == 16);
static_assert(sizeof(SandboxFastFrame) == 80);

extern "C" {

// Answers a syscall from a rewritten site without touching any vector or
// x87 register (the file that defines it is built general-registers-only).
// Returns 1 when frame->result holds the answer, 0 when the call needs the
// full dispatch, which may touch any register.
int sandbox_fast_dispatch(SandboxFastFrame* frame);

// The full dispatch for a syscall from a rewritten site; the entry saves
// and restores the extended register state around it.
void sandbox_fast_full_dispatch(SandboxFastFrame* frame);

}  // extern "C"

#endif  // SANDBOX_TRAMPOLINES_FAST_FRAME_H_
