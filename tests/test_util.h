// Helpers for tests that run real programs, natively and under the built
// `sandbox` launcher, and compare what they observe.
#ifndef SANDBOX_TESTS_TEST_UTIL_H_
#define SANDBOX_TESTS_TEST_UTIL_H_

#include <string>
#include <vector>

namespace sandbox::testing {

// What a finished command did.
struct CommandResult {
  int exit_status = -1;  // its exit code, or 128+N if signal N killed it
  std::string out;       // everything it wrote to stdout
  std::string err;       // everything it wrote to stderr
};

// Options for RunCommand.
struct RunOptions {
  std::string stdin_data;              // fed to the command's stdin
  std::string cwd;                     // working directory; empty: inherit
  std::vector<std::string> extra_env;  // NAME=VALUE entries to add
  int timeout_seconds = 120;           // killed (by pid) after this long
};

// Runs argv[0] (looked up in PATH) with the arguments and returns its exit
// status and output. The command runs in a new process; the test process is
// never changed by it.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const RunOptions& options = {});

// The built launcher, e.g. build/bin/sandbox.
std::string SandboxPath();

// A test program built beside the launcher (tests/programs/NAME.cc).
std::string TestProgramPath(const std::string& name);

// `sandbox --mode=MODE [sandbox_args...] -- command...`.
std::vector<std::string> Sandboxed(const std::string& mode,
                                   const std::vector<std::string>& sandbox_args,
                                   const std::vector<std::string>& command);

// The interception modes every integration test runs under.
std::vector<std::string> InterceptionModes();

// Makes a fresh empty directory under the test's temporary directory.
std::string MakeTempDir();

}  // namespace sandbox::testing

#endif  // SANDBOX_TESTS_TEST_UTIL_H_
