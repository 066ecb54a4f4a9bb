// sandbox-ckpt against real processes started detached (setsid, stdio on
// /dev/null, no other descriptors), each checked through its own log.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sandbox::testing {
namespace {

std::string CkptPath() { return TestProgramPath("sandbox-ckpt"); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process this test started, ended (by its id) when the test is done.
class Detached {
 public:
  // Starts argv in a new session with stdio on /dev/null. With
  // `extra_socket`, the process also holds one end of a socket pair.
  explicit Detached(const std::vector<std::string>& argv,
                    bool extra_socket = false) {
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (std::string& arg : copy) args.push_back(arg.data());
    args.push_back(nullptr);
    int sockets[2] = {-1, -1};
    if (extra_socket) socketpair(AF_UNIX, SOCK_STREAM, 0, sockets);
    pid_ = fork();
    if (pid_ == 0) {
      // Between fork and exec: async-signal-safe calls only.
      setsid();
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      if (extra_socket) {
        dup2(sockets[0], 3);
        close_range(4, ~0U, 0);
      } else {
        close_range(3, ~0U, 0);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    if (extra_socket) {
      close(sockets[0]);
      close(sockets[1]);
    }
  }
  ~Detached() { Kill(); }
  pid_t pid() const { return pid_; }
  // Makes `child`, a child of this process (a process it restored), end
  // with it. Held by a pidfd, so that a child already gone and its id
  // reused is never signalled.
  void EndChildToo(pid_t child) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
    if (pidfd < 0) return;
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)),
                     std::istreambuf_iterator<char>());
    // The parent's id is the second field after the command's ")".
    size_t close_paren = text.rfind(')');
    int parent = close_paren == std::string::npos
                     ? -1
                     : atoi(text.c_str() + close_paren + 4);
    if (parent != pid_) {
      close(pidfd);
      return;
    }
    if (child_pidfd_ >= 0) close(child_pidfd_);
    child_pidfd_ = pidfd;
  }
  // True while the process has not exited.
  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  // Waits for the process to exit; returns its status as a shell shows it.
  int Wait() {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Kill() {
    if (child_pidfd_ >= 0) {
      syscall(SYS_pidfd_send_signal, child_pidfd_, SIGKILL, nullptr, 0);
      close(child_pidfd_);
      child_pidfd_ = -1;
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int child_pidfd_ = -1;
};

// Waits until `path` holds at least `count` lines matching `pattern`.
bool WaitForLines(const std::string& path, const std::string& pattern,
                  int count, int timeout_ms = 5000) {
  std::regex re(pattern);
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    std::istringstream lines(ReadFile(path));
    std::string line;
    int matched = 0;
    while (std::getline(lines, line)) matched += std::regex_search(line, re);
    if (matched >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int CountLines(const std::string& path, const std::string& pattern) {
  std::regex re(pattern);
  std::istringstream lines(ReadFile(path));
  std::string line;
  int matched = 0;
  while (std::getline(lines, line)) matched += std::regex_search(line, re);
  return matched;
}

// The program a `sandbox` launcher runs: its one child.
pid_t ProgramOf(pid_t launcher) {
  std::string id = std::to_string(launcher);
  return std::stoi(ReadFile("/proc/" + id + "/task/" + id + "/children"));
}

// Checks the log of `sud_ticker LOG sleep`: its one 2-second nanosleep
// returned 0 after at least 2 seconds.
void ExpectSleptTwoSecondsWithoutError(const std::string& log) {
  std::smatch match;
  std::string text = ReadFile(log);
  ASSERT_TRUE(
      std::regex_search(text, match, std::regex("slept ([0-9.]+) result 0 ok")))
      << text;
  EXPECT_GE(std::stod(match[1]), 1.99);
}

CommandResult Ckpt(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {CkptPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// The "sud" objects of every thread in `show --json`, in order.
std::vector<std::string> SudConfigs(const std::string& dir) {
  CommandResult shown = Ckpt({"show", "-D", dir, "--json"});
  EXPECT_EQ(shown.exit_status, 0) << shown.err;
  std::vector<std::string> configs;
  std::regex re("\"sud\": \\{[^}]*\\}");
  for (auto it = std::sregex_iterator(shown.out.begin(), shown.out.end(), re);
       it != std::sregex_iterator(); ++it) {
    configs.push_back(it->str());
  }
  return configs;
}

TEST(CkptTest, CheckFindsTheFeaturesItNeeds) {
  CommandResult result = Ckpt({"check"});
  EXPECT_EQ(result.exit_status, 0) << result.out;
  EXPECT_NE(result.out.find("ptrace SUD config (Linux 6.4)"),
            std::string::npos);
  EXPECT_EQ(result.out.find(" no "), std::string::npos) << result.out;
}

TEST(CkptTest, OwnSudProgramKeepsItsConfigAcrossLeaveRunningDumps) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick .* answer 4242", 3)) << ReadFile(log);

  CommandResult first = Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D",
                              dir + "/one", "--leave-running"});
  ASSERT_EQ(first.exit_status, 0) << first.err;
  int ticks = CountLines(log, "^tick");
  ASSERT_TRUE(WaitForLines(log, "^tick", ticks + 5)) << ReadFile(log);
  CommandResult second = Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D",
                               dir + "/two", "--leave-running"});
  ASSERT_EQ(second.exit_status, 0) << second.err;
  ticks = CountLines(log, "^tick");
  ASSERT_TRUE(WaitForLines(log, "^tick", ticks + 5)) << ReadFile(log);

  // Still intercepting: every answer comes from its handler, and nothing
  // the dumps injected reached the handler.
  EXPECT_EQ(CountLines(log, "^tick .* answer 4242 unexpected 0$"),
            CountLines(log, "^tick"))
      << ReadFile(log);
  std::vector<std::string> one = SudConfigs(dir + "/one");
  std::vector<std::string> two = SudConfigs(dir + "/two");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one, two);
  EXPECT_NE(one[0].find("\"mode\": 1"), std::string::npos) << one[0];
  EXPECT_TRUE(ticker.Running());
}

TEST(CkptTest, SandboxedThreadsKeepTheirDenialAcrossLeaveRunningDumps) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({SandboxPath(), "--deny", "uname", "--",
                   TestProgramPath("thread_ticker"), log});
  for (int thread = 0; thread < 5; ++thread) {
    ASSERT_TRUE(WaitForLines(
        log, "^thread " + std::to_string(thread) + " tick .* uname EPERM", 2))
        << ReadFile(log);
  }
  pid_t program = ProgramOf(ticker.pid());

  for (const char* name : {"/one", "/two"}) {
    CommandResult dump = Ckpt({"dump", "-t", std::to_string(program), "-D",
                               dir + name, "--leave-running"});
    ASSERT_EQ(dump.exit_status, 0) << dump.err;
  }
  std::vector<std::string> one = SudConfigs(dir + "/one");
  EXPECT_EQ(one.size(), 5u);
  EXPECT_EQ(one, SudConfigs(dir + "/two"));
  int ticks = CountLines(log, "tick");
  for (int thread = 0; thread < 5; ++thread) {
    EXPECT_TRUE(WaitForLines(
        log, "^thread " + std::to_string(thread) + " tick",
        CountLines(log, "^thread " + std::to_string(thread) + " tick") + 3));
  }
  EXPECT_GT(CountLines(log, "tick"), ticks);
  EXPECT_EQ(CountLines(log, "uname ok"), 0) << ReadFile(log);
  // Ending the program lets the launcher reap it and exit with 128+9;
  // killing the launcher first would leave the program running.
  kill(program, SIGKILL);
  EXPECT_EQ(ticker.Wait(), 128 + SIGKILL);
}

TEST(CkptTest, ThreadIdIsRefusedAndTheProcessRunsOn) {
  // A thread's id names the wrong process: no image, nothing stopped.
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("thread_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^thread 4 tick", 1)) << ReadFile(log);
  pid_t pid = ticker.pid();
  std::vector<pid_t> threads;
  for (const auto& entry : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/task")) {
    pid_t tid = std::stoi(entry.path().filename());
    if (tid != pid) threads.push_back(tid);
  }
  ASSERT_FALSE(threads.empty());
  CommandResult dump =
      Ckpt({"dump", "-t", std::to_string(threads[0]), "-D", dir + "/img"});
  EXPECT_EQ(dump.exit_status, 1) << dump.err;
  EXPECT_EQ(dump.err, "sandbox-ckpt: " + std::to_string(threads[0]) +
                          " is a thread of process " + std::to_string(pid) +
                          "; dump takes the process id\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/img"));
  int ticks = CountLines(log, "^thread 0 tick");
  EXPECT_TRUE(WaitForLines(log, "^thread 0 tick", ticks + 2));
  kill(pid, SIGKILL);
  EXPECT_EQ(ticker.Wait(), 128 + SIGKILL);
}

TEST(CkptTest, DumpWithoutLeaveRunningEndsTheProcess) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  CommandResult dump =
      Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D", dir + "/img"});
  ASSERT_EQ(dump.exit_status, 0) << dump.err;
  int status = 0;
  ASSERT_EQ(waitpid(ticker.pid(), &status, 0), ticker.pid());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(Ckpt({"show", "-D", dir + "/img"}).exit_status, 0);
}

TEST(CkptTest, FrozenNanosleepNeitherEndsEarlyNorFails) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached sleeper({TestProgramPath("sud_ticker"), log, "sleep"});
  ASSERT_TRUE(WaitForLines(log, "^armed", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CommandResult dump = Ckpt({"dump", "-t", std::to_string(sleeper.pid()), "-D",
                             dir + "/img", "--leave-running"});
  ASSERT_EQ(dump.exit_status, 0) << dump.err;
  ASSERT_TRUE(WaitForLines(log, "^slept", 1, 6000)) << ReadFile(log);
  ExpectSleptTwoSecondsWithoutError(log);
}

TEST(CkptTest, UnsupportedDescriptorFailsAndLeavesTheProcessAsItWas) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log}, /*extra_socket=*/true);
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  CommandResult dump = Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D",
                             dir + "/img", "--leave-running"});
  EXPECT_NE(dump.exit_status, 0);
  EXPECT_NE(dump.err.find("descriptor 3 is socket:"), std::string::npos)
      << dump.err;
  EXPECT_EQ(std::count(dump.err.begin(), dump.err.end(), '\n'), 1);
  struct stat st;
  EXPECT_NE(stat((dir + "/img/MANIFEST").c_str(), &st), 0);
  int ticks = CountLines(log, "^tick");
  EXPECT_TRUE(WaitForLines(log, "^tick", ticks + 3));
  // Read once: the log grows while it is read.
  EXPECT_EQ(CountLines(log, "unexpected [1-9]"), 0) << ReadFile(log);
}

TEST(CkptTest, PipeSharedWithAnotherProcessFailsTheDump) {
  // The process holds both ends of a pipe, and so does its child: a
  // restore could give the pipe back to the process only.
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  std::ofstream(dir + "/shared_pipe.py") << R"(import ctypes, os, sys, time
r, w = os.pipe()
os.write(w, b"hello")
if os.fork() == 0:
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG: SIGKILL with the parent
    while True:
        time.sleep(1)
with open(sys.argv[1], "w") as log:
    log.write("ready\n")
while True:
    time.sleep(0.1)
)";
  Detached python({"/usr/bin/python3", dir + "/shared_pipe.py", log});
  ASSERT_TRUE(WaitForLines(log, "^ready", 1));
  CommandResult dump = Ckpt({"dump", "-t", std::to_string(python.pid()), "-D",
                             dir + "/img", "--leave-running"});
  EXPECT_EQ(dump.exit_status, 1);
  EXPECT_NE(dump.err.find("descriptor 3 is pipe:["), std::string::npos)
      << dump.err;
  EXPECT_NE(dump.err.find("holds too"), std::string::npos) << dump.err;
  // Nothing of the image is left, not even its directory.
  EXPECT_FALSE(std::filesystem::exists(dir + "/img"));
  EXPECT_TRUE(python.Running());
}

TEST(CkptTest, DamagedOrTruncatedImagesAreRefused) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  // Each image gets one page file damaged: bytes changed in the largest,
  // pages.img, or in the other, or pages.img cut short.
  struct Damage {
    const char* name;
    const char* file;
  };
  for (const Damage& damage : {Damage{"/damaged", "pages.img"},
                               Damage{"/damaged-second", "pages-1.img"},
                               Damage{"/truncated", "pages.img"}}) {
    ASSERT_EQ(Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D",
                    dir + damage.name, "--leave-running"})
                  .exit_status,
              0);
  }
  for (const char* path :
       {"/damaged/pages.img", "/damaged-second/pages-1.img"}) {
    std::fstream pages(dir + path,
                       std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(pages.is_open()) << path;
    pages.seekp(100);
    pages.write("XXXX", 4);
  }
  truncate((dir + "/truncated/pages.img").c_str(), 4096);
  for (const Damage& damage : {Damage{"/damaged", "pages.img"},
                               Damage{"/damaged-second", "pages-1.img"},
                               Damage{"/truncated", "pages.img"}}) {
    CommandResult shown = Ckpt({"show", "-D", dir + damage.name});
    EXPECT_EQ(shown.exit_status, 1) << damage.name;
    EXPECT_NE(shown.err.find(damage.file), std::string::npos) << shown.err;
    EXPECT_EQ(shown.out, "");
  }
  CommandResult foreign = Ckpt({"show", "-D", dir});
  EXPECT_EQ(foreign.exit_status, 1);
  EXPECT_NE(foreign.err.find("no image"), std::string::npos) << foreign.err;
}

TEST(CkptTest, BadArgumentsGetOneLineAndAnExitStatus) {
  struct Case {
    std::vector<std::string> args;
    int status;
  };
  std::string dir = MakeTempDir();
  const Case kCases[] = {
      {{}, 2},
      {{"frobnicate"}, 2},
      {{"dump", "-D", dir + "/x"}, 2},
      {{"dump", "-t", "abc", "-D", dir + "/x"}, 2},
      {{"dump", "-t", "1", "--bogus"}, 2},
      {{"show"}, 2},
      {{"restore"}, 2},
      {{"restore", "-D", dir}, 1},
      {{"restore", "-D", dir + "/missing"}, 1},
      {{"restore", "-D", dir, "--pidfile", dir + "/missing/pid"}, 1},
      {{"show", "-D", dir + "/missing"}, 1},
      // A process id that no process has (beyond pid_max).
      {{"dump", "-t", "99999999", "-D", dir + "/y"}, 1},
      // kthreadd, a kernel thread on every Linux system.
      {{"dump", "-t", "2", "-D", dir + "/k"}, 1},
  };
  for (const Case& c : kCases) {
    CommandResult result = Ckpt(c.args);
    EXPECT_EQ(result.exit_status, c.status) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << result.err;
    EXPECT_EQ(result.err.rfind("sandbox-ckpt: ", 0), 0u) << result.err;
  }
}

// Waits for a pid file to hold a process id.
pid_t WaitForPidFile(const std::string& path) {
  for (int waited = 0; waited < 5000; waited += 20) {
    std::string text = ReadFile(path);
    if (!text.empty() && text.back() == '\n') return std::stoi(text);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// Dumps `pid` into `dir` (ending it), waits for `original` to be gone, and
// starts `sandbox-ckpt restore` (which stays the restored process's parent)
// with a pid file. Returns the restored id, or -1.
pid_t DumpAndRestore(pid_t pid, Detached& original, const std::string& dir,
                     std::unique_ptr<Detached>* restorer) {
  CommandResult dump =
      Ckpt({"dump", "-t", std::to_string(pid), "-D", dir + "/img"});
  EXPECT_EQ(dump.exit_status, 0) << dump.err;
  original.Wait();
  *restorer = std::make_unique<Detached>(
      std::vector<std::string>{CkptPath(), "restore", "-D", dir + "/img",
                               "--pidfile", dir + "/restored.pid"});
  pid_t restored = WaitForPidFile(dir + "/restored.pid");
  // A test that stops early must not leave the restored process running.
  if (restored > 0) (*restorer)->EndChildToo(restored);
  return restored;
}

TEST(CkptRestoreTest, OwnSudProgramCarriesOnIntercepted) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick .* answer 4242", 3));
  pid_t pid = ticker.pid();
  std::unique_ptr<Detached> restorer;
  pid_t restored = DumpAndRestore(pid, ticker, dir, &restorer);
  ASSERT_EQ(restored, pid);
  EXPECT_EQ(ReadFile("/proc/" + std::to_string(restored) + "/comm"),
            "sud_ticker\n");
  int ticks = CountLines(log, "^tick");
  ASSERT_TRUE(WaitForLines(log, "^tick", ticks + 5)) << ReadFile(log);
  EXPECT_EQ(CountLines(log, "^tick .* answer 4242 unexpected 0$"),
            CountLines(log, "^tick"))
      << ReadFile(log);
  // Its SUD configuration, read back through ptrace by a second dump,
  // is the one it had before.
  CommandResult again = Ckpt({"dump", "-t", std::to_string(restored), "-D",
                              dir + "/again", "--leave-running"});
  ASSERT_EQ(again.exit_status, 0) << again.err;
  EXPECT_EQ(SudConfigs(dir + "/img"), SudConfigs(dir + "/again"));
  kill(restored, SIGKILL);
  EXPECT_EQ(restorer->Wait(), 128 + SIGKILL);
}

// Run through every interception mode: with signals only, the threads are
// frozen inside the runtime's SIGSYS handler, blocked in its syscalls.
class CkptModesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CkptModesTest, SandboxedThreadsCarryOnWithTheirIdsAndPolicy) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached launcher({SandboxPath(), "--mode=" + GetParam(), "--deny", "uname",
                     "--", TestProgramPath("thread_ticker"), log});
  for (int thread = 0; thread < 5; ++thread) {
    ASSERT_TRUE(WaitForLines(log, "^thread " + std::to_string(thread), 2));
  }
  pid_t program = ProgramOf(launcher.pid());
  std::string maps_before =
      ReadFile("/proc/" + std::to_string(program) + "/maps");
  std::set<std::string> tids_before;
  for (const auto& entry : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(program) + "/task")) {
    tids_before.insert(entry.path().filename());
  }
  std::unique_ptr<Detached> restorer;
  pid_t restored = DumpAndRestore(program, launcher, dir, &restorer);
  ASSERT_EQ(restored, program);
  std::set<std::string> tids_after;
  for (const auto& entry : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(restored) + "/task")) {
    tids_after.insert(entry.path().filename());
  }
  EXPECT_EQ(tids_after, tids_before);
  // The runtime's trampoline pools (when it rewrites) come back as memfds
  // of the same name.
  std::string maps_after =
      ReadFile("/proc/" + std::to_string(restored) + "/maps");
  const std::string pools = "/memfd:sandbox-trampolines";
  EXPECT_EQ(maps_after.find(pools) != std::string::npos,
            maps_before.find(pools) != std::string::npos)
      << maps_after;
  for (int thread = 0; thread < 5; ++thread) {
    std::string pattern = "^thread " + std::to_string(thread) + " tick";
    EXPECT_TRUE(WaitForLines(log, pattern, CountLines(log, pattern) + 3));
  }
  EXPECT_EQ(CountLines(log, "uname ok"), 0) << ReadFile(log);
  kill(restored, SIGKILL);
  EXPECT_EQ(restorer->Wait(), 128 + SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Modes, CkptModesTest,
                         ::testing::ValuesIn(InterceptionModes()),
                         [](const auto& info) { return info.param; });

TEST(CkptRestoreTest, SignalsToTheWaitingToolReachTheProcess) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  pid_t pid = ticker.pid();
  std::unique_ptr<Detached> restorer;
  ASSERT_EQ(DumpAndRestore(pid, ticker, dir, &restorer), pid);
  int ticks = CountLines(log, "^tick");
  ASSERT_TRUE(WaitForLines(log, "^tick", ticks + 2));
  // The tool passes SIGTERM on, then reports how the process ended.
  kill(restorer->pid(), SIGTERM);
  EXPECT_EQ(restorer->Wait(), 128 + SIGTERM);
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(CkptRestoreTest, LeaveRunningTwiceThenRestoreTheSecondImage) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  for (const char* name : {"/one", "/two"}) {
    ASSERT_EQ(Ckpt({"dump", "-t", std::to_string(ticker.pid()), "-D",
                    dir + name, "--leave-running"})
                  .exit_status,
              0);
  }
  // Occupied: the original still has the id.
  CommandResult busy = Ckpt({"restore", "-D", dir + "/two"});
  EXPECT_EQ(busy.exit_status, 1);
  EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;

  pid_t pid = ticker.pid();
  ticker.Kill();
  Detached restorer({CkptPath(), "restore", "-D", dir + "/two", "--pidfile",
                     dir + "/restored.pid"});
  ASSERT_EQ(WaitForPidFile(dir + "/restored.pid"), pid);
  restorer.EndChildToo(pid);
  int ticks = CountLines(log, "^tick");
  EXPECT_TRUE(WaitForLines(log, "^tick", ticks + 5));
  // Read once: the log grows while it is read.
  EXPECT_EQ(CountLines(log, "unexpected [1-9]"), 0) << ReadFile(log);
  kill(pid, SIGKILL);
  EXPECT_EQ(restorer.Wait(), 128 + SIGKILL);
}

// Runs `program LOG ARGS... TRIGGER` in `dir`: a keeper that logs "ready"
// once it holds its state, and checks that state when the trigger file
// appears. Checkpoints and restores it in between, triggers it, expects it
// to exit 0, and returns its log.
std::string RestoreKeeper(const std::string& dir, const std::string& program,
                          const std::vector<std::string>& args) {
  std::string log = dir + "/log";
  std::vector<std::string> command = {TestProgramPath(program), log};
  command.insert(command.end(), args.begin(), args.end());
  command.push_back(dir + "/go");
  Detached keeper(command);
  EXPECT_TRUE(WaitForLines(log, "^ready", 1));
  pid_t pid = keeper.pid();
  std::unique_ptr<Detached> restorer;
  EXPECT_EQ(DumpAndRestore(pid, keeper, dir, &restorer), pid);
  if (restorer == nullptr) return ReadFile(log);
  std::ofstream(dir + "/go") << "";
  EXPECT_EQ(restorer->Wait(), 0) << ReadFile(log);
  return ReadFile(log);
}

TEST(CkptRestoreTest, FileOffsetAndUnreadPipeBytesAreKept) {
  std::string dir = MakeTempDir();
  std::ofstream(dir + "/data") << "abcdefgh";
  std::string log = RestoreKeeper(dir, "fd_keeper", {dir + "/data"});
  EXPECT_NE(log.find("\noffset 3 cloexec 1 pipe hello(5) next defg\n"),
            std::string::npos)
      << log;
  // The copy made with dup shares the offset the read moved.
  EXPECT_NE(log.find("\ncopy at 7\n"), std::string::npos) << log;
}

TEST(CkptRestoreTest, MemoryComesBackByteForByte) {
  // Over a hundred MiB in large, sparse and shared areas: the restorer
  // and the tool each write a share of the pages.
  std::string log = RestoreKeeper(MakeTempDir(), "memory_keeper", {});
  EXPECT_NE(log.find("\nmemory intact\n"), std::string::npos) << log;
}

TEST(CkptRestoreTest, PendingSignalsAndTimersComeBack) {
  std::string log = RestoreKeeper(MakeTempDir(), "pending_keeper", {});
  EXPECT_NE(log.find("\nusr1 1 rt 7,8 extra 0 usr2 1 alarm 1\n"),
            std::string::npos)
      << log;
}

TEST(CkptRestoreTest, NanosleepInterruptedByTheCheckpointCompletes) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached sleeper({TestProgramPath("sud_ticker"), log, "sleep"});
  ASSERT_TRUE(WaitForLines(log, "^armed", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::unique_ptr<Detached> restorer;
  ASSERT_GT(DumpAndRestore(sleeper.pid(), sleeper, dir, &restorer), 0);
  EXPECT_EQ(restorer->Wait(), 0);
  ExpectSleptTwoSecondsWithoutError(log);
}

TEST(CkptRestoreTest, ProcessWithOnlyStandardDescriptorsCarriesOn) {
  // Nothing but stdio: the restore's own descriptors take the lowest free
  // numbers, right where it places them.
  std::string dir = MakeTempDir();
  Detached sleeper({"/bin/sleep", "1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::unique_ptr<Detached> restorer;
  ASSERT_EQ(DumpAndRestore(sleeper.pid(), sleeper, dir, &restorer),
            sleeper.pid());
  EXPECT_EQ(restorer->Wait(), 0);
}

TEST(CkptRestoreTest, VectorRegistersSurviveCheckpointAndRestore) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  CommandResult cpu = RunCommand({"grep", "-qw", "avx512bw", "/proc/cpuinfo"});
  if (cpu.exit_status != 0) GTEST_SKIP() << "no AVX-512";
  Detached keeper({SandboxPath(), "--", TestProgramPath("zmm_keeper"), log});
  ASSERT_TRUE(WaitForLines(log, "^holding", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  pid_t program = ProgramOf(keeper.pid());
  std::unique_ptr<Detached> restorer;
  ASSERT_EQ(DumpAndRestore(program, keeper, dir, &restorer), program);
  EXPECT_EQ(restorer->Wait(), 0) << ReadFile(log);
  EXPECT_EQ(CountLines(log, "^registers intact$"), 1) << ReadFile(log);
}

TEST(CkptRestoreTest, DamagedImageIsRefusedAndNothingRuns) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  Detached ticker({TestProgramPath("sud_ticker"), log});
  ASSERT_TRUE(WaitForLines(log, "^tick", 2));
  pid_t pid = ticker.pid();
  ASSERT_EQ(
      Ckpt({"dump", "-t", std::to_string(pid), "-D", dir + "/img"}).exit_status,
      0);
  ticker.Wait();
  {
    std::fstream pages(dir + "/img/pages.img",
                       std::ios::in | std::ios::out | std::ios::binary);
    pages.seekp(5000);
    pages.write("damage", 6);
  }
  CommandResult restored = Ckpt({"restore", "-D", dir + "/img"});
  EXPECT_EQ(restored.exit_status, 1);
  EXPECT_NE(restored.err.find("damaged"), std::string::npos) << restored.err;
  EXPECT_NE(kill(pid, 0), 0);
  truncate((dir + "/img/pages.img").c_str(), 100);
  EXPECT_EQ(Ckpt({"restore", "-D", dir + "/img"}).exit_status, 1);
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(CkptRestoreTest, ChangedMappedFileIsRefusedAndNothingRuns) {
  // Pages of a private file mapping that were never written come from the
  // file again at restore: a file changed since the dump would mix two
  // versions in the restored memory.
  std::string dir = MakeTempDir();
  std::string data = dir + "/data";
  std::ofstream(data) << std::string(8192, 'a');
  const std::string script =
      "import mmap, time\n"
      "f = open('" +
      data +
      "', 'rb')\n"
      "m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,"
      " prot=mmap.PROT_READ)\n"
      "open('" +
      dir +
      "/log', 'w').write('ready\\n')\n"
      "time.sleep(60)\n";
  Detached mapper({"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(WaitForLines(dir + "/log", "^ready", 1));
  pid_t pid = mapper.pid();
  CommandResult dump =
      Ckpt({"dump", "-t", std::to_string(pid), "-D", dir + "/img"});
  ASSERT_EQ(dump.exit_status, 0) << dump.err;
  mapper.Wait();
  std::ofstream(data, std::ios::app) << "more";
  CommandResult restore = Ckpt({"restore", "-D", dir + "/img", "-d"});
  EXPECT_EQ(restore.exit_status, 1);
  EXPECT_NE(restore.err.find(data + " has changed since the checkpoint"),
            std::string::npos)
      << restore.err;
  EXPECT_NE(kill(pid, 0), 0);
}

TEST(CkptRestoreTest, PythonWithThreadsCarriesOn) {
  std::string dir = MakeTempDir();
  std::string log = dir + "/log";
  std::string script =
      "import threading, time, sys\n"
      "out = open(sys.argv[1], 'a', buffering=1)\n"
      "def work(n):\n"
      "    for i in range(1000000):\n"
      "        out.write(f'worker {n} step {i}\\n')\n"
      "        time.sleep(0.02)\n"
      "threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]\n"
      "[t.start() for t in threads]\n"
      "[t.join() for t in threads]\n";
  std::ofstream(dir + "/work.py") << script;
  Detached python({"/usr/bin/python3", dir + "/work.py", log});
  for (int n = 0; n < 3; ++n) {
    ASSERT_TRUE(WaitForLines(log, "^worker " + std::to_string(n), 3));
  }
  std::unique_ptr<Detached> restorer;
  pid_t restored = DumpAndRestore(python.pid(), python, dir, &restorer);
  ASSERT_GT(restored, 0);
  for (int n = 0; n < 3; ++n) {
    std::string pattern = "^worker " + std::to_string(n);
    EXPECT_TRUE(WaitForLines(log, pattern, CountLines(log, pattern) + 3))
        << ReadFile(log);
  }
  kill(restored, SIGKILL);
  EXPECT_EQ(restorer->Wait(), 128 + SIGKILL);
}

}  // namespace
}  // namespace sandbox::testing
