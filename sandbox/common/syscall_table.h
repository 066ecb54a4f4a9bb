// Names, classes and argument shapes of the x86-64 system calls, for policy
// parsing (launcher) and trace decoding (runtime). The table is constant
// data: every lookup is async-signal-safe.
#ifndef SANDBOX_COMMON_SYSCALL_TABLE_H_
#define SANDBOX_COMMON_SYSCALL_TABLE_H_

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

namespace sandbox {

// Syscall numbers below this bound can carry a policy rule; every x86-64
// syscall number Linux 6.18 defines is below it.
inline constexpr int kSyscallTableSize = 512;

// The syscall classes of strace's `-e trace=%CLASS` syntax, as bits.
enum SyscallClass : uint32_t {
  kClassFile = 1u << 0,     // %file: takes a file name
  kClassProcess = 1u << 1,  // %process: process lifecycle
  kClassNetwork = 1u << 2,  // %network (%net)
  kClassSignal = 1u << 3,   // %signal
  kClassMemory = 1u << 4,   // %memory
  kClassDesc = 1u << 5,     // %desc: takes or returns a file descriptor
  kClassIpc = 1u << 6,      // %ipc: SysV IPC
  kClassCreds = 1u << 7,    // %creds: user and group identities
  kClassClock = 1u << 8,    // %clock: reads or sets clocks
  kClassStat = 1u << 9,     // %stat: stat family
  kClassStatfs = 1u << 10,  // %statfs: statfs family
};

// How the tracer prints one argument.
enum class ArgKind : uint8_t {
  kInt,        // signed decimal
  kUint,       // unsigned decimal
  kHex,        // 0x-prefixed hexadecimal
  kPtr,        // address, NULL when zero
  kFd,         // file descriptor (decimal)
  kDirFd,      // directory fd: AT_FDCWD printed by name
  kPath,       // NUL-terminated string read from memory, quoted
  kInBuf,      // buffer whose length is the next argument, read before
  kOutBuf,     // buffer filled by the kernel, length = result, read after
  kOpenFlags,  // O_* flags
  kMode,       // file mode, octal
  kSignal,     // signal number, by name (SIGINT)
  kStrArray,   // NULL-terminated array of strings (argv)
  kEnvArray,   // NULL-terminated array of strings, printed as a count
  kLong,       // signed 64-bit decimal (off_t, loff_t); kInt is a C int
  kFdFlags,    // O_* flags without an access mode (dup3, pipe2), 0 if none
};

// Static facts about one syscall.
struct SyscallInfo {
  const char* name;   // e.g. "openat"; never null in a table entry
  uint8_t arg_count;  // how many of args are meaningful, 0..6
  ArgKind args[6];
  uint32_t classes;  // SyscallClass bits
};

// Returns the facts about syscall `nr`, or nullptr if x86-64 defines no
// syscall with that number. Async-signal-safe.
const SyscallInfo* LookupSyscall(long nr);

// Returns the number of the syscall named `name` (as in "openat"), or -1.
int SyscallNumberByName(std::string_view name);

// A set of syscall numbers, one bit per number below kSyscallTableSize.
using SyscallSet = std::bitset<kSyscallTableSize>;

// Parses strace's set syntax as used after `trace=`: a comma-separated list
// of syscall names, `all`, `none` and %CLASS names, optionally negated as a
// whole with a leading `!`. Returns false and sets *error to a one-line
// reason on a malformed set or an unknown name.
bool ParseSyscallSet(std::string_view text, SyscallSet* set,
                     std::string* error);

}  // namespace sandbox

#endif  // SANDBOX_COMMON_SYSCALL_TABLE_H_
