#include "sandbox/runtime/raw_log.h"

#include <errno.h>
#include <string.h>

#include "sandbox/runtime/raw_syscall.h"

namespace sandbox {

void RawWriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    long written = raw::Write(fd, text.data(), text.size());
    if (written == -EINTR) continue;
    if (written <= 0) return;
    text.remove_prefix(static_cast<size_t>(written));
  }
}

void RawLogLine(std::string_view message) {
  char buf[512];
  FixedWriter out(buf, sizeof(buf));
  out.Put("sandbox: ").Put(message);
  if (out.truncated()) out.Truncate(sizeof(buf) - 1);
  out.PutChar('\n');
  RawWriteAll(2, out.view());
}

void RawLogError(std::string_view what, long error) {
  char buf[512];
  FixedWriter out(buf, sizeof(buf));
  out.Put(what).Put(": ");
  // strerrorname_np and strerrordesc_np are pure table lookups in glibc.
  const char* name = strerrorname_np(static_cast<int>(-error));
  const char* desc = strerrordesc_np(static_cast<int>(-error));
  if (name != nullptr) {
    out.Put(name).Put(" (").Put(desc != nullptr ? desc : "").Put(")");
  } else {
    out.Put("error ").PutDec(error);
  }
  RawLogLine(out.view());
}

}  // namespace sandbox
