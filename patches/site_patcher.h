// Lazy rewriting of syscall sites: the first time a site of the shape
// `mov $nr, %eax; syscall` traps through SUD, its 5-byte mov becomes a
// 5-byte jump to a trampoline, so that later executions enter the runtime
// without a signal. The syscall instruction stays in place: code that jumps
// straight to it still traps and is still handled.
//
// Only sites on pages that are executable, private and not writable are
// rewritten, since the program cannot change such code without first
// changing the page's protection, which the runtime sees and answers by
// putting the original bytes back. Code is written through /proc/self/mem,
// so no page's protection ever changes. While other threads may run the
// code, the first byte becomes an int3 while the rest is written; a thread
// that meets it is sent on as the original mov would have sent it.
//
// Everything here is async-signal-safe.
#ifndef SANDBOX_PATCHES_SITE_PATCHER_H_
#define SANDBOX_PATCHES_SITE_PATCHER_H_

#include <ucontext.h>

#include <cstdint>

namespace sandbox {

// Why rewriting is not available, or nullptr when it is. Probes the kernel
// (PROCMAP_QUERY, membarrier). Call once at start-up, before SUD is armed.
const char* InitSitePatcher();

// Generates the trampolines and lets rewriting begin; returns why it
// cannot, or nullptr. Call once, after InitSitePatcher succeeded and SUD
// is armed: the code generator allocates through the program's malloc,
// whose syscalls must be seen as the program's.
const char* StartSitePatcher();

// Rewrites the site whose syscall instruction ends at `syscall_end`, if it
// has the rewritable shape for syscall `nr` and lies in rewritable code.
// Called from the SIGSYS handler for a dispatched syscall; does nothing if
// another thread is rewriting at the same moment.
void MaybeRewriteSite(uint64_t syscall_end, long nr);

// Handles a SIGTRAP raised by an int3 the rewriting left in a site's first
// byte: sends the thread back to the site's start. Returns false if the
// trap is not the runtime's.
bool RecoverFromSiteTrap(ucontext_t* frame);

// Runs a syscall that changes mappings, for which NeedsMappingBookkeeping
// (patch_table.h) said yes, (mmap, munmap, mprotect, mremap)
// after putting back the original bytes of the rewritten sites it affects
// and forgetting them. Returns the syscall's result.
long RunMappingChange(long nr, const long* args);

// Around a clone that copies the address space (a fork): holds off every
// rewrite, waiting for one in progress, so that the child never inherits a
// site half rewritten by a thread it does not have. The parent calls
// ResumeRewritesAfterFork once the clone has returned; the child's
// ResetSitePatcherAfterFork lets go of its copy. Call with every signal
// blocked.
void HoldRewritesForFork();
void ResumeRewritesAfterFork();

// In a forked child: the rewriting state that belonged to other threads of
// the parent (the lock, the trampoline pools) is let go.
void ResetSitePatcherAfterFork();

}  // namespace sandbox

#endif  // SANDBOX_PATCHES_SITE_PATCHER_H_
