#include "tests/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace sandbox::testing {

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const RunOptions& options) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }

  // Everything the child needs is built before fork.
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    env_storage.emplace_back(*entry);
  }
  for (const std::string& extra : options.extra_env) {
    env_storage.push_back(extra);
  }
  std::vector<char*> envp, args;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& arg : argv_copy) args.push_back(arg.data());
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Between fork and exec: async-signal-safe calls only.
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(124);
    execvpe(args[0], args.data(), envp.data());
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  CommandResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  } else {
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }
  signal(SIGPIPE, SIG_IGN);
  time_t deadline = time(nullptr) + options.timeout_seconds;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    struct pollfd fds[3] = {{out_pipe[0], POLLIN, 0},
                            {err_pipe[0], POLLIN, 0},
                            {in_pipe[1], POLLOUT, 0}};
    int wait_ms = static_cast<int>((deadline - time(nullptr)) * 1000);
    if (wait_ms <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, in_pipe[1] >= 0 ? 3 : 2, wait_ms) < 0 && errno != EINTR) {
      break;
    }
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, got);
      } else if (got == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in_pipe[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR))) {
      ssize_t sent = write(in_pipe[1], options.stdin_data.data() + written,
                           options.stdin_data.size() - written);
      if (sent > 0) written += sent;
      if (sent < 0 || written == options.stdin_data.size()) {
        close(in_pipe[1]);
        in_pipe[1] = -1;
      }
    }
  }
  if (in_pipe[1] >= 0) close(in_pipe[1]);
  close(out_pipe[0]);
  close(err_pipe[0]);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_status = 128 + WTERMSIG(status);
  return result;
}

std::string SandboxPath() { return std::string(SANDBOX_BIN_DIR) + "/sandbox"; }

std::string TestProgramPath(const std::string& name) {
  return std::string(SANDBOX_BIN_DIR) + "/" + name;
}

std::vector<std::string> Sandboxed(const std::string& mode,
                                   const std::vector<std::string>& sandbox_args,
                                   const std::vector<std::string>& command) {
  std::vector<std::string> argv = {SandboxPath(), "--mode=" + mode};
  argv.insert(argv.end(), sandbox_args.begin(), sandbox_args.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> InterceptionModes() {
  return {"signal", "rewrite", "auto"};
}

namespace {

// The directories MakeTempDir made, removed with everything in them when
// the test binary exits normally (set SANDBOX_KEEP_TEST_DIRS to keep them
// for a look after a failure).
class TempDirs {
 public:
  ~TempDirs() {
    if (getpid() != owner_ || getenv("SANDBOX_KEEP_TEST_DIRS") != nullptr) {
      return;
    }
    for (const std::string& dir : dirs_) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  }
  void Add(const std::string& dir) { dirs_.push_back(dir); }

 private:
  const pid_t owner_ = getpid();
  std::vector<std::string> dirs_;
};

// Tests make directories only once main has started, after this exists.
TempDirs g_temp_dirs;

}  // namespace

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ =
      std::string(base != nullptr ? base : "/tmp") + "/sandbox-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  g_temp_dirs.Add(templ);
  return templ;
}

}  // namespace sandbox::testing
