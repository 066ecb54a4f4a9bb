// The sandbox policy: what happens to each syscall. The launcher builds it
// from the command line, encodes it as text, and every sandboxed process's
// runtime decodes it once at start-up into static storage. It holds no
// pointers, so a decoded policy is plain data that survives fork and can be
// re-encoded into the environment of an exec.
#ifndef SANDBOX_COMMON_POLICY_H_
#define SANDBOX_COMMON_POLICY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/common/syscall_table.h"

namespace sandbox {

// The environment variable that carries the encoded policy across exec.
inline constexpr char kPolicyEnvVar[] = "SANDBOX_POLICY";

// How syscalls reach the runtime.
enum class InterceptMode : uint8_t {
  kAuto = 0,     // the best mechanism available
  kSignal = 1,   // every syscall through the SIGSYS handler
  kRewrite = 2,  // rewrite syscall sites; refuse to run if that cannot work
};

// What the runtime does with a syscall before (or instead of) running it.
// New actions (emulated results, injected faults) extend this list; the
// value field already carries their operand.
enum class RuleAction : uint8_t {
  kAllow = 0,  // run the syscall
  kDeny = 1,   // fail it with -value, never running it
};

// The rule for one syscall number.
struct SyscallRule {
  RuleAction action = RuleAction::kAllow;
  bool trace = false;  // print a trace line for it
  int64_t value = 0;   // the action's operand: the errno for kDeny
};

inline constexpr int kPolicyPathMax = 256;

// A complete policy. Trivially copyable, a fixed size.
struct Policy {
  InterceptMode mode = InterceptMode::kAuto;
  // Trace syscalls whose number is at or above kSyscallTableSize.
  bool trace_unknown = false;
  SyscallRule rules[kSyscallTableSize] = {};
  // The file trace lines are appended to, opened afresh for each line so
  // that the program's descriptor table holds nothing of the sandbox's;
  // empty when nothing is traced.
  char trace_path[kPolicyPathMax] = {};
  // Shared-memory counter file for --stats; empty when not counting.
  char stats_path[kPolicyPathMax] = {};

  // Returns the rule for syscall `nr`, or nullptr for a number outside the
  // table (those always run). Async-signal-safe.
  const SyscallRule* RuleFor(long nr) const {
    if (nr < 0 || nr >= kSyscallTableSize) return nullptr;
    return &rules[nr];
  }
  // True if any syscall is traced.
  bool TracesAnything() const;
};

// Encodes `policy` as one line of printable text without spaces.
std::string EncodePolicy(const Policy& policy);

// Decodes text made by EncodePolicy into *policy. Allocates nothing and is
// safe to call before the process's allocator is usable. On malformed text
// returns false and points *error at a static one-line reason.
bool DecodePolicy(std::string_view text, Policy* policy, const char** error);

}  // namespace sandbox

#endif  // SANDBOX_COMMON_POLICY_H_
