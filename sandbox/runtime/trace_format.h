// Formats strace-style trace lines for intercepted syscalls. Everything here
// is async-signal-safe: it runs inside the SIGSYS handler, formats into a
// caller-owned buffer, and reads the traced program's memory only through
// the reader it is given, so a bad pointer never faults.
#ifndef SANDBOX_RUNTIME_TRACE_FORMAT_H_
#define SANDBOX_RUNTIME_TRACE_FORMAT_H_

#include <cstddef>
#include <cstdint>

#include "sandbox/common/fixed_writer.h"

namespace sandbox {

// Copies up to `len` bytes at address `src` of the traced program into
// `dst`. Returns how many bytes it copied (fewer when the range runs into
// unreadable memory), or a negative errno when nothing was readable.
using MemoryReader = long (*)(void* dst, uint64_t src, size_t len);

// One syscall as the program made it.
struct TraceCall {
  int pid;           // the calling thread's id, printed first
  long nr;           // syscall number
  uint64_t args[6];  // rdi, rsi, rdx, r10, r8, r9
};

// Longest string content printed before `...`, as strace's default -s 32.
inline constexpr size_t kTraceStringLimit = 32;

// Appends "PID name(args) = RESULT\n" to *out. Strings are read through
// `reader` and printed quoted and escaped; buffers the kernel fills are read
// after the call, so this is called once the result is known. When
// `has_result` is false (exit, exit_group, or an exec about to happen) the
// result is printed as "?". Errors print as "-1 ENAME (message)". Unknown
// numbers print as "syscall_NR(...)". Async-signal-safe.
void FormatTraceLine(const TraceCall& call, bool has_result, long result,
                     MemoryReader reader, FixedWriter* out);

}  // namespace sandbox

#endif  // SANDBOX_RUNTIME_TRACE_FORMAT_H_
