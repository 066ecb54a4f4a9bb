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

#include <cstring>
#include <string_view>

#include "sandbox/common/exec_target.h"
#include "sandbox/common/fixed_writer.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/trace_format.h"

namespace sandbox {
namespace {

constexpr std::string_view kPreloadPrefix = "LD_PRELOAD=";
constexpr std::string_view kPolicyPrefix = "SANDBOX_POLICY=";
constexpr std::string_view kExecTracePrefix = "SANDBOX_EXEC_TRACE=";

bool StartsWith(const char* text, std::string_view prefix) {
  return strncmp(text, prefix.data(), prefix.size()) == 0;
}

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

}  // namespace

long HandleExec(const SyscallContext& call) {
  bool is_execveat = call.nr == SYS_execveat;
  int dirfd = is_execveat ? static_cast<int>(call.args[0]) : AT_FDCWD;
  const char* path =
      reinterpret_cast<const char*>(call.args[is_execveat ? 1 : 0]);
  int envp_arg = is_execveat ? 3 : 2;
  auto* envp = reinterpret_cast<char* const*>(call.args[envp_arg]);
  int at_flags = is_execveat ? static_cast<int>(call.args[4]) : 0;
  if (path == nullptr) return -EFAULT;

  const char* unreachable =
      WhyUnreachableByPreload(sandbox_raw_syscall, dirfd, path, at_flags);
  if (unreachable != nullptr) {
    char message[512];
    FixedWriter out(message, sizeof(message));
    out.Put("refusing to run ").Put(path).Put(": it ").Put(unreachable);
    RawLogLine(out.view());
    return -EPERM;
  }

  // The new environment: the program's, minus any copy of the runtime's
  // variables, plus the runtime's own.
  size_t count = 0;
  size_t program_preload_length = 0;
  const char* program_preload = nullptr;
  if (envp != nullptr) {
    for (; envp[count] != nullptr; ++count) {
      if (StartsWith(envp[count], kPreloadPrefix)) {
        program_preload = envp[count] + kPreloadPrefix.size();
        program_preload_length = strlen(program_preload);
      }
    }
  }
  const SyscallRule* rule = g_runtime.policy.RuleFor(call.nr);
  bool traced =
      rule != nullptr && rule->trace && g_runtime.policy.trace_path[0] != '\0';

  size_t preload_length = strlen(g_runtime.preload_env);
  size_t text_size = preload_length + 1 + program_preload_length + 1 +
                     kExecTracePrefix.size() + 1024;
  EnvBlock block((count + 4) * sizeof(char*) + text_size);
  if (block.base() == nullptr) return -ENOMEM;
  auto** new_envp = reinterpret_cast<const char**>(block.base());
  char* text = block.base() + (count + 4) * sizeof(char*);

  size_t out = 0;
  for (size_t i = 0; i < count; ++i) {
    if (StartsWith(envp[i], kPreloadPrefix) ||
        StartsWith(envp[i], kPolicyPrefix) ||
        StartsWith(envp[i], kExecTracePrefix)) {
      continue;
    }
    new_envp[out++] = envp[i];
  }

  // LD_PRELOAD: the runtime first, then whatever the program preloads.
  FixedWriter preload(text, preload_length + 1 + program_preload_length + 1);
  preload.Put(g_runtime.preload_env);
  std::string_view runtime_path =
      std::string_view(g_runtime.preload_env).substr(kPreloadPrefix.size());
  if (program_preload != nullptr &&
      std::string_view(program_preload).find(runtime_path) ==
          std::string_view::npos) {
    preload.PutChar(':').Put(program_preload);
  } else if (program_preload != nullptr) {
    preload.Truncate(0);
    preload.Put(kPreloadPrefix).Put(program_preload);
  }
  preload.PutChar('\0');
  new_envp[out++] = text;

  new_envp[out++] = g_runtime.policy_env;

  if (traced) {
    // The exec'd program's runtime writes this line once it runs, since a
    // successful exec never returns here, and an exec that fails is traced
    // with its error as usual.
    char* trace_text = text + preload.size();
    FixedWriter line(trace_text, kExecTracePrefix.size() + 1023);
    line.Put(kExecTracePrefix);
    TraceCall trace = {raw::GetTid(), call.nr, {}};
    for (int i = 0; i < 6; ++i) trace.args[i] = call.args[i];
    char formatted[1000];
    FixedWriter formatted_out(formatted, sizeof(formatted));
    FormatTraceLine(trace, true, 0, ReadProgramMemory, &formatted_out);
    // Without the leading thread id: the new program writes its own.
    std::string_view text_line = formatted_out.view();
    line.Put(text_line.substr(text_line.find(' ') + 1));
    line.PutChar('\0');
    new_envp[out++] = trace_text;
  }
  new_envp[out] = nullptr;

  SyscallContext edited = call;
  edited.args[envp_arg] = raw::Arg(new_envp);
  return RunSyscall(edited);
}

}  // namespace sandbox
