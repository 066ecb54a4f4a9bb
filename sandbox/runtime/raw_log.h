// The runtime's logger for signal-handler, trampoline and post-fork context:
// it formats into a stack buffer and writes with the gateway, never
// allocating, locking or touching errno. Async-signal-safe.
#ifndef SANDBOX_RUNTIME_RAW_LOG_H_
#define SANDBOX_RUNTIME_RAW_LOG_H_

#include <string_view>

#include "sandbox/common/fixed_writer.h"

namespace sandbox {

// Writes all of `text` to `fd`, retrying short writes and EINTR.
void RawWriteAll(int fd, std::string_view text);

// Writes "sandbox: MESSAGE\n" to the process's stderr.
void RawLogLine(std::string_view message);

// Writes "sandbox: WHAT: ERRNAME (description)\n" for a negative kernel
// result `error`.
void RawLogError(std::string_view what, long error);

// Reports an internal runtime failure with a backtrace of the runtime's
// own frames and ends the process with status 125, the sandbox's failure
// status.
[[noreturn]] void RawFatal(std::string_view message, long error = 0);

}  // namespace sandbox

#endif  // SANDBOX_RUNTIME_RAW_LOG_H_
