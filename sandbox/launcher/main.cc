// The `sandbox` launcher: parses the command line into a policy, starts the
// program with the runtime preloaded, waits for it, and reports its exit
// status (and, with --stats, the syscall counts).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sandbox/common/exec_target.h"
#include "sandbox/common/stats.h"
#include "sandbox/launcher/options.h"
#include "sandbox/launcher/runtime_check.h"
#include "sandbox/runtime/trace_format.h"

namespace sandbox {
namespace {

// Exit statuses of the launcher's own failures.
constexpr int kExitBadUsage = 2;
constexpr int kExitSandboxFailure = 125;
constexpr int kExitCannotRun = 126;
constexpr int kExitNotFound = 127;

constexpr char kVersion[] = "sandbox 0.1";

// A failure that ends the launcher with a given status.
struct LaunchError {
  int exit_status;
  std::string message;
};

// A file to remove if the launcher ends early (the statistics file).
std::string g_remove_on_exit;

[[noreturn]] void Die(const LaunchError& error) {
  fprintf(stderr, "sandbox: %s\n", error.message.c_str());
  if (!g_remove_on_exit.empty()) unlink(g_remove_on_exit.c_str());
  exit(error.exit_status);
}

long LibcSyscall(long nr, long a1, long a2, long a3, long a4, long a5,
                 long a6) {
  long result = syscall(nr, a1, a2, a3, a4, a5, a6);
  return result == -1 ? -errno : result;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Finds libsandbox.so: $SANDBOX_RUNTIME, then beside the launcher, then in
// ../lib/sandbox as installed.
// Either way the file must be the runtime itself, or the program would run
// unintercepted.
std::string FindRuntime() {
  if (const char* explicit_path = getenv("SANDBOX_RUNTIME")) {
    // Made absolute: the program's working directory is not ours.
    char resolved[4096];
    std::string path = explicit_path;
    if (!path.empty() && realpath(explicit_path, resolved) != nullptr) {
      path = resolved;
    }
    absl::Status status = CheckRuntimeLibrary(path);
    if (!status.ok()) {
      Die({kExitSandboxFailure,
           absl::StrCat(status.message(), " (from SANDBOX_RUNTIME)")});
    }
    return path;
  }
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) {
    Die({kExitSandboxFailure, "cannot find the launcher's own path"});
  }
  std::string dir = DirectoryOf(std::string(self, length));
  for (const std::string& candidate :
       {dir + "/libsandbox.so", dir + "/../lib/sandbox/libsandbox.so"}) {
    char resolved[4096];
    if (realpath(candidate.c_str(), resolved) == nullptr) continue;
    absl::Status status = CheckRuntimeLibrary(resolved);
    if (!status.ok()) Die({kExitSandboxFailure, std::string(status.message())});
    return resolved;
  }
  Die({kExitSandboxFailure,
       absl::StrCat("cannot find libsandbox.so in ", dir, " or ", dir,
                    "/../lib/sandbox (set SANDBOX_RUNTIME to its path)")});
}

// Resolves PROGRAM as execvp would: a name with a slash is a path,
// anything else is looked up in $PATH.
std::string ResolveProgram(const std::string& name) {
  auto check = [](const std::string& path) -> int {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ENOENT;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (access(path.c_str(), X_OK) != 0) return EACCES;
    return 0;
  };
  if (name.empty()) Die({kExitNotFound, "'': command not found"});
  if (name.find('/') != std::string::npos) {
    int error = check(name);
    if (error == ENOENT) {
      Die({kExitNotFound, absl::StrCat(name, ": No such file or directory")});
    }
    if (error == EISDIR) {
      Die({kExitCannotRun, absl::StrCat(name, ": Is a directory")});
    }
    if (error != 0) {
      Die({kExitCannotRun, absl::StrCat(name, ": Permission denied")});
    }
    return name;
  }
  const char* path_env = getenv("PATH");
  std::string search = path_env != nullptr ? path_env : "/usr/bin:/bin";
  bool found_unrunnable = false;
  for (absl::string_view dir : absl::StrSplit(search, ':')) {
    std::string candidate =
        absl::StrCat(dir.empty() ? absl::string_view(".") : dir, "/", name);
    int error = check(candidate);
    if (error == 0) return candidate;
    // As the shell does, a directory of that name is passed over.
    if (error == EACCES) found_unrunnable = true;
  }
  if (found_unrunnable) {
    Die({kExitCannotRun, absl::StrCat(name, ": Permission denied")});
  }
  Die({kExitNotFound, absl::StrCat(name, ": command not found")});
}

// A counter file in shared memory, for --stats.
class StatsFile {
 public:
  StatsFile() {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = absl::StrCat(dir, "/sandbox-stats-XXXXXX");
    int fd = mkstemp(path_.data());
    if (fd < 0) {
      Die({kExitSandboxFailure,
           absl::StrCat("cannot create ", path_, ": ", strerror(errno))});
    }
    g_remove_on_exit = path_;
    // Writable by all: the program may drop its privileges and still count.
    fchmod(fd, 0666);
    if (ftruncate(fd, sizeof(StatsBlock)) != 0) {
      Die({kExitSandboxFailure, "cannot size the statistics file"});
    }
    void* address = mmap(nullptr, sizeof(StatsBlock), PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
    close(fd);
    if (address == MAP_FAILED) {
      Die({kExitSandboxFailure, "cannot map the statistics file"});
    }
    block_ = static_cast<StatsBlock*>(address);
    block_->magic = kStatsMagic;
  }
  ~StatsFile() {
    munmap(block_, sizeof(StatsBlock));
    unlink(path_.c_str());
    g_remove_on_exit.clear();
  }
  StatsFile(const StatsFile&) = delete;
  StatsFile& operator=(const StatsFile&) = delete;

  const std::string& path() const { return path_; }

  // The counters as one JSON object, busiest syscalls first.
  std::string ToJson() const {
    std::vector<std::pair<uint64_t, std::string>> counts;
    for (int nr = 0; nr < kSyscallTableSize; ++nr) {
      uint64_t count = block_->per_syscall[nr].load();
      if (count == 0) continue;
      const SyscallInfo* info = LookupSyscall(nr);
      counts.emplace_back(
          count, info != nullptr ? info->name : absl::StrCat("syscall_", nr));
    }
    std::sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::string json =
        absl::StrCat("{\"syscalls\": ", block_->syscalls.load(),
                     ", \"via_signal\": ", block_->via_signal.load(),
                     ", \"via_fast_path\": ", block_->via_fast_path.load(),
                     ", \"unnamed\": ", block_->out_of_table.load(),
                     ", \"sites_rewritten\": ", block_->sites_rewritten.load(),
                     ", \"per_syscall\": {");
    for (size_t i = 0; i < counts.size(); ++i) {
      absl::StrAppend(&json, i == 0 ? "" : ", ", "\"", counts[i].second,
                      "\": ", counts[i].first);
    }
    json += "}}\n";
    return json;
  }

 private:
  std::string path_;
  StatsBlock* block_ = nullptr;
};

pid_t g_child = -1;

// Passes signals on to the program, which decides its fate; the launcher
// then reports how it ended. Async-signal-safe.
void ForwardSignal(int signo) {
  if (g_child > 0) kill(g_child, signo);
}

// Whether a signal sent to the launcher is passed on to the program. Not
// the ones a terminal sends to the whole process group (the program gets
// those itself), job control, the ones the launcher's own faults raise, or
// the two real-time signals glibc keeps for itself.
bool IsForwarded(int signo) {
  switch (signo) {
    case SIGINT:
    case SIGQUIT:
    case SIGCHLD:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGCONT:
    case SIGPIPE:
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
    case SIGABRT:
      return false;
    default:
      return signo < 32 || signo >= SIGRTMIN;
  }
}

// Passes the program's trace lines from a pipe to the launcher's stderr.
// Going through the launcher keeps the lines off the program's own stderr
// (which may be a file at another offset, a socket, or a reader that goes
// away), and a reader that goes away costs trace lines, never the program.
class TraceRelay {
 public:
  // Relays into `output`, which the relay owns unless it is stderr.
  explicit TraceRelay(int output) : output_fd_(output) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      Die({kExitSandboxFailure, absl::StrCat("pipe: ", strerror(errno))});
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    thread_ = std::thread([this] { Run(); });
  }
  ~TraceRelay() { Stop(); }
  TraceRelay(const TraceRelay&) = delete;
  TraceRelay& operator=(const TraceRelay&) = delete;

  // The path each sandboxed process opens to append a line.
  std::string Path() const {
    return absl::StrCat("/proc/", getpid(), "/fd/", write_fd_);
  }

  // Delivers what is left and ends the relay: once the launcher's write
  // end is closed, the path is gone and the pipe ends when the last
  // writer closes it.
  void Stop() {
    if (write_fd_ < 0) return;
    close(write_fd_);
    write_fd_ = -1;
    thread_.join();
    close(read_fd_);
    if (output_fd_ != 2) close(output_fd_);
  }

 private:
  void Run() {
    char buffer[65536];
    for (;;) {
      ssize_t got = read(read_fd_, buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return;
      // A failed write loses the lines; the program goes on regardless.
      for (ssize_t done = 0; done < got;) {
        ssize_t written = write(output_fd_, buffer + done, got - done);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) break;
        done += written;
      }
    }
  }

  int output_fd_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::thread thread_;
};

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    Die({kExitSandboxFailure, "cannot read the current directory"});
  }
  return absl::StrCat(cwd, "/", path);
}

// The trace line of the launcher's own execve of the program, without the
// leading process id.
std::string ExecveTraceLine(const std::string& program,
                            std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  TraceCall call = {0, SYS_execve, {}};
  call.args[0] = reinterpret_cast<uint64_t>(program.c_str());
  call.args[1] = reinterpret_cast<uint64_t>(argv.data());
  call.args[2] = reinterpret_cast<uint64_t>(environ);
  char buf[1024];
  FixedWriter out(buf, sizeof(buf));
  FormatTraceLine(
      call, true, 0,
      [](void* dst, uint64_t src, size_t len) -> long {
        struct iovec local = {dst, len};
        struct iovec remote = {reinterpret_cast<void*>(src), len};
        long copied = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
        return copied >= 0 ? copied : -errno;
      },
      &out);
  std::string line(out.view());
  return line.substr(line.find(' ') + 1);
}

int Run(LaunchOptions& options) {
  // Under the runtime, turning SUD off in this thread is refused with
  // EBUSY (natively it is a no-op): one runtime cannot hold two policies.
  if (prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 0, 0, 0, 0) != 0 &&
      errno == EBUSY) {
    Die({kExitSandboxFailure,
         "already running inside a sandbox; nesting is not supported"});
  }
  // Trace lines to a reader that has gone must not end the launcher.
  signal(SIGPIPE, SIG_IGN);

  std::string program = ResolveProgram(options.command[0]);
  const char* unreachable =
      WhyUnreachableByPreload(LibcSyscall, AT_FDCWD, program.c_str(), 0);
  bool sandboxed = true;
  if (unreachable != nullptr) {
    if (!options.allow_unsandboxed) {
      Die({kExitCannotRun,
           absl::StrCat("refusing to run ", program, ": it ", unreachable,
                        " (--allow-unsandboxed runs it without "
                        "interception)")});
    }
    fprintf(stderr,
            "sandbox: warning: %s %s; running it WITHOUT interception\n",
            program.c_str(), unreachable);
    sandboxed = false;
  }

  // Trace output: a file given by -o, else the launcher's own stderr, so
  // that the program's redirections of its stderr do not capture it. Each
  // process appends its lines by path.
  Policy& policy = options.policy;
  std::string trace_path;
  std::unique_ptr<TraceRelay> relay;
  if (policy.TracesAnything()) {
    if (options.trace_output.has_value()) {
      trace_path = AbsolutePath(*options.trace_output);
      int fd = open(trace_path.c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        Die({kExitSandboxFailure,
             absl::StrCat("cannot open ", trace_path, ": ", strerror(errno))});
      }
      struct stat st;
      if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        // A FIFO, a terminal, a device: opened once and fed through the
        // relay, as each process opening it for every line would not do
        // (a FIFO's reader would see the end at the first close).
        relay = std::make_unique<TraceRelay>(fd);
        trace_path = relay->Path();
      } else {
        close(fd);
      }
    } else {
      if (fcntl(2, F_GETFD) < 0) {
        Die({kExitSandboxFailure, "cannot trace: stderr is not open"});
      }
      relay = std::make_unique<TraceRelay>(2);
      trace_path = relay->Path();
    }
  }
  if (trace_path.size() >= kPolicyPathMax) {
    Die({kExitBadUsage, "trace output path too long"});
  }
  strcpy(policy.trace_path, trace_path.c_str());

  std::unique_ptr<StatsFile> stats;
  FILE* stats_output = nullptr;
  if (options.stats) {
    // The output is opened now, so that a bad path is reported before the
    // program runs rather than after.
    if (!options.stats_output.empty()) {
      stats_output = fopen(options.stats_output.c_str(), "we");
      if (stats_output == nullptr) {
        Die({kExitSandboxFailure,
             absl::StrCat("cannot open ", options.stats_output, ": ",
                          strerror(errno))});
      }
    }
    stats = std::make_unique<StatsFile>();
    strcpy(policy.stats_path, stats->path().c_str());
  }

  // The child's environment and arguments are built before fork: nothing
  // between fork and exec allocates.
  std::vector<std::string> env_storage;
  std::vector<std::string> argv_storage = options.command;
  std::string runtime = sandboxed ? FindRuntime() : "";
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view line = *entry;
    if (line.starts_with("SANDBOX_POLICY=")) continue;
    if (sandboxed && line.starts_with("LD_PRELOAD=")) {
      runtime += ":" + std::string(line.substr(strlen("LD_PRELOAD=")));
      continue;
    }
    env_storage.emplace_back(line);
  }
  if (sandboxed && policy.rules[SYS_execve].trace) {
    // The runtime in the program writes this line for the exec that
    // starts it, as it does for every exec it traces.
    env_storage.push_back(absl::StrCat("SANDBOX_EXEC_TRACE=",
                                       ExecveTraceLine(program, argv_storage)));
  }
  if (sandboxed) {
    env_storage.push_back("LD_PRELOAD=" + runtime);
    env_storage.push_back(std::string(kPolicyEnvVar) + "=" +
                          EncodePolicy(policy));
  }
  std::vector<char*> envp, argv;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  for (std::string& arg : options.command) argv.push_back(arg.data());
  argv.push_back(nullptr);

  fflush(stderr);
  g_child = fork();
  if (g_child < 0) {
    Die({kExitSandboxFailure, absl::StrCat("fork: ", strerror(errno))});
  }
  if (g_child == 0) {
    // Between fork and exec: async-signal-safe calls only.
    execve(program.c_str(), argv.data(), envp.data());
    int error = errno;
    const char* prefix = "sandbox: cannot execute ";
    write(2, prefix, strlen(prefix));
    write(2, program.c_str(), program.size());
    write(2, ": ", 2);
    const char* reason = strerrordesc_np(error);
    write(2, reason, strlen(reason));
    write(2, "\n", 1);
    _exit(error == ENOENT ? kExitNotFound : kExitCannotRun);
  }

  // Interactive interrupts reach the program through its process group;
  // the launcher outlives them to report the status.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  struct sigaction forward = {};
  forward.sa_handler = ForwardSignal;
  forward.sa_flags = SA_RESTART;
  for (int signo = 1; signo < NSIG; ++signo) {
    if (IsForwarded(signo)) sigaction(signo, &forward, nullptr);
  }

  int status;
  while (waitpid(g_child, &status, 0) < 0) {
    if (errno != EINTR) {
      Die({kExitSandboxFailure, absl::StrCat("waitpid: ", strerror(errno))});
    }
  }

  if (relay != nullptr) relay->Stop();
  if (stats != nullptr) {
    std::string json = stats->ToJson();
    if (stats_output == nullptr) {
      fputs(json.c_str(), stderr);
    } else if (fputs(json.c_str(), stats_output) < 0 ||
               fclose(stats_output) != 0) {
      Die({kExitSandboxFailure,
           absl::StrCat("cannot write ", options.stats_output, ": ",
                        strerror(errno))});
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitSandboxFailure;
}

}  // namespace
}  // namespace sandbox

int main(int argc, char** argv) {
  using namespace sandbox;
  absl::StatusOr<LaunchOptions> options = ParseLaunchOptions(argc, argv);
  if (!options.ok()) {
    fprintf(stderr, "sandbox: %s\n",
            std::string(options.status().message()).c_str());
    return kExitBadUsage;
  }
  if (options->show_help) {
    fputs(LaunchUsage(), stdout);
    return 0;
  }
  if (options->show_version) {
    puts(kVersion);
    return 0;
  }
  return Run(*options);
}
