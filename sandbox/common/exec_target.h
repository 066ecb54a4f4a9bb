// Whether a program can be reached by an LD_PRELOAD runtime. Shared by the
// launcher (before it starts the program) and the runtime (at every exec).
// Async-signal-safe: it allocates nothing and makes its syscalls through the
// function it is given.
#ifndef SANDBOX_COMMON_EXEC_TARGET_H_
#define SANDBOX_COMMON_EXEC_TARGET_H_

namespace sandbox {

// Makes syscall `nr` and returns its result or -errno.
using RawSyscallFn = long (*)(long nr, long a1, long a2, long a3, long a4,
                              long a5, long a6);

// Returns why the program at `path` (relative to `dirfd`, with execveat's
// AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW in `at_flags`) would run without the
// runtime: statically linked, 32-bit, or set-id or file-capable so that the
// loader ignores LD_PRELOAD. A #! script is judged by its interpreter. Returns
// nullptr when the runtime can reach it, or when the file cannot be read, in
// which case the exec fails on its own.
const char* WhyUnreachableByPreload(RawSyscallFn sys, int dirfd,
                                    const char* path, int at_flags);

}  // namespace sandbox

#endif  // SANDBOX_COMMON_EXEC_TARGET_H_
