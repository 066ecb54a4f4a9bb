// The launcher's command line: `sandbox [OPTIONS] [--] PROGRAM [ARGS...]`.
#ifndef SANDBOX_LAUNCHER_OPTIONS_H_
#define SANDBOX_LAUNCHER_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/common/policy.h"

namespace sandbox {

// Everything the command line asks for.
struct LaunchOptions {
  Policy policy;  // trace and stats paths not yet filled
  std::optional<std::string> trace_output;  // -o FILE; stderr when unset
  bool stats = false;                       // --stats given
  std::string stats_output;                 // --stats=FILE; stderr when empty
  bool allow_unsandboxed = false;           // --allow-unsandboxed
  bool show_help = false;
  bool show_version = false;
  std::vector<std::string> command;  // PROGRAM and its arguments
};

// Parses argv (argv[0] is the launcher). Returns InvalidArgument with a
// one-line message for a bad option, an unknown syscall or errno name, or a
// missing program.
absl::StatusOr<LaunchOptions> ParseLaunchOptions(int argc, char** argv);

// Parses an errno given by name ("EACCES") or number ("13"); returns
// InvalidArgument for anything else.
absl::StatusOr<int> ParseErrno(const std::string& text);

// The --help text.
const char* LaunchUsage();

}  // namespace sandbox

#endif  // SANDBOX_LAUNCHER_OPTIONS_H_
