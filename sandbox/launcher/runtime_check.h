// Checks that a file is the sandbox's runtime library before the launcher
// preloads it: the dynamic loader skips a preload it cannot use with no
// more than a warning, and the program would then run unintercepted.
#ifndef SANDBOX_LAUNCHER_RUNTIME_CHECK_H_
#define SANDBOX_LAUNCHER_RUNTIME_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace sandbox {

// Returns OK if `path` is an absolute path that LD_PRELOAD can carry (no
// ':' or blank in it) to a readable regular file that is a 64-bit x86-64
// shared object with the runtime's marker section; otherwise an error that
// says which of these failed.
absl::Status CheckRuntimeLibrary(const std::string& path);

}  // namespace sandbox

#endif  // SANDBOX_LAUNCHER_RUNTIME_CHECK_H_
