// Everything in this file is async-signal-safe: it runs in the SIGSYS
// handler of an arbitrary program, so it allocates nothing, takes no locks,
// stays out of stdio and keeps its stack use to a few hundred bytes. The
// glibc calls it makes (strerrorname_np, strerrordesc_np, sigabbrev_np) are
// lookups in constant tables.
#include "sandbox/runtime/trace_format.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>

#include "sandbox/common/syscall_table.h"

namespace sandbox {
namespace {

// Results in [-kMaxErrno, -1] are errors, as the kernel's own convention.
constexpr long kMaxErrno = 4095;

// Paths are printed whole, as strace does; this bounds the work for a
// string that never ends.
constexpr size_t kTracePathLimit = 4096;

// Bounds the walk over an environment whose terminator is missing.
constexpr size_t kEnvCountLimit = 1 << 16;

// The kernel's O_LARGEFILE on x86-64. glibc defines O_LARGEFILE as 0 for
// 64-bit programs, but a raw caller may still pass the bit.
constexpr uint32_t kKernelOLargefile = 0100000;

// map_shadow_stack returns an address; Debian 12's headers predate it.
constexpr long kSysMapShadowStack = 453;

constexpr int kAtFdcwd = -100;

// The kernel's first real-time signal; glibc reserves a few above it, but
// the trace names the kernel's numbering.
constexpr int kKernelSigrtmin = 32;
constexpr int kKernelSigrtmax = 64;

struct FlagName {
  uint32_t bits;
  const char* name;
};

// O_* flags after the access mode, in the order they are printed. The
// composite flags (O_SYNC includes O_DSYNC, O_TMPFILE includes
// O_DIRECTORY) come before their parts so they are recognised whole.
constexpr FlagName kOpenFlagNames[] = {
    {O_CREAT, "O_CREAT"},
    {O_EXCL, "O_EXCL"},
    {O_NOCTTY, "O_NOCTTY"},
    {O_TRUNC, "O_TRUNC"},
    {O_APPEND, "O_APPEND"},
    {O_NONBLOCK, "O_NONBLOCK"},
    {O_SYNC, "O_SYNC"},
    {O_DSYNC, "O_DSYNC"},
    {O_ASYNC, "O_ASYNC"},
    {O_DIRECT, "O_DIRECT"},
    {kKernelOLargefile, "O_LARGEFILE"},
    {O_TMPFILE, "O_TMPFILE"},
    {O_DIRECTORY, "O_DIRECTORY"},
    {O_NOFOLLOW, "O_NOFOLLOW"},
    {O_NOATIME, "O_NOATIME"},
    {O_CLOEXEC, "O_CLOEXEC"},
    {O_PATH, "O_PATH"},
};

// Reads through `reader`, treating a missing reader as unreadable memory.
long Read(MemoryReader reader, void* dst, uint64_t src, size_t len) {
  if (reader == nullptr) return -EFAULT;
  return reader(dst, src, len);
}

// Writes bytes in strace's escaped form. Each byte is held back until the
// next one is known, because an octal escape followed by a digit must be
// written with all three digits to stay unambiguous.
class Escaper {
 public:
  explicit Escaper(FixedWriter* out) : out_(out) {}

  // Adds one byte of string content.
  void Add(unsigned char c) {
    if (has_pending_) Emit(pending_, c);
    pending_ = c;
    has_pending_ = true;
  }

  // Writes the last held-back byte; the closing quote follows it.
  void Finish() {
    if (has_pending_) Emit(pending_, '"');
    has_pending_ = false;
  }

 private:
  void Emit(unsigned char c, unsigned char next) {
    switch (c) {
      case '"':
        out_->Put("\\\"");
        return;
      case '\\':
        out_->Put("\\\\");
        return;
      case '\n':
        out_->Put("\\n");
        return;
      case '\t':
        out_->Put("\\t");
        return;
      case '\r':
        out_->Put("\\r");
        return;
      case '\f':
        out_->Put("\\f");
        return;
      case '\v':
        out_->Put("\\v");
        return;
      default:
        break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out_->PutChar(static_cast<char>(c));
      return;
    }
    out_->PutChar('\\');
    bool full = next >= '0' && next <= '7';
    if (full || c >= 0100) out_->PutChar(static_cast<char>('0' + (c >> 6)));
    if (full || c >= 010) {
      out_->PutChar(static_cast<char>('0' + ((c >> 3) & 7)));
    }
    out_->PutChar(static_cast<char>('0' + (c & 7)));
  }

  FixedWriter* out_;
  unsigned char pending_ = 0;
  bool has_pending_ = false;
};

// Writes `len` bytes quoted and escaped, then `...` when `cut` says the
// content went on.
void PutQuoted(const unsigned char* bytes, size_t len, bool cut,
               FixedWriter* out) {
  out->PutChar('"');
  Escaper escaper(out);
  for (size_t i = 0; i < len; ++i) escaper.Add(bytes[i]);
  escaper.Finish();
  out->PutChar('"');
  if (cut) out->Put("...");
}

void PutPointer(uint64_t value, FixedWriter* out) {
  if (value == 0) {
    out->Put("NULL");
  } else {
    out->PutHex(value);
  }
}

// Hex as strace prints flags: a bare 0 for zero.
void PutHexOrZero(uint64_t value, FixedWriter* out) {
  if (value == 0) {
    out->PutChar('0');
  } else {
    out->PutHex(value);
  }
}

// Octal behind a leading 0, at least two digits, as strace prints modes:
// 000, 0644, 01777.
void PutMode(uint32_t mode, FixedWriter* out) {
  out->PutChar('0');
  char digits[12];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + (mode & 7));
    mode >>= 3;
  } while (mode != 0);
  while (count < 2) digits[count++] = '0';
  while (count > 0) out->PutChar(digits[--count]);
}

// Writes a NUL-terminated string of the traced program of at most `limit`
// content bytes, streaming it in chunks. Writes the address instead when
// any part of the string up to its end (or the limit) is unreadable.
void PutString(uint64_t addr, size_t limit, MemoryReader reader,
               FixedWriter* out) {
  if (addr == 0) {
    out->Put("NULL");
    return;
  }
  const size_t mark = out->size();
  out->PutChar('"');
  Escaper escaper(out);
  size_t done = 0;
  // Reads one byte past the limit, to tell a string of exactly `limit`
  // bytes from a longer one.
  while (done <= limit) {
    unsigned char chunk[64];
    size_t want = limit + 1 - done;
    if (want > sizeof(chunk)) want = sizeof(chunk);
    long got = Read(reader, chunk, addr + done, want);
    if (got <= 0) {
      out->Truncate(mark);
      out->PutHex(addr);
      return;
    }
    for (long i = 0; i < got; ++i) {
      if (chunk[i] == '\0') {
        escaper.Finish();
        out->PutChar('"');
        return;
      }
      if (done == limit) {
        escaper.Finish();
        out->Put("\"...");
        return;
      }
      escaper.Add(chunk[i]);
      ++done;
    }
  }
}

// Writes a buffer of known length, its first kTraceStringLimit bytes.
void PutBuffer(uint64_t addr, uint64_t len, MemoryReader reader,
               FixedWriter* out) {
  if (addr == 0) {
    out->Put("NULL");
    return;
  }
  unsigned char bytes[kTraceStringLimit];
  size_t want = len < kTraceStringLimit ? len : kTraceStringLimit;
  if (want > 0) {
    long got = Read(reader, bytes, addr, want);
    if (got < 0 || static_cast<size_t>(got) < want) {
      out->PutHex(addr);
      return;
    }
  }
  PutQuoted(bytes, want, len > want, out);
}

// Writes argv-style arrays: ["ls", "-l"], cut after kTraceStringLimit
// elements. An unreadable array prints as its address.
void PutStringArray(uint64_t addr, MemoryReader reader, FixedWriter* out) {
  if (addr == 0) {
    out->Put("NULL");
    return;
  }
  const size_t mark = out->size();
  out->PutChar('[');
  for (size_t i = 0;; ++i) {
    uint64_t element;
    if (Read(reader, &element, addr + i * sizeof(element), sizeof(element)) !=
        static_cast<long>(sizeof(element))) {
      out->Truncate(mark);
      out->PutHex(addr);
      return;
    }
    if (element == 0) break;
    if (i > 0) out->Put(", ");
    if (i == kTraceStringLimit) {
      out->Put("...");
      break;
    }
    PutString(element, kTraceStringLimit, reader, out);
  }
  out->PutChar(']');
}

// Writes an environment as its address and the number of its entries,
// which says more in a trace line than the entries themselves.
void PutEnvArray(uint64_t addr, MemoryReader reader, FixedWriter* out) {
  if (addr == 0) {
    out->Put("NULL");
    return;
  }
  out->PutHex(addr);
  size_t count = 0;
  while (count < kEnvCountLimit) {
    uint64_t element;
    if (Read(reader, &element, addr + count * sizeof(element),
             sizeof(element)) != static_cast<long>(sizeof(element))) {
      return;  // The address alone: the count is unknown.
    }
    if (element == 0) break;
    ++count;
  }
  out->Put(" /* ");
  out->PutUdec(count);
  out->Put(count == 1 ? " var */" : " vars */");
}

// Writes the named bits of `flags` joined by '|', leftover bits in hex.
// `first` says whether nothing was written before, so no '|' leads.
void PutFlagBits(uint32_t flags, bool first, FixedWriter* out) {
  for (const FlagName& flag : kOpenFlagNames) {
    if ((flags & flag.bits) != flag.bits) continue;
    if (!first) out->PutChar('|');
    out->Put(flag.name);
    flags &= ~flag.bits;
    first = false;
  }
  if (flags != 0) {
    if (!first) out->PutChar('|');
    out->PutHex(flags);
  } else if (first) {
    out->PutChar('0');
  }
}

void PutOpenFlags(uint32_t flags, FixedWriter* out) {
  static constexpr const char* kAccessModes[] = {"O_RDONLY", "O_WRONLY",
                                                 "O_RDWR", "O_ACCMODE"};
  out->Put(kAccessModes[flags & O_ACCMODE]);
  PutFlagBits(flags & ~static_cast<uint32_t>(O_ACCMODE), false, out);
}

void PutSignal(int sig, FixedWriter* out) {
  const char* abbrev = sig > 0 ? sigabbrev_np(sig) : nullptr;
  if (abbrev != nullptr) {
    out->Put("SIG").Put(abbrev);
  } else if (sig >= kKernelSigrtmin && sig <= kKernelSigrtmax) {
    out->Put("SIGRT_").PutDec(sig - kKernelSigrtmin);
  } else {
    out->PutDec(sig);
  }
}

// True for syscalls whose successful result is an address.
bool ReturnsAddress(long nr) {
  return nr == SYS_mmap || nr == SYS_mremap || nr == SYS_brk ||
         nr == SYS_shmat || nr == kSysMapShadowStack;
}

void PutResult(long nr, bool has_result, long result, FixedWriter* out) {
  out->Put(" = ");
  if (!has_result) {
    out->PutChar('?');
    return;
  }
  if (result < 0 && result >= -kMaxErrno) {
    int error = static_cast<int>(-result);
    const char* name = strerrorname_np(error);
    const char* description = strerrordesc_np(error);
    out->Put("-1 ");
    if (name != nullptr) {
      out->Put(name);
    } else {
      out->Put("ERRNO_").PutDec(error);
    }
    out->Put(" (");
    if (description != nullptr) {
      out->Put(description);
    } else {
      out->Put("Unknown error ").PutDec(error);
    }
    out->PutChar(')');
    return;
  }
  if (ReturnsAddress(nr)) {
    PutHexOrZero(static_cast<uint64_t>(result), out);
    return;
  }
  out->PutDec(result);
}

// Writes argument `i` of a known syscall.
void PutArg(const TraceCall& call, const SyscallInfo& info, int i,
            bool has_result, long result, MemoryReader reader,
            FixedWriter* out) {
  const uint64_t arg = call.args[i];
  switch (info.args[i]) {
    case ArgKind::kInt:
      out->PutDec(static_cast<int32_t>(arg));
      return;
    case ArgKind::kUint:
      out->PutUdec(arg);
      return;
    case ArgKind::kLong:
      out->PutDec(static_cast<int64_t>(arg));
      return;
    case ArgKind::kHex:
      PutHexOrZero(arg, out);
      return;
    case ArgKind::kPtr:
      PutPointer(arg, out);
      return;
    case ArgKind::kFd:
      out->PutDec(static_cast<int32_t>(arg));
      return;
    case ArgKind::kDirFd:
      if (static_cast<int32_t>(arg) == kAtFdcwd) {
        out->Put("AT_FDCWD");
      } else {
        out->PutDec(static_cast<int32_t>(arg));
      }
      return;
    case ArgKind::kPath:
      PutString(arg, kTracePathLimit, reader, out);
      return;
    case ArgKind::kInBuf:
      if (i + 1 < info.arg_count) {
        PutBuffer(arg, call.args[i + 1], reader, out);
      } else {
        PutPointer(arg, out);
      }
      return;
    case ArgKind::kOutBuf:
      // The kernel filled `result` bytes; before a result or after an
      // error the buffer holds nothing worth showing.
      if (has_result && result > 0) {
        uint64_t len = static_cast<uint64_t>(result);
        // getcwd counts the terminating NUL in its result.
        if (call.nr == SYS_getcwd) --len;
        PutBuffer(arg, len, reader, out);
      } else {
        PutPointer(arg, out);
      }
      return;
    case ArgKind::kOpenFlags:
      PutOpenFlags(static_cast<uint32_t>(arg), out);
      return;
    case ArgKind::kFdFlags:
      PutFlagBits(static_cast<uint32_t>(arg), true, out);
      return;
    case ArgKind::kMode:
      PutMode(static_cast<uint32_t>(arg), out);
      return;
    case ArgKind::kSignal:
      PutSignal(static_cast<int32_t>(arg), out);
      return;
    case ArgKind::kStrArray:
      PutStringArray(arg, reader, out);
      return;
    case ArgKind::kEnvArray:
      PutEnvArray(arg, reader, out);
      return;
  }
  // A kind this file does not know yet still shows its value.
  out->PutHex(arg);
}

// True if argument `i` is an open mode the kernel ignores: it only reads
// the mode when the flags before it create a file.
bool IsIgnoredMode(const TraceCall& call, const SyscallInfo& info, int i) {
  if (info.args[i] != ArgKind::kMode || i == 0 ||
      info.args[i - 1] != ArgKind::kOpenFlags) {
    return false;
  }
  const uint64_t flags = call.args[i - 1];
  return (flags & O_CREAT) == 0 && (flags & O_TMPFILE) != O_TMPFILE;
}

// Writes "PID name(args)" without the result.
void PutCall(const TraceCall& call, bool has_result, long result,
             MemoryReader reader, FixedWriter* out) {
  out->PutDec(call.pid).PutChar(' ');
  const SyscallInfo* info = LookupSyscall(call.nr);
  if (info == nullptr) {
    out->Put("syscall_").PutDec(call.nr).PutChar('(');
    for (int i = 0; i < 6; ++i) {
      if (i > 0) out->Put(", ");
      PutHexOrZero(call.args[i], out);
    }
    out->PutChar(')');
    return;
  }
  out->Put(info->name).PutChar('(');
  for (int i = 0; i < info->arg_count && i < 6; ++i) {
    // An ignored mode is the last argument of its call, as strace omits.
    if (IsIgnoredMode(call, *info, i)) break;
    if (i > 0) out->Put(", ");
    PutArg(call, *info, i, has_result, result, reader, out);
  }
  out->PutChar(')');
}

}  // namespace

void FormatTraceLine(const TraceCall& call, bool has_result, long result,
                     MemoryReader reader, FixedWriter* out) {
  const size_t start = out->size();
  const size_t capacity = out->size() + out->remaining();

  PutCall(call, has_result, result, reader, out);
  PutResult(call.nr, has_result, result, out);

  // Room left for the newline means nothing was dropped: once the buffer
  // fills, every later character is lost and none fit.
  if (out->remaining() >= 1) {
    out->PutChar('\n');
    return;
  }

  // The line overflowed. Keep it one line: cut it to make room for a
  // marker and the newline, or, in a buffer too small even for that, for
  // the newline alone.
  constexpr std::string_view kCutMarker = "...\n";
  if (capacity - start >= kCutMarker.size()) {
    out->Truncate(capacity - kCutMarker.size());
    out->Put(kCutMarker);
  } else if (capacity > start) {
    out->Truncate(capacity - 1);
    out->PutChar('\n');
  }
}

}  // namespace sandbox
