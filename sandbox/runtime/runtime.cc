// Start-up of the runtime in each sandboxed process: decode the policy,
// set up per-thread records, open the trace output, map the counters,
// install the SIGSYS handler and arm SUD on the main thread. This runs in
// the library constructor, before the program's main, where allocation and
// libc are still fine to use; nothing after it is.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>
#include <string_view>

#include "patches/site_patcher.h"
#include "sandbox/common/kernel_abi.h"
#include "sandbox/runtime/raw_log.h"
#include "sandbox/runtime/raw_syscall.h"
#include "sandbox/runtime/runtime_state.h"
#include "sandbox/runtime/thread_registry.h"

// The mark by which the launcher knows this file for the runtime before it
// preloads it (the section's name is what it looks for).
extern "C" __attribute__((used, retain, section("sandbox_runtime_id")))
const char sandbox_runtime_mark[] = "sandbox runtime";

namespace sandbox {
namespace {

constexpr char kExecTraceEnvVar[] = "SANDBOX_EXEC_TRACE";
constexpr char kSignalsEnvVar[] = "SANDBOX_SIGNALS";

void CopyEnvEntry(char* out, std::string_view name, std::string_view value) {
  if (name.size() + 1 + value.size() + 1 > kEnvEntryMax) {
    RawFatal("runtime environment entry too long");
  }
  memcpy(out, name.data(), name.size());
  out[name.size()] = '=';
  memcpy(out + name.size() + 1, value.data(), value.size());
  out[name.size() + 1 + value.size()] = '\0';
}

// Finds this library's own path, to preload it into exec'd programs.
void RememberRuntimePath() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&RememberRuntimePath), &info) == 0 ||
      info.dli_fname == nullptr || info.dli_fname[0] != '/') {
    RawFatal("cannot find the runtime's own path");
  }
  CopyEnvEntry(g_runtime.preload_env, "LD_PRELOAD", info.dli_fname);
}

void MapStats() {
  if (g_runtime.policy.stats_path[0] == '\0') return;
  long fd =
      raw::OpenAt(AT_FDCWD, g_runtime.policy.stats_path, O_RDWR | O_CLOEXEC);
  if (fd < 0) RawFatal("cannot open the statistics file", fd);
  long address = raw::Mmap(nullptr, sizeof(StatsBlock), PROT_READ | PROT_WRITE,
                           MAP_SHARED, static_cast<int>(fd), 0);
  raw::Close(static_cast<int>(fd));
  if (address < 0) RawFatal("cannot map the statistics file", address);
  auto* stats = reinterpret_cast<StatsBlock*>(address);
  if (stats->magic != kStatsMagic) RawFatal("statistics file is foreign");
  g_runtime.stats = stats;
}

// The program sees the environment it was started with: the runtime's own
// variables are taken out, and put back at every exec.
void HideRuntimeEnvironment() {
  // The trace line of the exec that started this program, which the
  // exec'ing side could not write since it did not know the outcome.
  if (const char* line = getenv(kExecTraceEnvVar)) {
    char buf[1100];
    FixedWriter out(buf, sizeof(buf));
    out.PutDec(g_runtime.pid).PutChar(' ').Put(line);
    WriteTraceText(out.view());
  }
  unsetenv(kExecTraceEnvVar);
  unsetenv(kPolicyEnvVar);
  unsetenv(kSignalsEnvVar);

  const char* preload = getenv("LD_PRELOAD");
  if (preload == nullptr) return;
  std::string_view ours =
      std::string_view(g_runtime.preload_env).substr(strlen("LD_PRELOAD="));
  std::string_view list = preload;
  size_t at = list.find(ours);
  if (at == std::string_view::npos) return;
  // Keep whatever else the program's environment preloads.
  std::string rest(list.substr(0, at));
  std::string_view after = list.substr(at + ours.size());
  while (!after.empty() && (after[0] == ':' || after[0] == ' ')) {
    after.remove_prefix(1);
  }
  rest += after;
  while (!rest.empty() && (rest.back() == ':' || rest.back() == ' ')) {
    rest.pop_back();
  }
  if (rest.empty()) {
    unsetenv("LD_PRELOAD");
  } else {
    setenv("LD_PRELOAD", rest.c_str(), 1);
  }
}

// Whether rewriting can be used, given why it cannot (`unavailable`, or
// nullptr when it can): with --mode=rewrite, a reason ends the program.
bool RewritingAvailable(const char* unavailable) {
  if (unavailable == nullptr) return true;
  if (g_runtime.policy.mode == InterceptMode::kRewrite) {
    char message[256];
    FixedWriter out(message, sizeof(message));
    out.Put("--mode=rewrite is not available: ").Put(unavailable);
    RawFatal(out.view());
  }
  return false;
}

}  // namespace
}  // namespace sandbox

// Runs before the program's own constructors and main.
__attribute__((constructor(101))) static void SandboxRuntimeInit() {
  using namespace sandbox;

  const char* encoded = getenv(kPolicyEnvVar);
  // Preloaded by hand without the launcher: intercept everything and allow
  // it, which is what a policy with no rules says.
  std::string_view text = encoded != nullptr ? encoded : "v1";
  const char* error = nullptr;
  if (!DecodePolicy(text, &g_runtime.policy, &error)) RawFatal(error);
  CopyEnvEntry(g_runtime.policy_env, kPolicyEnvVar, text);
  RememberRuntimePath();

  g_runtime.pid = raw::GetPid();
  long status = InitThreadRegistry();
  if (status < 0) RawFatal("cannot map the thread registry", status);
  ThreadRecord* main_record = ReserveThreadRecord();
  ClaimThreadRecord(main_record, raw::GetTid());

  MapStats();

  if (g_runtime.policy.mode != InterceptMode::kSignal) {
    g_runtime.rewriting = RewritingAvailable(InitSitePatcher());
  }

  status = InstallRuntimeSignalHandlers(RewritingEnabled());
  if (status < 0)
    RawFatal("cannot install the runtime's signal handlers", status);
  // What the program before the exec wanted of the runtime's own signals.
  if (const char* inherited = getenv(kSignalsEnvVar)) {
    char* rest = nullptr;
    uint64_t ignored = strtoull(inherited, &rest, 16);
    uint64_t blocked =
        rest != nullptr && *rest == ',' ? strtoull(rest + 1, nullptr, 16) : 0;
    AdoptInheritedSignalState(ignored, blocked);
  }
  // The variables are hidden only now: the steps above read them.
  HideRuntimeEnvironment();
  status = ArmSyscallUserDispatch(&main_record->selector);
  if (status < 0) {
    RawFatal(
        "cannot arm Syscall User Dispatch (a kernel built without "
        "CONFIG_GENERIC_SYSCALL_USER_DISPATCH, or it is disabled)",
        status);
  }
  // Only now: generating the trampolines calls the program's malloc.
  if (g_runtime.rewriting) {
    g_runtime.rewriting = RewritingAvailable(StartSitePatcher());
  }
}
