#include "sandbox/launcher/options.h"

#include <getopt.h>
#include <string.h>
#include <sys/syscall.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sandbox {
namespace {

enum LongOnly {
  kOptDeny = 256,
  kOptStats,
  kOptMode,
  kOptAllowUnsandboxed,
  kOptTrace,
  kOptVersion,
};

// `-e trace=SET`, `-e SET` (strace's shorthand) or `--trace=SET`.
absl::Status ApplyTraceExpression(absl::string_view expression,
                                  Policy* policy) {
  absl::string_view set = expression;
  if (size_t eq = expression.find('='); eq != absl::string_view::npos) {
    absl::string_view qualifier = expression.substr(0, eq);
    if (qualifier != "trace" && qualifier != "t") {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported -e qualifier '", qualifier,
                       "' (only trace= is supported)"));
    }
    set = expression.substr(eq + 1);
  }
  SyscallSet syscalls;
  std::string error;
  if (!ParseSyscallSet(std::string_view(set.data(), set.size()), &syscalls,
                       &error)) {
    return absl::InvalidArgumentError(error);
  }
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    policy->rules[nr].trace = syscalls.test(nr);
  }
  // `all` also covers numbers beyond the table.
  policy->trace_unknown = syscalls.all() || set == "all";
  return absl::OkStatus();
}

// `--deny NAME[,NAME...][=ERRNO]`.
absl::Status ApplyDeny(absl::string_view spec, Policy* policy) {
  int error = EPERM;
  absl::string_view names = spec;
  if (size_t eq = spec.find('='); eq != absl::string_view::npos) {
    names = spec.substr(0, eq);
    absl::StatusOr<int> parsed = ParseErrno(std::string(spec.substr(eq + 1)));
    if (!parsed.ok()) return parsed.status();
    error = *parsed;
  }
  if (names.empty()) {
    return absl::InvalidArgumentError("--deny needs a syscall name");
  }
  for (absl::string_view name : absl::StrSplit(names, ',')) {
    int nr = SyscallNumberByName(std::string_view(name.data(), name.size()));
    if (nr < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown syscall name '", name, "' in --deny"));
    }
    if (nr == SYS_rt_sigreturn) {
      return absl::InvalidArgumentError(
          "rt_sigreturn cannot be denied: every signal handler returns by it");
    }
    policy->rules[nr].action = RuleAction::kDeny;
    policy->rules[nr].value = error;
  }
  return absl::OkStatus();
}

}  // namespace

const char* LaunchUsage() {
  return R"(usage: sandbox [OPTIONS] [--] PROGRAM [ARGS...]

Runs PROGRAM with every one of its system calls intercepted in user space.

  -e trace=SET          trace the syscalls in SET: names, all, none, %file,
                        %process, %network, %signal, %memory, %desc, %ipc,
                        %creds, %clock, %stat, %statfs; !SET negates
  -o FILE               write the trace to FILE instead of stderr
  --deny=SYSCALLS[=ERR] make SYSCALLS (comma-separated) fail with ERR, an
                        errno name or number (default EPERM); repeatable
  --stats[=FILE]        at exit, write syscall counts as JSON to FILE or
                        stderr
  --mode=MODE           how syscalls reach the runtime: signal (every one
                        by SIGSYS), rewrite (hot syscall sites rewritten
                        into jumps; fail if that is unavailable) or auto
                        (rewrite where possible; the default)
  --allow-unsandboxed   run a program the runtime cannot reach (statically
                        linked, 32-bit, set-id) without interception, with a
                        warning, instead of refusing it
  -h, --help            show this help
  --version             show the version

Exit status: the program's own; 128+N if signal N killed it; 125 if the
sandbox failed; 126 if PROGRAM cannot be run; 127 if it is not found; 2 for
a bad command line.
)";
}

absl::StatusOr<int> ParseErrno(const std::string& text) {
  int number;
  if (absl::SimpleAtoi(text, &number)) {
    if (number > 0 && number < 4096) return number;
    return absl::InvalidArgumentError(
        absl::StrCat("errno number out of range: ", text));
  }
  for (int candidate = 1; candidate < 4096; ++candidate) {
    const char* name = strerrorname_np(candidate);
    if (name != nullptr && text == name) return candidate;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown errno name '", text, "'"));
}

absl::StatusOr<LaunchOptions> ParseLaunchOptions(int argc, char** argv) {
  static const struct option kLongOptions[] = {
      {"deny", required_argument, nullptr, kOptDeny},
      {"stats", optional_argument, nullptr, kOptStats},
      {"mode", required_argument, nullptr, kOptMode},
      {"allow-unsandboxed", no_argument, nullptr, kOptAllowUnsandboxed},
      {"trace", required_argument, nullptr, kOptTrace},
      {"output", required_argument, nullptr, 'o'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, kOptVersion},
      {nullptr, 0, nullptr, 0},
  };

  LaunchOptions options;
  optind = 1;
  opterr = 0;  // messages come from here, in one line
  for (;;) {
    // A leading '+' stops at the first non-option: the program's own
    // arguments are never ours. ':' reports a missing argument as ':'.
    int option = getopt_long(argc, argv, "+:e:o:h", kLongOptions, nullptr);
    if (option == -1) break;
    absl::Status status;
    switch (option) {
      case 'e':
      case kOptTrace:
        status = ApplyTraceExpression(optarg, &options.policy);
        break;
      case 'o':
        options.trace_output = optarg;
        break;
      case kOptDeny:
        status = ApplyDeny(optarg, &options.policy);
        break;
      case kOptStats:
        options.stats = true;
        options.stats_output = optarg != nullptr ? optarg : "";
        break;
      case kOptMode:
        if (absl::string_view(optarg) == "auto") {
          options.policy.mode = InterceptMode::kAuto;
        } else if (absl::string_view(optarg) == "signal") {
          options.policy.mode = InterceptMode::kSignal;
        } else if (absl::string_view(optarg) == "rewrite") {
          options.policy.mode = InterceptMode::kRewrite;
        } else {
          status = absl::InvalidArgumentError(
              absl::StrCat("unknown --mode '", optarg,
                           "' (expected auto, signal or rewrite)"));
        }
        break;
      case kOptAllowUnsandboxed:
        options.allow_unsandboxed = true;
        break;
      case 'h':
        options.show_help = true;
        return options;
      case kOptVersion:
        options.show_version = true;
        return options;
      case ':':
        return absl::InvalidArgumentError(
            absl::StrCat("option '", argv[optind - 1], "' needs an argument"));
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option '", argv[optind - 1], "'"));
    }
    if (!status.ok()) return status;
  }
  for (int i = optind; i < argc; ++i) options.command.push_back(argv[i]);
  if (options.command.empty()) {
    return absl::InvalidArgumentError("no program given (see --help)");
  }
  return options;
}

}  // namespace sandbox
