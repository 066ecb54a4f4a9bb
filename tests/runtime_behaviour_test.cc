// The runtime's guarantees, checked with the programs in tests/programs,
// each run natively and under the sandbox in every interception mode.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sandbox::testing {
namespace {

class RuntimeBehaviourTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs a test program under the sandbox with `sandbox_args`.
  CommandResult RunSandboxed(const std::string& program,
                             const std::vector<std::string>& sandbox_args,
                             const std::vector<std::string>& args = {}) {
    std::vector<std::string> command = {TestProgramPath(program)};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(Sandboxed(GetParam(), sandbox_args, command));
  }
  CommandResult RunNative(const std::string& program,
                          const std::vector<std::string>& args = {}) {
    std::vector<std::string> command = {TestProgramPath(program)};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }
};

TEST_P(RuntimeBehaviourTest, EveryKindOfThreadIsDenied) {
  CommandResult native = RunNative("raw_threads");
  ASSERT_EQ(native.exit_status, 0) << native.err;
  EXPECT_EQ(native.out, "threads=48 ok=48 eperm=0 other=0\n");

  CommandResult denied = RunSandboxed("raw_threads", {"--deny", "uname"});
  ASSERT_EQ(denied.exit_status, 0) << denied.err;
  EXPECT_EQ(denied.out, "threads=48 ok=0 eperm=48 other=0\n");

  // Allowed, the same threads see the real answer.
  CommandResult allowed = RunSandboxed("raw_threads", {});
  ASSERT_EQ(allowed.exit_status, 0) << allowed.err;
  EXPECT_EQ(allowed.out, native.out);
}

TEST_P(RuntimeBehaviourTest, ProgramKeepsItsOwnSigsys) {
  CommandResult native = RunNative("own_sigsys");
  ASSERT_EQ(native.exit_status, 0) << native.err;
  CommandResult allowed = RunSandboxed("own_sigsys", {});
  ASSERT_EQ(allowed.exit_status, 0) << allowed.err;
  EXPECT_EQ(allowed.out, native.out);

  CommandResult denied = RunSandboxed("own_sigsys", {"--deny=uname"});
  ASSERT_EQ(denied.exit_status, 0) << denied.err;
  EXPECT_EQ(denied.out,
            "after raise: handler_runs=1 code_is_tkill=1\n"
            "readback: is_ours=1 siginfo=1 restart=1 usr2_in_mask=1\n"
            "blocked one: sigsys_blocked=1 uname=EPERM getpid_ok=1\n"
            "blocked all: sigsys_blocked=1 uname=EPERM\n"
            "full mask members=60\n"
            "raised while blocked: handler_runs=1\n"
            "unblocked: handler_runs=2 sigsys_blocked=0 uname=EPERM\n"
            "ignored: handler_runs=2 uname=EPERM\n"
            "readback ignored: 1\n");
}

TEST_P(RuntimeBehaviourTest, VforkAndPosixSpawnChildrenAreDenied) {
  CommandResult native = RunNative("vfork_spawn");
  ASSERT_EQ(native.exit_status, 0) << native.out << native.err;
  EXPECT_EQ(native.out,
            "vfork: allowed=20 denied=0 other=0\n"
            "vfork exec: status=0\n"
            "posix_spawn uname: exit=0\n");

  CommandResult denied = RunSandboxed("vfork_spawn", {"--deny=uname"});
  ASSERT_EQ(denied.exit_status, 0) << denied.out << denied.err;
  EXPECT_EQ(denied.out,
            "vfork: allowed=0 denied=20 other=0\n"
            "vfork exec: status=0\n"
            "posix_spawn uname: exit=1\n");
}

TEST_P(RuntimeBehaviourTest, TimerSignalsDuringSyscallLoop) {
  CommandResult result = RunSandboxed("timer_storm", {});
  ASSERT_EQ(result.exit_status, 0) << result.out << result.err;
  EXPECT_EQ(result.out, "loop_errors=0 handler_errors=0 ticked=1\n");
}

TEST_P(RuntimeBehaviourTest, RegistersAndRedZoneSurviveSyscalls) {
  CommandResult native = RunNative("registers");
  if (native.exit_status == 77) GTEST_SKIP() << native.out;
  ASSERT_EQ(native.exit_status, 0) << native.out;
  CommandResult result = RunSandboxed("registers", {});
  ASSERT_EQ(result.exit_status, 0) << result.out << result.err;
  EXPECT_EQ(result.out, "registers: 20000 syscalls, 0 differences\n");
}

TEST_P(RuntimeBehaviourTest, UnknownSyscallNumbersFailWithEnosys) {
  CommandResult native = RunNative("enosys");
  ASSERT_EQ(native.exit_status, 0);
  EXPECT_EQ(native.out,
            "syscall -1: -38 ENOSYS\n"
            "syscall 1000: -38 ENOSYS\n"
            "syscall 1048576: -38 ENOSYS\n"
            "syscall 2147483647: -38 ENOSYS\n");
  CommandResult result = RunSandboxed("enosys", {"-e", "trace=all"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, native.out);
  EXPECT_NE(result.err.find("syscall_1000("), std::string::npos) << result.err;
}

TEST_P(RuntimeBehaviourTest, ProgramSignalHandlingIsUnchanged) {
  CommandResult native = RunNative("signal_semantics");
  ASSERT_EQ(native.exit_status, 0);
  EXPECT_EQ(native.out,
            "read with SA_RESTART: 1\n"
            "read without SA_RESTART: EINTR\n"
            "altstack: handler_on_it=1 siginfo_ok=1 readback_ok=1\n"
            "siglongjmp: jumps=1000 usr2_blocked_after=0 pid_ok=1\n"
            "uc_sigmask edit outlives the handler: 1\n");
  CommandResult result = RunSandboxed("signal_semantics", {});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, native.out);
}

TEST_P(RuntimeBehaviourTest, SeccompTrapsReachTheProgramsHandler) {
  CommandResult native = RunNative("seccomp_trap");
  ASSERT_EQ(native.exit_status, 0) << native.err;
  EXPECT_EQ(native.out,
            "seccomp: answers=1000 traps=1000 wrong_info=0 pid_ok=1\n");
  CommandResult result = RunSandboxed("seccomp_trap", {});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, native.out);
}

TEST_P(RuntimeBehaviourTest, ThreadRecordsAreRecycledAndForkWorks) {
  CommandResult result = RunSandboxed("thread_churn", {"--deny=uname"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "threads=10000 sum=20000\nfork child exit=0\n");
}

TEST_P(RuntimeBehaviourTest, UnhandledSigsysKillsAsNatively) {
  std::vector<std::string> command = {"sh", "-c", "kill -SYS $$; echo alive"};
  CommandResult native = RunCommand(command);
  CommandResult result = RunCommand(Sandboxed(GetParam(), {}, command));
  EXPECT_EQ(native.exit_status, 128 + 31);
  EXPECT_EQ(result.exit_status, native.exit_status) << result.err;
  EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(Modes, RuntimeBehaviourTest,
                         ::testing::ValuesIn(InterceptionModes()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sandbox::testing
