// sandbox-bench: the cost of one getppid syscall under each interception
// mechanism, and the time the launcher adds to a short program, in one run.
//
// Arming SUD, installing a seccomp filter or being traced changes a process
// for good, so every getppid row runs in a worker process of its own: a
// child forked once per row and kept for all of that row's runs. The
// benchmark process sends a worker the number of calls to make over a pipe;
// the worker times exactly that loop of `syscall` instructions and sends the
// elapsed nanoseconds back, which become the row's manual time. Even the raw
// row runs in a worker, so that every row is timed by the same loop in the
// same kind of process and only the interception differs.
//
// Workers are forked from the single-threaded benchmark process and never
// exec, so their set-up may use libc freely; the measured loop makes no call
// but the syscalls it times and the vDSO clock. Workers die with the
// benchmark process (PR_SET_PDEATHSIG) and are reaped before it exits.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "sandbox/common/kernel_abi.h"

// The SUD floor's allowed range: a restorer that makes rt_sigreturn. The
// kernel checks the address after the syscall instruction against the
// range, so the range ends after the trailing ud2.
asm(R"(
        .pushsection .text.bench_sud_floor,"ax",@progbits
        .globl  bench_floor_range_begin
        .hidden bench_floor_range_begin
        .globl  bench_floor_restorer
        .hidden bench_floor_restorer
        .globl  bench_floor_range_end
        .hidden bench_floor_range_end
bench_floor_range_begin:
bench_floor_restorer:
        movl    $15, %eax       # __NR_rt_sigreturn
        syscall
        ud2
bench_floor_range_end:
        .popsection
)");

extern "C" {
// Bounds of the floor worker's SUD allowed range.
extern const char bench_floor_range_begin[];
extern const char bench_floor_range_end[];
// sa_restorer of the floor worker's SIGSYS handler; never called directly.
void bench_floor_restorer();
}

namespace sandbox::bench {
namespace {

// What the intercepting handlers answer for getppid. Larger than any pid
// (the kernel's limit is 2^22), so a result proves the call was answered by
// the handler rather than run.
constexpr long kSudFloorAnswer = (1L << 40) + 1;
constexpr long kSeccompAnswer = (1L << 40) + 2;

// How long a worker may take to get ready or to answer one request before
// the benchmark gives up on it and kills it.
constexpr int kReadyTimeoutMs = 30'000;
constexpr int kRunTimeoutMs = 120'000;

// The syscall every getppid row times. An inline `syscall` rather than
// libc's getppid(), so that every row runs the very same instruction.
inline long RawGetppid() {
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "0"(static_cast<long>(SYS_getppid))
               : "rcx", "r11", "memory");
  return result;
}

int64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// ---------------------------------------------------------------------------
// The worker side. Everything in this section runs in a worker process.

// A worker's answer: to its start (elapsed_ns 0) or to a timing request.
struct WorkerReply {
  int64_t elapsed_ns;  // negative: failed, and `error` says why
  char error[248];     // NUL-terminated
};
static_assert(sizeof(WorkerReply) <= PIPE_BUF, "replies must be atomic");

// What a variant's set-up tells the worker loop.
struct WorkerConfig {
  // What the timed getppid calls return (the last one is checked).
  long expected_result = 0;
  // When non-null, a SUD selector that dispatches every syscall: kept at
  // allow for the worker's own I/O and clock reads, at block only while the
  // loop runs.
  volatile char* io_selector = nullptr;
};

// Fills *reply with a failure naming `call` and the errno text of `error`.
void SetError(WorkerReply* reply, const char* call, int error) {
  reply->elapsed_ns = -1;
  snprintf(reply->error, sizeof(reply->error), "%s: %s", call,
           strerrordesc_np(error));
}

// Reads or writes exactly `len` bytes, retrying short transfers and EINTR.
// Returns false at end of file or on an error.
bool ReadFull(int fd, void* data, size_t len) {
  auto* at = static_cast<char*>(data);
  while (len > 0) {
    ssize_t got = read(fd, at, len);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    at += got;
    len -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteFull(int fd, const void* data, size_t len) {
  auto* at = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t put = write(fd, at, len);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    at += put;
    len -= static_cast<size_t>(put);
  }
  return true;
}

// Closes every descriptor but stdio and `keep_a`, `keep_b`, so that a worker
// holds no pipe end of another worker (which would hide that one's EOF).
void CloseOtherDescriptors(int keep_a, int keep_b) {
  unsigned low = static_cast<unsigned>(std::min(keep_a, keep_b));
  unsigned high = static_cast<unsigned>(std::max(keep_a, keep_b));
  if (low > 3) close_range(3, low - 1, 0);
  if (high > low + 1) close_range(low + 1, high - 1, 0);
  close_range(high + 1, ~0U, 0);
}

// Ties the worker's life to its parent's; false if the parent is already
// gone (the request came too late to take effect).
bool DieWithParent(pid_t parent) {
  return prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() == parent;
}

// The SUD floor's SIGSYS handler: answers the dispatched syscall and
// returns. Async-signal-safe. It checks nothing, since the floor is the
// cost of the kernel's dispatch and sigreturn alone.
void FloorSigsysHandler(int, siginfo_t*, void* context) {
  static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RAX] =
      kSudFloorAnswer;
}

// The floor worker's selector. Static: the kernel reads it at every syscall
// for the rest of the worker's life.
volatile char g_floor_selector = kernel::kSelectorAllow;

bool SetUpRaw(pid_t parent, WorkerConfig* config, WorkerReply*) {
  config->expected_result = parent;
  return true;
}

bool SetUpSudFloor(pid_t, WorkerConfig* config, WorkerReply* reply) {
  // glibc's sigaction would put in its own restorer, whose rt_sigreturn
  // lies outside the allowed range and would itself be dispatched.
  kernel::KernelSigaction action = {};
  // The kernel's field holds either handler shape; cast through an integer.
  action.handler = reinterpret_cast<void (*)(int)>(
      reinterpret_cast<uintptr_t>(FloorSigsysHandler));
  // SA_NODEFER, as the runtime's handler has it: the kernel then leaves the
  // signal mask alone at delivery and sigreturn, which is no part of the
  // dispatch cost. The handler makes no syscall, so it never nests.
  action.flags = SA_SIGINFO | SA_NODEFER | kernel::kSaRestorer;
  action.restorer = bench_floor_restorer;
  if (syscall(SYS_rt_sigaction, SIGSYS, &action, nullptr,
              kernel::kKernelSigsetSize) != 0) {
    SetError(reply, "rt_sigaction(SIGSYS)", errno);
    return false;
  }

  g_floor_selector = kernel::kSelectorAllow;
  uintptr_t begin = reinterpret_cast<uintptr_t>(bench_floor_range_begin);
  uintptr_t end = reinterpret_cast<uintptr_t>(bench_floor_range_end);
  if (prctl(kernel::kPrSetSyscallUserDispatch, kernel::kSudOn, begin,
            end - begin, &g_floor_selector) != 0) {
    SetError(reply, "prctl(PR_SET_SYSCALL_USER_DISPATCH)", errno);
    return false;
  }
  config->expected_result = kSudFloorAnswer;
  config->io_selector = &g_floor_selector;
  return true;
}

bool SetUpSudSignal(pid_t parent, WorkerConfig* config, WorkerReply* reply) {
  // Without SANDBOX_POLICY the runtime's constructor arms SUD with a policy
  // that passes every syscall through, which is the path to time.
  unsetenv("SANDBOX_POLICY");
  const char* path = SANDBOX_BIN_DIR "/libsandbox.so";
  if (dlopen(path, RTLD_NOW | RTLD_LOCAL) == nullptr) {
    reply->elapsed_ns = -1;
    snprintf(reply->error, sizeof(reply->error), "dlopen: %s", dlerror());
    return false;
  }
  // The runtime answers any SUD prctl of the program with EBUSY, where the
  // kernel would accept this disarm: EBUSY proves the runtime intercepts.
  if (prctl(kernel::kPrSetSyscallUserDispatch, kernel::kSudOff, 0, 0, 0) !=
          -1 ||
      errno != EBUSY) {
    SetError(reply, "the runtime did not arm SUD (probe prctl)", errno);
    return false;
  }
  config->expected_result = parent;
  return true;
}

// The seccomp row's SIGSYS handler: answers the trapped getppid.
// Async-signal-safe.
void SeccompSigsysHandler(int, siginfo_t* info, void* context) {
  if (info->si_code != kernel::kSysSeccomp) return;
  static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RAX] =
      kSeccompAnswer;
}

bool SetUpSeccompTrap(pid_t, WorkerConfig* config, WorkerReply* reply) {
  struct sigaction action = {};
  action.sa_sigaction = SeccompSigsysHandler;
  action.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSYS, &action, nullptr) != 0) {
    SetError(reply, "sigaction(SIGSYS)", errno);
    return false;
  }

  // Traps getppid made through the x86-64 ABI and allows everything else.
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(std::size(filter)), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    SetError(reply, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
    return false;
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    SetError(reply, "prctl(PR_SET_SECCOMP)", errno);
    return false;
  }
  config->expected_result = kSeccompAnswer;
  return true;
}

// Runs in the tracer: resumes `tracee` to its next syscall entry or exit
// until it ends, then ends the same way. Never returns.
[[noreturn]] void TraceUntilExit(pid_t tracee) {
  int status;
  if (waitpid(tracee, &status, 0) != tracee || !WIFSTOPPED(status) ||
      ptrace(PTRACE_SETOPTIONS, tracee, 0,
             PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) != 0) {
    kill(tracee, SIGKILL);
    _exit(1);
  }
  // The first stop is the tracee's own SIGSTOP, which is not passed on.
  int deliver = 0;
  while (true) {
    if (ptrace(PTRACE_SYSCALL, tracee, 0, deliver) != 0) _exit(1);
    if (waitpid(tracee, &status, 0) != tracee) _exit(1);
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
    int signo = WSTOPSIG(status);
    deliver = signo == (SIGTRAP | 0x80) ? 0 : signo;
  }
}

bool SetUpPtrace(pid_t, WorkerConfig* config, WorkerReply* reply) {
  // The worker becomes the tracer; its child, the tracee, goes on to serve
  // the requests over the inherited pipes. The tracer keeps its copies of
  // them, which is harmless: it exits as soon as the tracee does.
  //
  // Both stay on one CPU: every stop hands control from one to the other,
  // and on separate CPUs each hand-over waits for a remote wake-up, which
  // on a VM costs several times the stop itself and varies run to run.
  int cpu = sched_getcpu();
  cpu_set_t one_cpu;
  CPU_ZERO(&one_cpu);
  CPU_SET(cpu >= 0 ? cpu : 0, &one_cpu);
  if (sched_setaffinity(0, sizeof(one_cpu), &one_cpu) != 0) {
    SetError(reply, "sched_setaffinity", errno);
    return false;
  }
  pid_t tracer = getpid();
  pid_t tracee = fork();
  if (tracee < 0) {
    SetError(reply, "fork (tracee)", errno);
    return false;
  }
  if (tracee > 0) TraceUntilExit(tracee);

  if (!DieWithParent(tracer)) _exit(1);
  if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) {
    SetError(reply, "ptrace(PTRACE_TRACEME)", errno);
    return false;
  }
  // Waits here until the tracer has set its options.
  raise(SIGSTOP);
  config->expected_result = tracer;
  return true;
}

// Makes `count` getppid calls and returns their elapsed time, or fills in
// *reply and returns -1 if a call returned something else than expected.
int64_t TimeGetppidLoop(uint64_t count, const WorkerConfig& config,
                        WorkerReply* reply) {
  // The selector flips around the clock reads too: a clock without a vDSO
  // fast path makes a syscall.
  int64_t start = MonotonicNs();
  if (config.io_selector != nullptr) {
    *config.io_selector = kernel::kSelectorBlock;
  }
  long result = config.expected_result;
  for (uint64_t i = 0; i < count; ++i) result = RawGetppid();
  if (config.io_selector != nullptr) {
    *config.io_selector = kernel::kSelectorAllow;
  }
  int64_t elapsed = MonotonicNs() - start;

  if (result != config.expected_result) {
    reply->elapsed_ns = -1;
    snprintf(reply->error, sizeof(reply->error),
             "getppid returned %ld, expected %ld", result,
             config.expected_result);
    return -1;
  }
  return elapsed;
}

// A variant's set-up, run in its worker before it reports ready: returns
// false with *reply filled in on failure. `parent` is the benchmark process.
using SetUpFunction = bool (*)(pid_t parent, WorkerConfig* config,
                               WorkerReply* reply);

// The body of a worker process: sets up, reports ready, then answers timing
// requests until the benchmark closes its end. Never returns.
[[noreturn]] void WorkerMain(SetUpFunction set_up, pid_t parent, int request_fd,
                             int reply_fd) {
  CloseOtherDescriptors(request_fd, reply_fd);
  if (!DieWithParent(parent)) _exit(1);

  WorkerConfig config;
  WorkerReply reply = {};
  bool ready = set_up(parent, &config, &reply);
  if (!WriteFull(reply_fd, &reply, sizeof(reply)) || !ready) _exit(1);

  uint64_t count;
  while (ReadFull(request_fd, &count, sizeof(count))) {
    reply = {};
    int64_t elapsed = TimeGetppidLoop(count, config, &reply);
    if (elapsed >= 0) reply.elapsed_ns = elapsed;
    if (!WriteFull(reply_fd, &reply, sizeof(reply))) _exit(1);
  }
  _exit(0);
}

// ---------------------------------------------------------------------------
// The benchmark side.

// One getppid row: its name after "BM_Getppid/" and its set-up.
struct Variant {
  const char* name;
  SetUpFunction set_up;
};

// In the order they are registered and printed. A fast_path row, for the
// runtime's patched call sites, belongs after sud_signal once it exists.
constexpr Variant kVariants[] = {
    {"raw", SetUpRaw},
    {"sud_floor", SetUpSudFloor},
    {"sud_signal", SetUpSudSignal},
    {"seccomp_trap", SetUpSeccompTrap},
    {"ptrace", SetUpPtrace},
};
constexpr size_t kVariantCount = std::size(kVariants);

// Waits until `fd` is readable or `timeout_ms` passes; returns whether it is
// readable (or at end of file).
bool WaitReadable(int fd, int timeout_ms) {
  pollfd poll_fd = {fd, POLLIN, 0};
  int64_t deadline = MonotonicNs() + int64_t{timeout_ms} * 1'000'000;
  while (true) {
    int left_ms = static_cast<int>(
        std::max<int64_t>(0, deadline - MonotonicNs()) / 1'000'000);
    int ready = poll(&poll_fd, 1, left_ms);
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// Describes how a reaped process ended.
std::string DescribeStatus(int status) {
  if (WIFEXITED(status))
    return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("wait status ", status);
}

// A running worker process, owned: destroying it ends and reaps it.
class Worker {
 public:
  // Forks a worker for `variant` and waits until it reports ready. Returns
  // the worker, or why it could not start (the worker is reaped then).
  static absl::StatusOr<std::unique_ptr<Worker>> Start(const Variant& variant);

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { Stop(); }

  // Has the worker make `count` getppid calls; returns their elapsed time in
  // nanoseconds as the worker measured it. A worker that stops answering is
  // ended and reaped, and the error says how it ended.
  absl::StatusOr<int64_t> Time(uint64_t count);

 private:
  Worker(pid_t pid, int request_fd, int reply_fd)
      : pid_(pid), request_fd_(request_fd), reply_fd_(reply_fd) {}

  // Reads one reply within `timeout_ms`.
  absl::StatusOr<WorkerReply> ReadReply(int timeout_ms);

  // Closes the worker's pipes, which makes it exit, and reaps it, killing
  // it if it does not exit promptly. Returns how it ended.
  std::string Stop();

  pid_t pid_;
  int request_fd_;
  int reply_fd_;
};

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(const Variant& variant) {
  int request[2], reply[2];
  if (pipe2(request, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe2");
  }
  if (pipe2(reply, O_CLOEXEC) != 0) {
    int error = errno;
    close(request[0]);
    close(request[1]);
    return absl::ErrnoToStatus(error, "pipe2");
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) WorkerMain(variant.set_up, parent, request[0], reply[1]);
  int fork_error = errno;
  close(request[0]);
  close(reply[1]);
  if (pid < 0) {
    close(request[1]);
    close(reply[0]);
    return absl::ErrnoToStatus(fork_error, "fork");
  }

  std::unique_ptr<Worker> worker(new Worker(pid, request[1], reply[0]));
  absl::StatusOr<WorkerReply> ready = worker->ReadReply(kReadyTimeoutMs);
  if (!ready.ok()) {
    std::string ending = worker->Stop();
    return absl::UnavailableError(
        absl::StrCat("the ", variant.name, " worker did not start: ",
                     ready.status().message(), "; it ended with ", ending));
  }
  if (ready->elapsed_ns < 0) {
    return absl::UnavailableError(absl::StrCat(
        "the ", variant.name, " worker failed to set up: ", ready->error));
  }
  return worker;
}

absl::StatusOr<int64_t> Worker::Time(uint64_t count) {
  if (!WriteFull(request_fd_, &count, sizeof(count))) {
    return absl::ErrnoToStatus(errno, "writing to the worker");
  }
  absl::StatusOr<WorkerReply> reply = ReadReply(kRunTimeoutMs);
  if (!reply.ok()) {
    std::string ending = Stop();
    return absl::UnavailableError(absl::StrCat(
        reply.status().message(), "; the worker ended with ", ending));
  }
  if (reply->elapsed_ns < 0) return absl::InternalError(reply->error);
  return reply->elapsed_ns;
}

absl::StatusOr<WorkerReply> Worker::ReadReply(int timeout_ms) {
  if (!WaitReadable(reply_fd_, timeout_ms)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no reply within ", timeout_ms, " ms"));
  }
  WorkerReply reply;
  if (!ReadFull(reply_fd_, &reply, sizeof(reply))) {
    return absl::UnavailableError("the worker closed its pipe");
  }
  reply.error[sizeof(reply.error) - 1] = '\0';
  return reply;
}

std::string Worker::Stop() {
  if (pid_ <= 0) return "already reaped";
  close(request_fd_);
  close(reply_fd_);

  // A worker exits as soon as it reads end of file; give it a moment, as a
  // tracer has to see its tracee exit first.
  int status = 0;
  pid_t reaped = 0;
  for (int waited_ms = 0; waited_ms < 2000; ++waited_ms) {
    reaped = waitpid(pid_, &status, WNOHANG);
    if (reaped != 0) break;
    usleep(1000);
  }
  if (reaped == 0) {
    kill(pid_, SIGKILL);
    reaped = waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return reaped > 0 ? DescribeStatus(status) : "unknown status";
}

// The workers, one per variant, started by the variant's first run and kept
// for the rest (or the error that kept a variant's worker from starting).
std::array<std::optional<absl::StatusOr<std::unique_ptr<Worker>>>,
           kVariantCount>
    g_workers;

// Ends and reaps every worker.
void StopAllWorkers() {
  for (auto& worker : g_workers) worker.reset();
}

// Times one getppid row: the worker makes all of the run's iterations in
// one batch and its measured time is the run's manual time.
void BM_Getppid(benchmark::State& state, size_t variant) {
  auto& slot = g_workers[variant];
  if (!slot.has_value()) slot = Worker::Start(kVariants[variant]);
  if (!slot->ok()) {
    state.SkipWithError(std::string(slot->status().message()).c_str());
    return;
  }
  Worker& worker = ***slot;

  while (state.KeepRunningBatch(state.max_iterations)) {
    absl::StatusOr<int64_t> elapsed_ns = worker.Time(state.max_iterations);
    if (!elapsed_ns.ok()) {
      std::string message = absl::StrCat(kVariants[variant].name, ": ",
                                         elapsed_ns.status().message());
      // The worker is in an unknown state: end it, and start afresh in the
      // next run.
      slot.reset();
      state.SkipWithError(message.c_str());
      break;
    }
    state.SetIterationTime(static_cast<double>(*elapsed_ns) * 1e-9);
  }
}

// Times fork, exec and wait of `argv` (argv[0] a path), which must exit 0.
void BM_SandboxTrue(benchmark::State& state,
                    const std::vector<std::string>& args) {
  // Built before the loop: nothing between fork and exec allocates.
  std::vector<char*> argv;
  for (const std::string& arg : args)
    argv.push_back(const_cast<char*>(arg.data()));
  argv.push_back(nullptr);

  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      // Between fork and exec: async-signal-safe calls only. The benchmark
      // ignores SIGPIPE, which exec would otherwise pass on.
      signal(SIGPIPE, SIG_DFL);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    if (pid < 0) {
      state.SkipWithError(absl::StrCat("fork: ", strerror(errno)).c_str());
      break;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError(
          absl::StrCat(args[0], " ended with ", DescribeStatus(status))
              .c_str());
      break;
    }
  }
}

// Passes every report on to the display reporter chosen by the flags, and
// keeps each benchmark's time per iteration for the summary.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  // Does not take ownership of `display`.
  explicit CollectingReporter(benchmark::BenchmarkReporter* display)
      : display_(display) {}

  bool ReportContext(const Context& context) override {
    return display_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& reports) override {
    display_->ReportRuns(reports);
    for (const Run& run : reports) {
      if (run.error_occurred) continue;
      double seconds = run.GetAdjustedRealTime() /
                       benchmark::GetTimeUnitMultiplier(run.time_unit);
      const std::string& name = run.run_name.function_name;
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") medians_[name] = seconds;
      } else {
        runs_[name].push_back(seconds);
      }
    }
  }
  void Finalize() override { display_->Finalize(); }

  // Returns a benchmark's median time per iteration in seconds over this
  // run's repetitions (the library's own median when it reported one).
  std::optional<double> MedianSeconds(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    auto it = runs_.find(name);
    if (it == runs_.end() || it->second.empty()) return std::nullopt;
    std::vector<double> times = it->second;
    std::sort(times.begin(), times.end());
    size_t middle = times.size() / 2;
    return times.size() % 2 == 1 ? times[middle]
                                 : (times[middle - 1] + times[middle]) / 2;
  }

  // Returns whether the summary can go to the display's stream without
  // breaking its format.
  bool DisplayIsConsole() const {
    return dynamic_cast<benchmark::ConsoleReporter*>(display_) != nullptr;
  }
  std::ostream& DisplayStream() const { return display_->GetOutputStream(); }

 private:
  benchmark::BenchmarkReporter* display_;
  std::map<std::string, double> medians_;
  std::map<std::string, std::vector<double>> runs_;
};

// Prints one line with the ratios and the launcher's added time, from this
// run's medians; rows that did not run are left out.
void PrintSummary(const CollectingReporter& reporter) {
  auto median = [&](const char* name) { return reporter.MedianSeconds(name); };
  const std::string heading = "summary (medians):";
  std::string line = heading;
  auto add_ratio = [&](const char* label, const char* top, const char* bottom) {
    std::optional<double> a = median(top), b = median(bottom);
    if (a.has_value() && b.has_value() && *b > 0) {
      absl::StrAppendFormat(&line, " %s %.2fx;", label, *a / *b);
    }
  };
  add_ratio("sud_signal/sud_floor", "BM_Getppid/sud_signal",
            "BM_Getppid/sud_floor");
  add_ratio("sud_floor/raw", "BM_Getppid/sud_floor", "BM_Getppid/raw");
  add_ratio("sud_signal/raw", "BM_Getppid/sud_signal", "BM_Getppid/raw");
  add_ratio("seccomp_trap/raw", "BM_Getppid/seccomp_trap", "BM_Getppid/raw");
  add_ratio("ptrace/raw", "BM_Getppid/ptrace", "BM_Getppid/raw");

  std::optional<double> native = median("BM_SandboxTrue/native");
  std::optional<double> sandboxed = median("BM_SandboxTrue/sandboxed");
  if (native.has_value() && sandboxed.has_value()) {
    double added_ms = (*sandboxed - *native) * 1e3;
    absl::StrAppendFormat(
        &line, " sandbox -- /bin/true adds %.3f ms (%.3f vs %.3f ms, %s)",
        added_ms, *sandboxed * 1e3, *native * 1e3,
        added_ms < 2.0 ? "under the 2 ms goal" : "OVER the 2 ms goal");
  }
  // Nothing ran (a filter that matched nothing, or --benchmark_list_tests).
  if (line == heading) return;
  line += "\n";
  std::ostream& out =
      reporter.DisplayIsConsole() ? reporter.DisplayStream() : std::cerr;
  out << line << std::flush;
}

}  // namespace
}  // namespace sandbox::bench

int main(int argc, char** argv) {
  using namespace sandbox::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // A worker that died must show up as a failed write, not end the run.
  signal(SIGPIPE, SIG_IGN);

  for (size_t i = 0; i < kVariantCount; ++i) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_Getppid/", kVariants[i].name).c_str(),
        [i](benchmark::State& state) { BM_Getppid(state, i); })
        ->UseManualTime();
  }
  const std::vector<std::string> native = {"/bin/true"};
  const std::vector<std::string> sandboxed = {SANDBOX_BIN_DIR "/sandbox", "--",
                                              "/bin/true"};
  benchmark::RegisterBenchmark("BM_SandboxTrue/native", BM_SandboxTrue, native)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_SandboxTrue/sandboxed", BM_SandboxTrue,
                               sandboxed)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);

  CollectingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  StopAllWorkers();
  PrintSummary(reporter);
  benchmark::Shutdown();
  return 0;
}
