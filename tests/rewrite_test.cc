// The fast path: syscall sites rewritten into jumps must behave exactly as
// the syscall instruction does. Each test runs a program from
// tests/programs natively and under the sandbox in every interception
// mode, compares what it observed, and proves that the sites went through
// the fast path where they should (modes rewrite and auto) and stayed on
// the signal path where they must. Every test runs twice per mode: with
// --stats, whose counters prove the path taken but make every rewritten
// site enter the runtime to be counted, and without, where sites of
// syscalls the runtime lets through untouched get direct trampolines; the
// test program then reports which of its sites were rewritten.
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sandbox::testing {
namespace {

// What a sandboxed run did, with the counters it left.
struct StatsRun {
  CommandResult result;
  std::string stats;  // the --stats JSON
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The number after `"key": ` in the --stats JSON, or -1 when absent.
long StatValue(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\": ";
  size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  return strtol(json.c_str() + at + needle.size(), nullptr, 10);
}

// A mode, and whether the run keeps statistics.
struct RewriteParam {
  std::string mode;
  bool counted;
};

// Names the parameter in test listings.
void PrintTo(const RewriteParam& param, std::ostream* out) {
  *out << param.mode << (param.counted ? " with --stats" : " without --stats");
}

// The count after `label` in a test program's stderr, or -1 when it
// printed none.
long ReportedCount(const std::string& err, const std::string& label) {
  size_t at = err.rfind(label);
  if (at == std::string::npos) return -1;
  return strtol(err.c_str() + at + label.size(), nullptr, 10);
}

// Which trampolines a test expects its rewritten sites to have when no
// statistics are kept.
enum class Trampolines {
  kDirect,    // the policy lets the syscalls through untouched
  kEntering,  // the runtime has to see each call
};

class RewriteTest : public ::testing::TestWithParam<RewriteParam> {
 protected:
  // Whether this mode rewrites sites (auto picks rewriting where the
  // kernel has what it needs, as every machine these tests run on does).
  bool Rewrites() const { return GetParam().mode != "signal"; }
  // Whether this run has --stats, and so counters to check.
  bool Counted() const { return GetParam().counted; }

  CommandResult RunNative(const std::string& program,
                          const std::vector<std::string>& args) {
    std::vector<std::string> command = {TestProgramPath(program)};
    command.insert(command.end(), args.begin(), args.end());
    return RunCommand(command);
  }

  // Runs a test program under the sandbox in this test's mode with
  // `sandbox_args`, and --stats when counted.
  StatsRun RunSandboxed(const std::string& program,
                        const std::vector<std::string>& args,
                        std::vector<std::string> sandbox_args = {}) {
    std::string stats_path = MakeTempDir() + "/stats.json";
    if (Counted()) sandbox_args.push_back("--stats=" + stats_path);
    std::vector<std::string> command = {TestProgramPath(program)};
    command.insert(command.end(), args.begin(), args.end());
    StatsRun run;
    run.result = RunCommand(Sandboxed(GetParam().mode, sandbox_args, command));
    if (Counted()) run.stats = ReadFile(stats_path);
    return run;
  }

  // Expects at least `at_least` syscalls by the fast path when this mode
  // rewrites, and none otherwise. Uncounted, expects the program's own
  // report of rewritten sites to say the same, where it makes one, with
  // every rewritten site's trampoline of the kind `kind`.
  void ExpectFastPath(const StatsRun& run, long at_least,
                      Trampolines kind = Trampolines::kDirect) {
    if (!Counted()) {
      long sites = ReportedCount(run.result.err, "rewritten sites: ");
      long direct = ReportedCount(run.result.err, " direct: ");
      if (sites < 0) return;
      if (Rewrites() && at_least > 0) {
        EXPECT_GT(sites, 0) << run.result.err;
      } else if (!Rewrites()) {
        EXPECT_EQ(sites, 0) << run.result.err;
      }
      EXPECT_EQ(direct, kind == Trampolines::kDirect ? sites : 0)
          << run.result.err;
      return;
    }
    long fast = StatValue(run.stats, "via_fast_path");
    if (Rewrites()) {
      EXPECT_GE(fast, at_least) << run.stats;
    } else {
      EXPECT_EQ(fast, 0) << run.stats;
    }
  }

  // Expects counter `key` to be at least `at_least`, when counted.
  void ExpectCountAtLeast(const StatsRun& run, const std::string& key,
                          long at_least) {
    if (Counted()) {
      EXPECT_GE(StatValue(run.stats, key), at_least) << run.stats;
    }
  }

  // Runs `program args` natively and sandboxed, expects both to succeed
  // with the same output, and returns the sandboxed run.
  StatsRun RunBothAndCompare(const std::string& program,
                             const std::vector<std::string>& args,
                             const std::vector<std::string>& sandbox_args) {
    CommandResult native = RunNative(program, args);
    EXPECT_EQ(native.exit_status, 0) << native.out << native.err;
    StatsRun run = RunSandboxed(program, args, sandbox_args);
    EXPECT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
    EXPECT_EQ(run.result.out, native.out);
    return run;
  }
};

TEST_P(RewriteTest, RegistersFlagsAndRedZoneSurviveRewrittenSite) {
  CommandResult native = RunNative("fast_path_threads", {"registers"});
  if (native.exit_status == 77) GTEST_SKIP() << native.out;
  ASSERT_EQ(native.exit_status, 0) << native.out;
  ASSERT_EQ(native.out, "registers: 20000 syscalls, 0 differences\n");

  StatsRun run = RunSandboxed("fast_path_threads", {"registers"});
  EXPECT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_EQ(run.result.out, native.out);
  ExpectCountAtLeast(run, "getppid", 20000);
  // Only the site's first execution traps; the rest jump.
  ExpectFastPath(run, 19990);
}

TEST_P(RewriteTest, EightThreadsRewriteFreshSitesTogether) {
  // The race is in the first moments of each run and is lost only now and
  // then: repeat it.
  int runs = Rewrites() ? 10 : 1;
  for (int i = 0; i < runs; ++i) {
    StatsRun run = RunSandboxed("fast_path_threads", {"threads"});
    ASSERT_EQ(run.result.exit_status, 0)
        << "run " << i << ": " << run.result.out << run.result.err;
    EXPECT_EQ(run.result.out, "threads: 8 threads, 3712000 calls, 0 wrong\n");
    // Calls that meet a site while another thread rewrites it take the
    // signal path, and on two cores a rewriting thread can lose its core
    // for a whole time slice: ask for 98% by the fast path, not all.
    ExpectFastPath(run, 3712000 * 98 / 100);
  }
}

TEST_P(RewriteTest, JitSitesOnWritableExecutablePagesStayOnSignalPath) {
  StatsRun run = RunBothAndCompare("jit_sites", {"rwx"}, {});
  EXPECT_EQ(run.result.out.find("changed"), std::string::npos);
  EXPECT_NE(run.result.out.find("failures=0\n"), std::string::npos);
  // Four times 1000 runs of sites on an rwx page: never by a jump.
  ExpectCountAtLeast(run, "via_signal", 4000);
  if (Rewrites()) {
    if (Counted()) {
      EXPECT_LT(StatValue(run.stats, "via_fast_path"), 200) << run.stats;
    }
  } else {
    ExpectFastPath(run, 0);
  }
}

TEST_P(RewriteTest, JitSitesOnWriteXorExecutePagesAnswerAfterChanges) {
  StatsRun run = RunBothAndCompare("jit_sites", {"wx"}, {});
  EXPECT_EQ(run.result.out.find("changed"), std::string::npos);
  // Five times 1000 runs while read-and-execute; the 1000 while rwx and the
  // 1000 with an out-of-table number trap.
  ExpectFastPath(run, 4990);
  ExpectCountAtLeast(run, "via_signal", 2000);
}

TEST_P(RewriteTest, JitSitesAnswerAfterUnmapReplaceAndMove) {
  StatsRun run = RunBothAndCompare("jit_sites", {"remap"}, {});
  EXPECT_EQ(run.result.out.find("changed"), std::string::npos);
  // Eight times 1000 runs, each of fresh or moved code.
  ExpectFastPath(run, 7990);
}

// What other rewriters got wrong: code that only ends like a site, a site
// split across two mappings, mremap onto rewritten code, code discarded
// with madvise, and a page unmapped while another thread rewrites a site
// on it. Each must behave as natively.
TEST_P(RewriteTest, JitSitesHazardsBehaveAsNatively) {
  StatsRun run = RunBothAndCompare("jit_sites", {"hazards"}, {});
  EXPECT_EQ(run.result.out.find("WRONG"), std::string::npos) << run.result.out;
  EXPECT_NE(run.result.out.find("failures=0\n"), std::string::npos);
}

// mprotect, munmap and mmap act on whole pages: a length that ends before
// a site on the same page still makes it writable or takes it away.
TEST_P(RewriteTest, JitSitesWithUnalignedMappingLengths) {
  StatsRun run = RunBothAndCompare("jit_sites", {"unaligned"}, {});
  EXPECT_EQ(run.result.out.find("changed"), std::string::npos);
  ExpectFastPath(run, 4990);
}

TEST_P(RewriteTest, DlopenedLibrarySitesAnswerAfterReload) {
  // The libraries are built here, since the project's build cannot be
  // changed for a test: with the system's C compiler, when there is one.
  std::string dir = MakeTempDir();
  std::string source = dir + "/site.c";
  std::ofstream(source) << "__asm__(\".text\\n.globl site_call\\n"
                           ".type site_call, @function\\nsite_call:\\n"
                           "movl $\" NR \", %eax\\nsyscall\\nret\\n"
                           ".size site_call, . - site_call\\n\");\n";
  std::vector<std::string> libraries;
  for (std::string nr : {"110", "39"}) {
    std::string library = dir + "/libsite" + nr + ".so";
    CommandResult built =
        RunCommand({"cc", "-shared", "-fPIC", "-O1", "-DNR=\"" + nr + "\"",
                    "-o", library, source});
    if (built.exit_status == 127) GTEST_SKIP() << "no C compiler (cc)";
    ASSERT_EQ(built.exit_status, 0) << built.err;
    libraries.push_back(library);
  }

  StatsRun run = RunBothAndCompare("jit_sites",
                                   {"dlopen", libraries[0], libraries[1]}, {});
  EXPECT_EQ(run.result.out,
            "dlopen first: perms=r-xp right=1000/1000\n"
            "dlopen again: perms=r-xp right=1000/1000\n"
            "dlopen other: perms=r-xp right=1000/1000\n"
            "dlopen moved: perms=r-xp right=1000/1000\n"
            "dlopen: blocked=1 moved=1\n"
            "failures=0\n");
  ExpectFastPath(run, 3990);
}

TEST_P(RewriteTest, MmapMinAddrIsUnchanged) {
  const std::string kPath = "/proc/sys/vm/mmap_min_addr";
  std::string before = ReadFile(kPath);
  ASSERT_FALSE(before.empty());
  for (const char* program_mode : {"registers", "threads", "fork"}) {
    StatsRun run = RunSandboxed("fast_path_threads", {program_mode});
    EXPECT_TRUE(run.result.exit_status == 0 || run.result.exit_status == 77)
        << program_mode << ": " << run.result.out << run.result.err;
    EXPECT_EQ(ReadFile(kPath), before) << "after " << program_mode;
  }
  for (const char* program_mode : {"wx", "remap"}) {
    StatsRun run = RunSandboxed("jit_sites", {program_mode});
    EXPECT_EQ(ReadFile(kPath), before) << "after " << program_mode;
  }
}

TEST_P(RewriteTest, ForkedChildAndExecUseRewrittenSites) {
  const std::string kExpected =
      "parent before fork: ok=1 thread_ok=1\n"
      "child: ok=1\n"
      "child exit=0\n"
      "second child: ok=1 first exec errno=2\n"
      "loop: 100 calls, ok=100 eperm=0 other=0\n"
      "second child exit=0\n"
      "parent after fork: ok=1\n";
  StatsRun run = RunBothAndCompare("fast_path_threads", {"fork"}, {});
  EXPECT_EQ(run.result.out, kExpected);
  // Five times 1000 getpid and 1000 write calls at the two sites.
  ExpectFastPath(run, 9990);

  // The exec that went by the fast path still ran its program sandboxed.
  StatsRun denied =
      RunSandboxed("fast_path_threads", {"fork"}, {"--deny=getppid"});
  EXPECT_EQ(denied.result.exit_status, 0) << denied.result.err;
  std::string expected_denied = kExpected;
  expected_denied.replace(expected_denied.find("ok=100 eperm=0"), 14,
                          "ok=0 eperm=100");
  EXPECT_EQ(denied.result.out, expected_denied);
}

TEST_P(RewriteTest, DenyPolicyAppliesThroughRewrittenSite) {
  CommandResult native = RunNative("fast_path_threads", {"loop"});
  ASSERT_EQ(native.exit_status, 0) << native.err;
  EXPECT_EQ(native.out, "loop: 20000 calls, ok=20000 eperm=0 other=0\n");
  StatsRun run =
      RunSandboxed("fast_path_threads", {"loop"}, {"--deny", "getppid"});
  ASSERT_EQ(run.result.exit_status, 0) << run.result.err;
  EXPECT_EQ(run.result.out, "loop: 20000 calls, ok=0 eperm=20000 other=0\n");
  if (Counted()) {
    EXPECT_EQ(StatValue(run.stats, "getppid"), 20000) << run.stats;
  }
  ExpectFastPath(run, 19990, Trampolines::kEntering);
}

TEST_P(RewriteTest, TracePolicyReportsEveryCallThroughRewrittenSite) {
  std::string trace_path = MakeTempDir() + "/trace.txt";
  StatsRun run = RunBothAndCompare("fast_path_threads", {"loop"},
                                   {"-e", "trace=getppid", "-o", trace_path});
  EXPECT_EQ(run.result.out, "loop: 20000 calls, ok=20000 eperm=0 other=0\n");
  std::ifstream trace(trace_path);
  std::string line;
  int lines = 0, getppid_lines = 0;
  while (std::getline(trace, line)) {
    ++lines;
    getppid_lines += line.find(" getppid() = ") != std::string::npos;
  }
  EXPECT_EQ(lines, 20000);
  EXPECT_EQ(getppid_lines, 20000);
  ExpectFastPath(run, 19990, Trampolines::kEntering);
}

TEST_P(RewriteTest, TimerSignalsArriveInsideFastPath) {
  StatsRun run = RunSandboxed("fast_path_threads", {"timer"});
  ASSERT_EQ(run.result.exit_status, 0) << run.result.out << run.result.err;
  EXPECT_EQ(run.result.out, "timer: loop_errors=0 handler_errors=0 ticked=1\n");
  ExpectFastPath(run, 199000);
}

TEST_P(RewriteTest, SiglongjmpOutOfReadBlockedAtRewrittenSite) {
  StatsRun run = RunBothAndCompare("fast_path_threads", {"longjmp"}, {});
  EXPECT_EQ(run.result.out,
            "longjmp: jumps=100 returned=0 alrm_blocked=0 read_after=1\n");
  // 99 of the interrupted reads and the last one jump; the timer is armed
  // through a site that is never rewritten.
  ExpectFastPath(run, 100);
}

TEST_P(RewriteTest, ForkWhileAnotherThreadRewritesLeavesNoHalfRewrittenSite) {
  // A fork copies the address space as it is: a site another thread has
  // just made an int3 must not reach the child like that.
  for (int run = 0; run < 3; ++run) {
    StatsRun run_result =
        RunBothAndCompare("fast_path_threads", {"forkrace"}, {});
    EXPECT_EQ(run_result.result.out, "forkrace: forks=8 hung=0 bad=0\n");
  }
}

TEST_P(RewriteTest, PthreadCancelUnwindsFromSleepAtRewrittenSite) {
  // The unwinder starts at the signal frame of the cancellation, in the
  // runtime's code (the gateway or the fast entry), and must find its way
  // back into the program through their unwind tables.
  StatsRun run = RunBothAndCompare("cancel_sleeper", {}, {});
  EXPECT_EQ(run.result.out, "cancelled=1 destructor=1 cleanup=1\n");
  // libc's clock_nanosleep site: 21 sleeps, the first of which traps.
  ExpectFastPath(run, 20);
}

std::vector<RewriteParam> RewriteParams() {
  std::vector<RewriteParam> params;
  for (const std::string& mode : InterceptionModes()) {
    params.push_back({mode, /*counted=*/true});
    params.push_back({mode, /*counted=*/false});
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(Modes, RewriteTest,
                         ::testing::ValuesIn(RewriteParams()),
                         [](const auto& info) {
                           return info.param.mode + (info.param.counted
                                                         ? "_counted"
                                                         : "_uncounted");
                         });

}  // namespace
}  // namespace sandbox::testing
