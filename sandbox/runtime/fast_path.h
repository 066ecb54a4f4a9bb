// What the runtime decides about a syscall site once, when it rewrites it.
#ifndef SANDBOX_RUNTIME_FAST_PATH_H_
#define SANDBOX_RUNTIME_FAST_PATH_H_

namespace sandbox {

// True if syscall `nr` from a rewritten site may go to the kernel without
// any runtime code running: the policy lets it through untraced, no
// statistics are kept, and the runtime has no handling of its own for it
// whatever its arguments. The policy and the statistics setting are fixed
// at start-up, so the answer holds for the life of the process.
// Async-signal-safe.
bool PassesStraightThrough(long nr);

}  // namespace sandbox

#endif  // SANDBOX_RUNTIME_FAST_PATH_H_
