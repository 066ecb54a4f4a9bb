// The runtime's last words. RawFatal runs wherever the runtime finds itself
// unable to go on, in signal-handler context included, so it formats with
// the raw logger. The backtrace comes from LLVM libunwind, linked statically
// and hidden so that the program keeps its own unwinder; looking up unwind
// tables may take the loader's lock, which is acceptable only because the
// process is about to end.
#include <libunwind/libunwind.h>

#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"

namespace sandbox {
namespace {

void LogBacktrace() {
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) != 0) return;
  if (unw_init_local(&cursor, &context) != 0) return;
  for (int depth = 0; depth < 32 && unw_step(&cursor) > 0; ++depth) {
    unw_word_t ip = 0, offset = 0;
    unw_get_reg(&cursor, UNW_REG_IP, &ip);
    char name[128];
    char line[256];
    FixedWriter out(line, sizeof(line));
    out.Put("  #").PutDec(depth).Put(" ").PutHex(ip);
    if (unw_get_proc_name(&cursor, name, sizeof(name), &offset) == 0) {
      out.Put(" ").Put(name).Put("+").PutHex(offset);
    }
    RawLogLine(out.view());
  }
}

}  // namespace

void RawFatal(std::string_view message, long error) {
  if (error < 0) {
    RawLogError(message, error);
  } else {
    RawLogLine(message);
  }
  LogBacktrace();
  raw::ExitGroup(125);
}

}  // namespace sandbox
