// The per-site trampolines that rewritten syscall sites jump to, generated
// with xbyak.
//
// A rewritten site `mov $nr, %eax; syscall` becomes `jmp SITE_TRAMPOLINE;
// syscall`. The per-site trampoline steps below the red zone, loads the
// number and the return address, and jumps on. Most go to the one shared
// entry (fast_entry.S, assembled with its unwind table), which saves the
// registers the kernel would preserve, calls the runtime, and returns to
// the instruction after the site's syscall with only RAX, RCX and R11
// changed, exactly as the syscall instruction leaves them. A direct
// trampoline, for a syscall the runtime has decided once and for all to
// let through untouched, jumps straight to the gateway's syscall instead
// and runs no runtime code at all: the same decision, taken when the site
// is rewritten rather than at every call.
//
// The two templates are generated once at start-up. A per-site trampoline
// is a copy of one with two immediates filled in, written into a pool of
// executable pages within reach of a rel32 jump from the site. Making one
// is async-signal-safe.
#ifndef SANDBOX_TRAMPOLINES_TRAMPOLINE_BUILDER_H_
#define SANDBOX_TRAMPOLINES_TRAMPOLINE_BUILDER_H_

#include <cstddef>
#include <cstdint>

namespace sandbox {

// Generates the per-site templates. Call once, at start-up, before any site is
// rewritten. The full dispatch saves the state components in `xsave_mask`
// (XSAVE's requested-feature bitmap), which take `xsave_size` bytes. Returns
// false, with *error set to a static reason, if code cannot be generated.
bool InitTrampolines(uint64_t xsave_mask, uint32_t xsave_size,
                     const char** error);

// Returns the address of a new trampoline for the site whose syscall
// instruction ends at `return_address` and that loads `nr`, placed within
// rel32 reach of `site`, or 0 when no pool in reach has room. A `direct`
// one makes the syscall without entering the runtime. Callers serialize
// calls. Async-signal-safe.
uint64_t MakeSiteTrampoline(uint64_t site, uint64_t return_address, uint32_t nr,
                            bool direct);

// In a forked child: stops writing into the pools, which the child shares
// with its parent.
void ResetTrampolinesAfterFork();

// True if `address` lies in a trampoline pool.
bool IsTrampolineCode(uint64_t address);

}  // namespace sandbox

#endif  // SANDBOX_TRAMPOLINES_TRAMPOLINE_BUILDER_H_
