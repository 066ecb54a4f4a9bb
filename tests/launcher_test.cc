// The launcher's contract: exit statuses, refusal of programs the runtime
// cannot reach, policies that survive a cleared environment, the command
// line's errors and --help.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sandbox::testing {
namespace {

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// `sandbox args...`, with nothing added.
std::vector<std::string> Launcher(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SandboxPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// `text` as one single-quoted shell word.
std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Expects `text` to be exactly one newline-terminated line.
void ExpectOneLine(const std::string& text) {
  EXPECT_EQ(CountLines(text), 1) << text;
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << text;
}

TEST(LauncherTest, PassesExitStatusThrough) {
  for (int status : {0, 1, 7, 100, 255}) {
    for (const std::string& mode : InterceptionModes()) {
      CommandResult run = RunCommand(
          Sandboxed(mode, {}, {"sh", "-c", "exit " + std::to_string(status)}));
      EXPECT_EQ(run.exit_status, status) << mode << ": " << run.err;
      EXPECT_EQ(run.err, "") << mode;
    }
  }
}

TEST(LauncherTest, ReportsDeathBySignalAs128PlusN) {
  for (const std::string& mode : InterceptionModes()) {
    CommandResult term =
        RunCommand(Sandboxed(mode, {}, {"sh", "-c", "kill -TERM $$"}));
    EXPECT_EQ(term.exit_status, 143) << mode << ": " << term.err;
    CommandResult kill9 =
        RunCommand(Sandboxed(mode, {}, {"sh", "-c", "kill -KILL $$"}));
    EXPECT_EQ(kill9.exit_status, 137) << mode << ": " << kill9.err;
    CommandResult segv =
        RunCommand(Sandboxed(mode, {}, {"sh", "-c", "kill -SEGV $$"}));
    EXPECT_EQ(segv.exit_status, 139) << mode << ": " << segv.err;
  }
}

TEST(LauncherTest, ForwardsTerminationToProgram) {
  // SIGTERM to the launcher reaches the program, and the launcher reports
  // its death.
  for (const std::string& mode : InterceptionModes()) {
    std::string command;
    const std::string program =
        "trap 'kill $!; echo got TERM; exit 9' TERM; sleep 30 & wait";
    for (const std::string& arg : Sandboxed(mode, {}, {"sh", "-c", program})) {
      command += ShellQuote(arg) + " ";
    }
    // The program's trap proves the signal reached it: the launcher would
    // otherwise die itself, with status 143.
    CommandResult run = RunCommand(
        {"sh", "-c",
         command + "& pid=$!; sleep 0.5; kill -TERM $pid; wait $pid; echo $?"});
    EXPECT_EQ(run.exit_status, 0) << mode << ": " << run.err;
    EXPECT_EQ(run.out, "got TERM\n9\n") << mode << ": " << run.err;
  }
}

TEST(LauncherTest, ProgramNotFoundIs127WithOneLine) {
  for (const std::string& name : {std::string("no-such-program-anywhere"),
                                  MakeTempDir() + "/no-such-program"}) {
    CommandResult run = RunCommand(Launcher({"--", name}));
    EXPECT_EQ(run.exit_status, 127) << run.err;
    EXPECT_EQ(run.out, "");
    ExpectOneLine(run.err);
    EXPECT_EQ(run.err.rfind("sandbox: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(name), std::string::npos) << run.err;
  }
}

TEST(LauncherTest, NotExecutableIs126) {
  std::string dir = MakeTempDir();
  std::string script = dir + "/script.sh";
  std::ofstream(script) << "#!/bin/sh\ntouch " << dir << "/ran\n";
  ASSERT_EQ(chmod(script.c_str(), 0644), 0);

  CommandResult run = RunCommand(Launcher({"--", script}));
  EXPECT_EQ(run.exit_status, 126) << run.err;
  ExpectOneLine(run.err);
  EXPECT_EQ(run.err.rfind("sandbox: ", 0), 0u) << run.err;
  EXPECT_FALSE(FileExists(dir + "/ran"));

  // A directory cannot be run either.
  CommandResult directory = RunCommand(Launcher({"--", dir}));
  EXPECT_EQ(directory.exit_status, 126) << directory.err;
  ExpectOneLine(directory.err);
}

// Compiles a statically linked program into `dir` that creates the file
// `ran` in its working directory and says so. Returns false if the host
// cannot link statically.
bool BuildStaticProgram(const std::string& dir) {
  std::ofstream(dir + "/static.c") << "#include <stdio.h>\n"
                                      "int main(void) {\n"
                                      "  FILE* f = fopen(\"ran\", \"w\");\n"
                                      "  if (f != NULL) fclose(f);\n"
                                      "  puts(\"static ran\");\n"
                                      "  return 0;\n"
                                      "}\n";
  CommandResult compile =
      RunCommand({"cc", "-static", "-o", dir + "/static", dir + "/static.c"});
  return compile.exit_status == 0;
}

TEST(LauncherTest, RefusesStaticallyLinkedProgram) {
  std::string dir = MakeTempDir();
  if (!BuildStaticProgram(dir)) {
    GTEST_SKIP() << "cc -static failed (no static libc?)";
  }
  RunOptions in_dir;
  in_dir.cwd = dir;

  for (const std::string& mode : InterceptionModes()) {
    CommandResult refused =
        RunCommand(Sandboxed(mode, {}, {"./static"}), in_dir);
    EXPECT_EQ(refused.exit_status, 126) << mode << ": " << refused.err;
    EXPECT_EQ(refused.out, "");
    ExpectOneLine(refused.err);
    EXPECT_NE(refused.err.find("statically linked"), std::string::npos)
        << refused.err;
    EXPECT_FALSE(FileExists(dir + "/ran")) << mode;
  }

  CommandResult allowed =
      RunCommand(Launcher({"--allow-unsandboxed", "--", "./static"}), in_dir);
  EXPECT_EQ(allowed.exit_status, 0) << allowed.err;
  EXPECT_EQ(allowed.out, "static ran\n");
  EXPECT_NE(allowed.err.find("warning"), std::string::npos) << allowed.err;
  EXPECT_TRUE(FileExists(dir + "/ran"));
}

TEST(LauncherTest, StaticProgramExecedInsideSandboxDoesNotRun) {
  std::string dir = MakeTempDir();
  if (!BuildStaticProgram(dir)) {
    GTEST_SKIP() << "cc -static failed (no static libc?)";
  }
  RunOptions in_dir;
  in_dir.cwd = dir;

  // Natively the same command runs it, so the check below means something.
  std::string native_dir = MakeTempDir();
  ASSERT_TRUE(BuildStaticProgram(native_dir));
  RunOptions in_native_dir;
  in_native_dir.cwd = native_dir;
  CommandResult native = RunCommand({"sh", "-c", "./static"}, in_native_dir);
  ASSERT_EQ(native.exit_status, 0);
  ASSERT_TRUE(FileExists(native_dir + "/ran"));

  for (const std::string& mode : InterceptionModes()) {
    CommandResult run =
        RunCommand(Sandboxed(mode, {}, {"sh", "-c", "./static"}), in_dir);
    EXPECT_NE(run.exit_status, 0) << mode << ": " << run.err;
    EXPECT_EQ(run.out, "") << mode;
    EXPECT_FALSE(FileExists(dir + "/ran")) << mode;
  }
}

TEST(LauncherTest, DenySurvivesEmptyEnvironment) {
  CommandResult native = RunCommand({"env", "-i", "/bin/uname"});
  ASSERT_EQ(native.exit_status, 0);
  ASSERT_EQ(native.out, "Linux\n");

  for (const std::string& mode : InterceptionModes()) {
    CommandResult run = RunCommand(
        Sandboxed(mode, {"--deny", "uname"}, {"env", "-i", "/bin/uname"}));
    EXPECT_NE(run.exit_status, 0) << mode;
    EXPECT_EQ(run.out, "") << mode;
    EXPECT_NE(run.err.find("Operation not permitted"), std::string::npos)
        << mode << ": " << run.err;

    // And through a second exec after the environment was cleared.
    CommandResult nested = RunCommand(
        Sandboxed(mode, {"--deny", "uname"},
                  {"env", "-i", "/bin/sh", "-c", "/bin/uname; echo $?"}));
    EXPECT_EQ(nested.exit_status, 0) << mode << ": " << nested.err;
    EXPECT_NE(nested.out, "Linux\n0\n") << mode;
    EXPECT_NE(nested.err.find("Operation not permitted"), std::string::npos)
        << mode << ": " << nested.err;
  }
}

TEST(LauncherTest, BadCommandLinesExit2WithOneLineAndRunNothing) {
  const std::vector<std::vector<std::string>> bad_options = {
      {"--no-such-option"},
      {"-q"},
      {"--deny=no_such_syscall"},
      {"--deny", "uname,no_such_syscall"},
      {"--deny=uname=ENOSUCHERRNO"},
      {"--deny=uname=0"},
      {"--deny==EPERM"},
      {"--mode=fast"},
      {"--mode="},
      {"-e", "trace=%nosuchclass"},
      {"-e", "trace=no_such_syscall"},
      {"-e", "verbose=all"},
  };
  for (const std::vector<std::string>& options : bad_options) {
    std::string dir = MakeTempDir();
    std::string marker = dir + "/ran";
    std::vector<std::string> args = options;
    args.insert(args.end(), {"--", "touch", marker});
    CommandResult run = RunCommand(Launcher(args));
    std::string what;
    for (const std::string& option : options) what += option + " ";
    EXPECT_EQ(run.exit_status, 2) << what << ": " << run.err;
    EXPECT_EQ(run.out, "") << what;
    ExpectOneLine(run.err);
    EXPECT_EQ(run.err.rfind("sandbox: ", 0), 0u) << what << ": " << run.err;
    EXPECT_FALSE(FileExists(marker)) << what;
  }

  // No program at all, or an option that lacks its argument.
  const std::vector<std::vector<std::string>> no_program = {
      {}, {"--"}, {"--deny=uname"}, {"--deny"}, {"-e"}, {"-o"}, {"--mode"}};
  for (const std::vector<std::string>& args : no_program) {
    CommandResult run = RunCommand(Launcher(args));
    std::string what = args.empty() ? "(nothing)" : args[0];
    EXPECT_EQ(run.exit_status, 2) << what << ": " << run.err;
    EXPECT_EQ(run.out, "") << what;
    ExpectOneLine(run.err);
    EXPECT_EQ(run.err.rfind("sandbox: ", 0), 0u) << what << ": " << run.err;
  }
}

TEST(LauncherTest, UnwritableTraceFileIsASandboxFailure) {
  std::string dir = MakeTempDir();
  CommandResult run =
      RunCommand(Launcher({"-e", "trace=all", "-o", dir + "/missing/trace",
                           "--", "touch", dir + "/ran"}));
  EXPECT_EQ(run.exit_status, 125) << run.err;
  ExpectOneLine(run.err);
  EXPECT_FALSE(FileExists(dir + "/ran"));
}

TEST(LauncherTest, RuntimeThatIsNotTheRuntimeRunsNothing) {
  // The loader would skip a preload it cannot use with a warning at most,
  // and the program would run unintercepted: the launcher must refuse.
  std::string dir = MakeTempDir();
  std::ofstream(dir + "/text.so") << "not a library\n";
  const std::vector<std::string> wrong = {
      "",
      dir + "/missing.so",
      dir,
      dir + "/text.so",
      "/lib/x86_64-linux-gnu/libc.so.6",
  };
  for (const std::string& runtime : wrong) {
    RunOptions options;
    options.extra_env = {"SANDBOX_RUNTIME=" + runtime};
    CommandResult run = RunCommand(
        Launcher({"--deny", "uname", "--", "touch", dir + "/ran"}), options);
    EXPECT_EQ(run.exit_status, 125) << runtime << ": " << run.err;
    ExpectOneLine(run.err);
    EXPECT_NE(run.err.find("SANDBOX_RUNTIME"), std::string::npos) << run.err;
    EXPECT_FALSE(FileExists(dir + "/ran")) << runtime;
  }
  // The real runtime, named by a relative path, is found and used.
  RunOptions options;
  std::string launcher = SandboxPath();
  options.cwd = launcher.substr(0, launcher.rfind('/'));
  options.extra_env = {"SANDBOX_RUNTIME=./libsandbox.so"};
  CommandResult run =
      RunCommand(Launcher({"--deny", "uname", "--", "uname"}), options);
  EXPECT_EQ(run.exit_status, 1) << run.err;
  EXPECT_NE(run.err.find("Operation not permitted"), std::string::npos)
      << run.err;
}

TEST(LauncherTest, HelpPrintsUsageToStdout) {
  for (const char* flag : {"--help", "-h"}) {
    std::string dir = MakeTempDir();
    CommandResult run =
        RunCommand(Launcher({flag, "--", "touch", dir + "/ran"}));
    EXPECT_EQ(run.exit_status, 0) << flag;
    EXPECT_EQ(run.out.rfind("usage: sandbox ", 0), 0u) << run.out;
    for (const char* option :
         {"-e trace=SET", "-o FILE", "--deny=", "--stats",
          "--mode=", "--allow-unsandboxed", "Exit status"}) {
      EXPECT_NE(run.out.find(option), std::string::npos) << option;
    }
    EXPECT_EQ(run.err, "") << flag;
    EXPECT_FALSE(FileExists(dir + "/ran")) << flag;
  }
}

}  // namespace
}  // namespace sandbox::testing
