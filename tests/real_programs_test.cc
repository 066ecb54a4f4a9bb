// Real programs (a shell, git, make and the compiler, sqlite3, python3, a
// C++ program using exceptions and threads) run natively and under the
// sandbox; what they print and how they end must not change. Also checks
// that --deny, tracing and --stats reach every process of the program.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace sandbox::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path);
  out << contents;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Makes the options for one run, typically with a fresh working directory.
using OptionsMaker = std::function<RunOptions()>;

RunOptions InFreshDir() {
  RunOptions options;
  options.cwd = MakeTempDir();
  return options;
}

class RealProgramsTest : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& mode() const { return GetParam(); }

  // Runs `command` natively, then under the sandbox, each with options from
  // `make_options`; expects the same status, stdout and stderr. Returns the
  // native result so that the caller can check it did real work.
  CommandResult ExpectSameUnderSandbox(
      const std::vector<std::string>& command,
      const OptionsMaker& make_options = [] { return RunOptions(); }) {
    CommandResult native = RunCommand(command, make_options());
    CommandResult sandboxed =
        RunCommand(Sandboxed(mode(), {}, command), make_options());
    EXPECT_EQ(sandboxed.exit_status, native.exit_status)
        << "sandboxed stderr: " << sandboxed.err;
    EXPECT_EQ(sandboxed.out, native.out);
    EXPECT_EQ(sandboxed.err, native.err);
    return native;
  }
};

TEST_P(RealProgramsTest, ShellPipeline) {
  // Pipes, a subshell, a here-doc, redirections in both directions and
  // command substitution; ends with its own status.
  const std::string script = R"(
printf 'pear\napple\nfig\napple\npear\napple\n' > fruits.txt
sort fruits.txt | uniq -c | sort -rn | sed -n 1,2p
count=$(wc -l < fruits.txt)
echo "lines: $count"
(cd / && pwd; echo "in subshell") | tr a-z A-Z
cat <<EOF | sed 's/here/HERE/'
a here-doc seeing $count lines
EOF
echo to-stderr >&2
no-such-command-anywhere 2> /dev/null || echo "not found: $?"
ls no-such-file 2> errors.txt || echo "ls failed: $?"
wc -l < errors.txt
{ echo one; echo two; } >> fruits.txt
wc -l fruits.txt
seq 1 3000 | sort -rn | sed -n 1,3p | tr '\n' ' '
echo
exit 3
)";
  CommandResult native =
      ExpectSameUnderSandbox({"sh", "-c", script}, InFreshDir);
  EXPECT_EQ(native.exit_status, 3);
  EXPECT_NE(native.out.find("lines: 6"), std::string::npos) << native.out;
  EXPECT_NE(native.out.find("3000 2999 2998"), std::string::npos);
}

TEST_P(RealProgramsTest, Git) {
  // Fixed identities and dates make the hashes, and so all output,
  // deterministic; the user's and system's configuration are kept out.
  const std::string script = R"(
set -e
export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL=c@example.com
export GIT_AUTHOR_DATE='2020-01-02T03:04:05+0000'
export GIT_COMMITTER_DATE='2020-01-02T03:04:05+0000'
export TZ=UTC LC_ALL=C GIT_PAGER=cat
git -c init.defaultBranch=main init -q repo
cd repo
printf 'hello\n' > a.txt
mkdir dir
seq 1 500 > dir/numbers.txt
git add .
git -c gc.auto=0 commit -q -m first
echo more >> a.txt
git mv dir/numbers.txt dir/n.txt
git -c gc.auto=0 commit -q -a -m second
git log --stat --date=iso
git log --format='%H %P %T %an <%ae> %s'
git cat-file -p HEAD
git ls-tree -r HEAD
git diff --stat HEAD~1 HEAD
git status --porcelain
git rev-list --count HEAD
git fsck --full --strict --no-progress
echo fsck ok
git repack -a -d -q
git count-objects -v | grep -v size
git fsck --full --no-progress
echo repacked fsck ok
)";
  CommandResult native =
      ExpectSameUnderSandbox({"sh", "-c", script}, InFreshDir);
  EXPECT_EQ(native.exit_status, 0) << native.err;
  EXPECT_NE(native.out.find("repacked fsck ok"), std::string::npos);
}

TEST_P(RealProgramsTest, MakeParallelBuildAndRun) {
  // A small C project, built from scratch with two jobs in each run.
  OptionsMaker make_project = [] {
    RunOptions options = InFreshDir();
    const std::string& dir = options.cwd;
    WriteFile(dir + "/util.h",
              "int Square(int x);\nint Fib(int n);\nconst char* Name(void);\n");
    WriteFile(dir + "/square.c",
              "#include \"util.h\"\nint Square(int x) { return x * x; }\n");
    WriteFile(dir + "/fib.c",
              "#include \"util.h\"\n"
              "int Fib(int n) { return n < 2 ? n : Fib(n - 1) + Fib(n - 2); }"
              "\n");
    WriteFile(dir + "/name.c",
              "#include \"util.h\"\nconst char* Name(void) { return NAME; }\n");
    WriteFile(dir + "/main.c",
              "#include <stdio.h>\n#include \"util.h\"\n"
              "int main(void) {\n"
              "  for (int i = 0; i < 10; ++i)\n"
              "    printf(\"%d %d %d\\n\", i, Square(i), Fib(i + 10));\n"
              "  printf(\"built by %s\\n\", Name());\n"
              "  return 0;\n"
              "}\n");
    WriteFile(dir + "/Makefile",
              "CFLAGS = -O1 -DNAME='\"make\"'\n"
              "OBJS = main.o square.o fib.o name.o\n"
              "prog: $(OBJS)\n"
              "\t$(CC) -o $@ $(OBJS)\n"
              "%.o: %.c util.h\n"
              "\t$(CC) $(CFLAGS) -c -o $@ $<\n"
              "clean:\n"
              "\trm -f prog $(OBJS)\n");
    return options;
  };
  CommandResult native = ExpectSameUnderSandbox(
      {"sh", "-c",
       "make -s -j2 && ./prog && make -q prog && echo up to date && "
       "make -s clean && ls"},
      make_project);
  EXPECT_EQ(native.exit_status, 0) << native.err;
  EXPECT_NE(native.out.find("9 81 4181\nbuilt by make\nup to date\n"),
            std::string::npos)
      << native.out;
}

TEST_P(RealProgramsTest, Sqlite3ThousandsOfInserts) {
  if (access("/usr/bin/sqlite3", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/sqlite3 is not installed";
  }
  // Single-statement transactions (each journaled and synced), then one
  // big transaction, a recursive CTE, an index and queries over them.
  std::string sql =
      "PRAGMA journal_mode=DELETE;\n"
      "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL);\n";
  for (int i = 0; i < 1500; ++i) {
    sql += "INSERT INTO t(name, value) VALUES ('row" + std::to_string(i) +
           "', " + std::to_string(i) + " * 0.5);\n";
  }
  sql += "BEGIN;\n";
  for (int i = 1500; i < 5000; ++i) {
    sql += "INSERT INTO t(name, value) VALUES ('row" + std::to_string(i) +
           "', " + std::to_string(i) + " * 0.5);\n";
  }
  sql += "COMMIT;\n";
  sql += R"(
CREATE TABLE u(x INTEGER, y INTEGER);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO u SELECT x, (x * x) % 997 FROM c;
CREATE INDEX u_y ON u(y);
SELECT count(*), sum(value), min(name), max(name) FROM t;
SELECT y, count(*) FROM u GROUP BY y ORDER BY count(*) DESC, y LIMIT 5;
SELECT t.name, u.y FROM t JOIN u ON u.x = t.id WHERE t.id % 1000 = 0;
DELETE FROM t WHERE id % 2 = 0;
VACUUM;
PRAGMA integrity_check;
SELECT count(*) FROM t;
)";
  OptionsMaker with_sql = [&sql] {
    RunOptions options = InFreshDir();
    options.stdin_data = sql;
    return options;
  };
  CommandResult native = ExpectSameUnderSandbox(
      {"/usr/bin/sqlite3", "-batch", "test.db"}, with_sql);
  EXPECT_EQ(native.exit_status, 0) << native.err;
  EXPECT_NE(native.out.find("5000|6248750.0|row0|row999\n"), std::string::npos)
      << native.out;
  EXPECT_NE(native.out.find("ok\n2500\n"), std::string::npos) << native.out;
}

TEST_P(RealProgramsTest, Python3ThreadsAndSubprocess) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/python3 is not installed";
  }
  const std::string script = R"(
import hashlib, subprocess, sys, threading
results = {}
lock = threading.Lock()
def work(i):
    h = hashlib.sha256()
    for k in range(3000):
        h.update(str(i * k).encode())
    with lock:
        results[i] = h.hexdigest()[:16]
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
for i in sorted(results): print(i, results[i])
print(subprocess.run(["echo", "from echo"], capture_output=True,
                     text=True).stdout, end="")
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"],
                   capture_output=True, text=True)
print(repr(r.stdout), repr(r.stderr), r.returncode)
p1 = subprocess.Popen(["printf", "c\\nb\\na\\nb\\n"], stdout=subprocess.PIPE)
p2 = subprocess.Popen(["sort", "-u"], stdin=p1.stdout, stdout=subprocess.PIPE)
p1.stdout.close()
print(p2.communicate()[0].decode().split(), p1.wait(), p2.returncode)
sys.stdout.flush()
subprocess.run(["sh", "-c", "echo inherited stdout; echo inherited stderr >&2"])
sys.exit(5)
)";
  CommandResult native =
      ExpectSameUnderSandbox({"/usr/bin/python3", "-c", script});
  EXPECT_EQ(native.exit_status, 5) << native.err;
  EXPECT_NE(native.out.find("['a', 'b', 'c'] 0 0\ninherited stdout\n"),
            std::string::npos)
      << native.out;
}

TEST_P(RealProgramsTest, CxxExceptionsAndThreads) {
  std::string dir = MakeTempDir();
  WriteFile(dir + "/exceptions.cc", R"(
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct Failure : std::runtime_error {
  Failure(const std::string& what, int code)
      : std::runtime_error(what), code(code) {}
  int code;
};

struct Noisy {
  explicit Noisy(int id) : id(id) {}
  ~Noisy() { std::cout << "unwound " << id << "\n"; }
  int id;
};

[[gnu::noinline]] int Dive(int depth) {
  Noisy guard(depth);
  if (depth == 0) throw Failure("at the bottom", 42);
  return Dive(depth - 1) + 1;
}

int main(int argc, char** argv) {
  try {
    Dive(3);
  } catch (const Failure& e) {
    std::cout << "caught " << e.what() << " " << e.code << "\n";
  }

  std::vector<std::exception_ptr> errors(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([i, &errors] {
      try {
        if (i % 2 == 0) throw std::out_of_range("thread " + std::to_string(i));
        std::vector<int> empty;
        (void)empty.at(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& error : errors) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::cout << "from thread: " << e.what() << "\n";
    }
  }

  try {
    try {
      Dive(1);
    } catch (...) {
      std::throw_with_nested(std::logic_error("outer"));
    }
  } catch (const std::logic_error& e) {
    std::cout << "nested: " << e.what() << "\n";
    try {
      std::rethrow_if_nested(e);
    } catch (const Failure& inner) {
      std::cout << "inner: " << inner.what() << "\n";
    }
  }
  std::cout.flush();
  if (argc > 1) throw std::logic_error(argv[1]);
  return 0;
}
)");
  CommandResult compile =
      RunCommand({"c++", "-std=c++17", "-O1", "-pthread", "-o",
                  dir + "/exceptions", dir + "/exceptions.cc"});
  if (compile.exit_status == 127) GTEST_SKIP() << "no c++ compiler";
  ASSERT_EQ(compile.exit_status, 0) << compile.err;

  CommandResult native = ExpectSameUnderSandbox({dir + "/exceptions"});
  EXPECT_EQ(native.exit_status, 0);
  EXPECT_NE(native.out.find("caught at the bottom 42\n"), std::string::npos)
      << native.out;
  EXPECT_NE(native.out.find("inner: at the bottom\n"), std::string::npos);

  // An uncaught exception ends in std::terminate and SIGABRT.
  CommandResult uncaught =
      ExpectSameUnderSandbox({dir + "/exceptions", "never caught"});
  EXPECT_EQ(uncaught.exit_status, 128 + SIGABRT);
  EXPECT_NE(uncaught.err.find("never caught"), std::string::npos)
      << uncaught.err;
}

TEST_P(RealProgramsTest, DenyReachesChildProcesses) {
  CommandResult native = RunCommand({"sh", "-c", "uname; echo $?"});
  ASSERT_EQ(native.out, "Linux\n0\n");

  CommandResult denied = RunCommand(
      Sandboxed(mode(), {"--deny", "uname"}, {"sh", "-c", "uname; echo $?"}));
  EXPECT_EQ(denied.exit_status, 0) << denied.err;
  EXPECT_NE(denied.out, "0\n");
  EXPECT_EQ(denied.out.find("Linux"), std::string::npos) << denied.out;
  EXPECT_GT(std::stoi(denied.out), 0) << denied.out;
  EXPECT_NE(denied.err.find("Operation not permitted"), std::string::npos)
      << denied.err;

  CommandResult eacces = RunCommand(Sandboxed(mode(), {"--deny=uname=EACCES"},
                                              {"sh", "-c", "uname; echo $?"}));
  EXPECT_EQ(eacces.exit_status, 0) << eacces.err;
  EXPECT_GT(std::stoi(eacces.out), 0) << eacces.out;
  EXPECT_NE(eacces.err.find("Permission denied"), std::string::npos)
      << eacces.err;
}

TEST_P(RealProgramsTest, TracingDoesNotChangeOutput) {
  const std::vector<std::string> command = {
      "sh", "-c",
      "cat /nonexistent; printf 'b\\na\\nc\\n' | sort | sed -n 1,2p; "
      "(echo sub | tr a-z A-Z); echo done"};
  CommandResult native = RunCommand(command);
  ASSERT_EQ(native.out, "a\nb\nSUB\ndone\n");

  std::string trace = MakeTempDir() + "/trace.txt";
  CommandResult traced =
      RunCommand(Sandboxed(mode(), {"-e", "trace=all", "-o", trace}, command));
  EXPECT_EQ(traced.exit_status, native.exit_status);
  EXPECT_EQ(traced.out, native.out);
  EXPECT_EQ(traced.err, native.err);

  std::string text = ReadFile(trace);
  EXPECT_TRUE(std::regex_search(text, std::regex("(^|\n)[0-9]+ execve\\(")))
      << text.substr(0, 2000);
  EXPECT_TRUE(std::regex_search(
      text, std::regex("(^|\n)[0-9]+ openat\\(AT_FDCWD, \"")));
  EXPECT_TRUE(std::regex_search(
      text, std::regex("(^|\n)[0-9]+ openat\\(AT_FDCWD, \"/nonexistent\", "
                       "[^\n]*\\) = -1 ENOENT \\(No such file or directory\\)"
                       "\n")));
  const std::regex line_format("^[0-9]+ [a-z0-9_]+\\(.*\\) = .*$");
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(std::regex_match(line, line_format)) << "line: " << line;
  }
  EXPECT_GT(count, 50);
}

TEST_P(RealProgramsTest, TraceReachesLauncherStderrDespiteRedirection) {
  // The program sends its own stderr away; trace lines still reach the
  // launcher's stderr, and the program's stdout is untouched.
  CommandResult run = RunCommand(
      Sandboxed(mode(), {"-e", "trace=uname"},
                {"sh", "-c", "exec 2> /dev/null; uname; uname -s >&2"}));
  EXPECT_EQ(run.exit_status, 0);
  EXPECT_EQ(run.out, "Linux\n");
  std::istringstream lines(run.err);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(
        std::regex_match(line, std::regex("[0-9]+ uname\\(0x[0-9a-f]+\\) = 0")))
        << "line: " << line;
  }
  EXPECT_EQ(count, 2) << run.err;
}

TEST_P(RealProgramsTest, TracingLeavesDescriptorTableAlone) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/python3 is not installed";
  }
  // The runtime's trace descriptor must look closed to the program: not
  // listed, not usable, its number free for the program's own dups.
  const std::string script = R"(
import fcntl, os
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
print("open:", [fd for fd in range(4096) if is_open(fd)])
print("listed:", sorted(int(n) for n in os.listdir("/proc/self/fd")))
for fd in (1000, 1023, 511, 10):
    try:
        os.write(fd, b"")
        print(fd, "writable")
    except OSError as e:
        print(fd, "errno", e.errno)
print("dupfd:", fcntl.fcntl(1, fcntl.F_DUPFD, 1000))
)";
  const std::vector<std::string> command = {"/usr/bin/python3", "-c", script};
  CommandResult native = RunCommand(command);
  ASSERT_EQ(native.exit_status, 0) << native.err;
  ASSERT_NE(native.out.find("dupfd: 1000\n"), std::string::npos) << native.out;

  std::string trace = MakeTempDir() + "/trace.txt";
  CommandResult traced = RunCommand(
      Sandboxed(mode(), {"-e", "trace=uname", "-o", trace}, command));
  EXPECT_EQ(traced.exit_status, native.exit_status) << traced.err;
  EXPECT_EQ(traced.out, native.out);
  EXPECT_EQ(traced.err, native.err);
  EXPECT_EQ(ReadFile(trace), "");
}

// The numbers in a --stats JSON object: the top-level counters by name and
// the per_syscall ones by syscall name.
struct Stats {
  std::map<std::string, long long> top;
  std::map<std::string, long long> per_syscall;
};

Stats ParseStats(const std::string& json) {
  Stats stats;
  const std::regex pair("\"([a-z0-9_]+)\": ([0-9]+)");
  size_t per = json.find("\"per_syscall\": {");
  size_t per_end = json.find('}', per);
  std::string head = json.substr(0, per);
  for (std::sregex_iterator it(head.begin(), head.end(), pair), end; it != end;
       ++it) {
    stats.top[(*it)[1]] = std::stoll((*it)[2]);
  }
  if (per == std::string::npos || per_end == std::string::npos) return stats;
  std::string body = json.substr(per, per_end - per);
  for (std::sregex_iterator it(body.begin(), body.end(), pair), end; it != end;
       ++it) {
    stats.per_syscall[(*it)[1]] = std::stoll((*it)[2]);
  }
  return stats;
}

TEST_P(RealProgramsTest, StatsCountEverySyscall) {
  std::string path = MakeTempDir() + "/stats.json";
  const std::vector<std::string> command = {
      "sh", "-c", "ls / > /dev/null; echo hello | cat; uname > /dev/null"};
  CommandResult run =
      RunCommand(Sandboxed(mode(), {"--stats=" + path}, command));
  ASSERT_EQ(run.exit_status, 0) << run.err;
  EXPECT_EQ(run.out, "hello\n");
  EXPECT_EQ(run.err, "");

  std::string json = ReadFile(path);
  ASSERT_TRUE(std::regex_match(json, std::regex("\\{[^\n]*\\}\n"))) << json;
  Stats stats = ParseStats(json);
  ASSERT_EQ(stats.top.count("syscalls"), 1u) << json;
  ASSERT_EQ(stats.top.count("via_signal"), 1u) << json;
  ASSERT_EQ(stats.top.count("via_fast_path"), 1u) << json;
  ASSERT_EQ(stats.top.count("unnamed"), 1u) << json;
  long long syscalls = stats.top["syscalls"];
  EXPECT_GT(syscalls, 0);
  if (mode() == "signal") {
    EXPECT_EQ(stats.top["via_signal"], syscalls) << json;
    EXPECT_EQ(stats.top["via_fast_path"], 0) << json;
  } else {
    // auto may take a faster path; every syscall still arrives once.
    EXPECT_EQ(stats.top["via_signal"] + stats.top["via_fast_path"], syscalls)
        << json;
  }
  // Three programs were exec'd from the shell.
  EXPECT_GE(stats.per_syscall["execve"], 3) << json;
  EXPECT_GE(stats.per_syscall["uname"], 1) << json;
  long long sum = stats.top["unnamed"];
  for (const auto& [name, count] : stats.per_syscall) sum += count;
  EXPECT_EQ(sum, syscalls) << json;
}

INSTANTIATE_TEST_SUITE_P(Modes, RealProgramsTest,
                         ::testing::ValuesIn(InterceptionModes()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace sandbox::testing
