// Keeping the sandbox across exec.
//
// execve ends SUD and replaces the runtime with the new program, which gets
// the runtime again only through LD_PRELOAD. So every exec the program
// makes is checked and edited: a target that LD_PRELOAD cannot reach
// (statically linked, 32-bit, or set-id so the loader ignores the variable)
// is refused with EPERM and a message, never run unsandboxed; and the
// runtime's variables are put back into the new environment, also when the
// program cleared it.
//
// Everything in this file is async-signal-safe: it runs in the SIGSYS
// handler, and the new environment lives in a mapping made for this exec.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "sandbox/common/exec_target.h"
#include "sandbox/common/fixed_writer.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"
#include "sandbox/runtime/trace_format.h"

namespace sandbox {
namespace {

constexpr std::string_view kPreloadPrefix = "LD_PRELOAD=";
constexpr std::string_view kPolicyPrefix = "SANDBOX_POLICY=";
constexpr std::string_view kExecTracePrefix = "SANDBOX_EXEC_TRACE=";
constexpr std::string_view kSignalsPrefix = "SANDBOX_SIGNALS=";

// A mapping for the edited environment, unmapped when the exec fails.
class EnvBlock {
 public:
  explicit EnvBlock(size_t size) : size_((size + 4095) & ~4095UL) {
    long address = raw::Mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base_ = address < 0 ? nullptr : reinterpret_cast<char*>(address);
  }
  ~EnvBlock() {
    if (base_ != nullptr) raw::Munmap(base_, size_);
  }
  EnvBlock(const EnvBlock&) = delete;
  EnvBlock& operator=(const EnvBlock&) = delete;
  char* base() const { return base_; }

 private:
  size_t size_;
  char* base_;
};

// Reads the first bytes of the program's string at `address` to compare a
// prefix; false if the string is unreadable or shorter.
bool ProgramStringStartsWith(uint64_t address, std::string_view prefix) {
  char head[32];
  if (prefix.size() > sizeof(head)) return false;
  long got = ReadProgramMemory(head, address, prefix.size());
  return got == static_cast<long>(prefix.size()) &&
         memcmp(head, prefix.data(), prefix.size()) == 0;
}

// Reads the program's NUL-terminated string at `address` into out[0,
// capacity). Returns its length, or a negative errno.
long ReadProgramString(uint64_t address, char* out, size_t capacity) {
  long got = ReadProgramMemory(out, address, capacity);
  if (got <= 0) return -EFAULT;
  void* end = memchr(out, '\0', static_cast<size_t>(got));
  if (end == nullptr) {
    return static_cast<size_t>(got) == capacity ? -ENAMETOOLONG : -EFAULT;
  }
  return static_cast<char*>(end) - out;
}

}  // namespace

long HandleExec(const SyscallContext& call) {
  bool is_execveat = call.nr == SYS_execveat;
  int dirfd = is_execveat ? static_cast<int>(call.args[0]) : AT_FDCWD;
  uint64_t path_address = static_cast<uint64_t>(call.args[is_execveat ? 1 : 0]);
  int envp_arg = is_execveat ? 3 : 2;
  uint64_t envp = static_cast<uint64_t>(call.args[envp_arg]);
  int at_flags = is_execveat ? static_cast<int>(call.args[4]) : 0;

  // Everything is read from the program's memory without trusting its
  // pointers: a bad one gives EFAULT, as the kernel would.
  size_t count = 0;
  uint64_t program_preload = 0;
  for (; envp != 0; ++count) {
    uint64_t entry;
    if (!CopyFromProgram(&entry, envp + count * sizeof(entry), sizeof(entry))) {
      return -EFAULT;
    }
    if (entry == 0) break;
    if (ProgramStringStartsWith(entry, kPreloadPrefix)) program_preload = entry;
  }

  constexpr size_t kPathCapacity = 4096;
  constexpr size_t kProgramPreloadCapacity = 4096;
  constexpr size_t kTraceCapacity = 1024;
  constexpr size_t kSignalsCapacity = 128;
  size_t preload_length = strlen(g_runtime.preload_env);
  size_t text_size = kPathCapacity + preload_length + 2 +
                     kProgramPreloadCapacity + kExecTracePrefix.size() +
                     kTraceCapacity + kSignalsCapacity;
  EnvBlock block((count + 5) * sizeof(char*) + text_size);
  if (block.base() == nullptr) return -ENOMEM;
  auto** new_envp = reinterpret_cast<const char**>(block.base());
  char* path = block.base() + (count + 5) * sizeof(char*);
  char* text = path + kPathCapacity;

  long path_length = ReadProgramString(path_address, path, kPathCapacity);
  if (path_length < 0) return path_length;
  const char* unreachable =
      WhyUnreachableByPreload(sandbox_raw_syscall, dirfd, path, at_flags);
  if (unreachable == nullptr &&
      raw::Syscall(SYS_faccessat, AT_FDCWD,
                   raw::Arg(g_runtime.preload_env + kPreloadPrefix.size()),
                   R_OK) != 0) {
    unreachable =
        "would start without the runtime, which this user cannot read";
  }
  if (unreachable != nullptr) {
    char message[512];
    FixedWriter out(message, sizeof(message));
    out.Put("refusing to run ").Put(path).Put(": it ").Put(unreachable);
    RawLogLine(out.view());
    return -EPERM;
  }

  // The new environment: the program's, minus any copy of the runtime's
  // variables, plus the runtime's own.
  size_t out = 0;
  for (size_t i = 0; i < count; ++i) {
    uint64_t entry;
    if (!CopyFromProgram(&entry, envp + i * sizeof(entry), sizeof(entry))) {
      return -EFAULT;
    }
    if (ProgramStringStartsWith(entry, kPreloadPrefix) ||
        ProgramStringStartsWith(entry, kPolicyPrefix) ||
        ProgramStringStartsWith(entry, kExecTracePrefix) ||
        ProgramStringStartsWith(entry, kSignalsPrefix)) {
      continue;
    }
    new_envp[out++] = reinterpret_cast<const char*>(entry);
  }

  // LD_PRELOAD: the runtime first, then whatever the program preloads.
  char* program_list = text + preload_length + 2;
  long program_length = 0;
  if (program_preload != 0) {
    program_length = ReadProgramString(program_preload, program_list,
                                       kProgramPreloadCapacity);
    if (program_length < 0) return program_length;
  }
  std::string_view theirs =
      std::string_view(program_list, program_length)
          .substr(program_preload ? kPreloadPrefix.size() : program_length);
  std::string_view runtime_path =
      std::string_view(g_runtime.preload_env).substr(kPreloadPrefix.size());
  if (theirs.find(runtime_path) != std::string_view::npos) {
    new_envp[out++] = program_list;
  } else {
    FixedWriter preload(text, preload_length + 2);
    preload.Put(g_runtime.preload_env);
    if (!theirs.empty()) {
      // The program's list follows ours in place: join with a colon.
      preload.PutChar(':');
      memmove(text + preload.size(), theirs.data(), theirs.size() + 1);
    } else {
      preload.PutChar('\0');
    }
    new_envp[out++] = text;
  }
  new_envp[out++] = g_runtime.policy_env;

  char* extra = program_list + kProgramPreloadCapacity;
  // The program's wishes for the runtime's own signals, which the kernel
  // does not hold: ignored ones stay ignored and blocked ones blocked.
  FixedWriter signals(extra, kSignalsCapacity);
  signals.Put(kSignalsPrefix)
      .PutHex(IgnoredOwnedSignals())
      .PutChar(',')
      .PutHex(CurrentThreadRecord()->program_blocked_owned)
      .PutChar('\0');
  new_envp[out++] = extra;
  extra += signals.size();

  const SyscallRule* rule = g_runtime.policy.RuleFor(call.nr);
  if (rule != nullptr && rule->trace && g_runtime.policy.trace_path[0]) {
    // The exec'd program's runtime writes this line once it runs, since a
    // successful exec never returns here, and an exec that fails is traced
    // with its error as usual.
    FixedWriter line(extra, kExecTracePrefix.size() + kTraceCapacity - 1);
    line.Put(kExecTracePrefix);
    TraceCall trace = {raw::GetTid(), call.nr, {}};
    for (int i = 0; i < 6; ++i) trace.args[i] = call.args[i];
    char formatted[kTraceCapacity - 24];
    FixedWriter formatted_out(formatted, sizeof(formatted));
    FormatTraceLine(trace, true, 0, ReadProgramMemory, &formatted_out);
    // Without the leading thread id: the new program writes its own.
    std::string_view text_line = formatted_out.view();
    line.Put(text_line.substr(text_line.find(' ') + 1));
    line.PutChar('\0');
    new_envp[out++] = extra;
  }
  new_envp[out] = nullptr;

  SyscallContext edited = call;
  edited.args[envp_arg] = raw::Arg(new_envp);
  return RunSyscall(edited);
}

}  // namespace sandbox
