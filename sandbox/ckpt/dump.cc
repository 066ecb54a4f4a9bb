#include "sandbox/ckpt/dump.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sandbox/ckpt/capture.h"
#include "sandbox/ckpt/frozen_process.h"
#include "sandbox/ckpt/image_dir.h"
#include "sandbox/ckpt/image_format.h"
#include "sandbox/ckpt/ptrace_util.h"
#include "sandbox/common/kernel_abi.h"

namespace sandbox::ckpt {
namespace {

// The signals that end a dump.
constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Signals that would end the tool are held while the process is frozen;
// each step checks whether one came.
class HeldSignals {
 public:
  HeldSignals() {
    sigemptyset(&held_);
    for (int signo : kEndingSignals) sigaddset(&held_, signo);
    sigprocmask(SIG_BLOCK, &held_, &saved_);
  }
  // A signal that ended the dump stays held: the caller reports it first.
  ~HeldSignals() {
    if (SignalThatEndedDump() == 0) sigprocmask(SIG_SETMASK, &saved_, nullptr);
  }
  absl::Status Check() const {
    if (int signo = SignalThatEndedDump()) {
      const char* name = sigabbrev_np(signo);
      return absl::CancelledError(
          absl::StrCat("interrupted by SIG", name != nullptr ? name : "?",
                       " before the dump was complete"));
    }
    return absl::OkStatus();
  }

 private:
  sigset_t held_, saved_;
};

std::string ReadLink(const std::string& path) {
  char buffer[4096];
  ssize_t length = readlink(path.c_str(), buffer, sizeof(buffer) - 1);
  return length < 0 ? std::string() : std::string(buffer, length);
}

// Per-thread state that ptrace reports directly.
absl::Status CaptureThread(const FrozenThread& frozen, ThreadImage* thread) {
  thread->tid = frozen.tid;
  std::ifstream comm(absl::StrCat("/proc/", frozen.tid, "/comm"));
  std::getline(comm, thread->name);
  thread->regs = frozen.regs;
  thread->sigmask = frozen.sigmask;
  thread->sud = frozen.sud;
  std::vector<uint8_t> xstate(64 * 1024);
  struct iovec io = {xstate.data(), xstate.size()};
  long result = Ptrace(PTRACE_GETREGSET, frozen.tid, NT_X86_XSTATE, &io);
  if (result < 0) {
    return absl::InternalError(
        absl::StrCat("PTRACE_GETREGSET(NT_X86_XSTATE) of thread ", frozen.tid,
                     ": ", strerror(-result)));
  }
  thread->xstate.assign(reinterpret_cast<char*>(xstate.data()), io.iov_len);
  result = Ptrace(kernel::kPtraceGetRseqConfiguration, frozen.tid,
                  sizeof(thread->rseq), &thread->rseq);
  if (result < 0) thread->rseq = {};
  // The robust futex list can be asked for from outside.
  void* head = nullptr;
  size_t length = 0;
  if (syscall(SYS_get_robust_list, frozen.tid, &head, &length) == 0) {
    thread->robust_list = reinterpret_cast<uint64_t>(head);
    thread->robust_list_length = length;
  }
  return absl::OkStatus();
}

// Appends the signals queued for thread `tid` (or, with `shared`, for its
// whole process) to `pending`, oldest first, as PTRACE_PEEKSIGINFO reads
// them without taking them.
absl::Status CapturePendingSignals(pid_t tid, bool shared,
                                   std::vector<PendingSignal>* pending) {
  static_assert(sizeof(siginfo_t) == kSiginfoSize);
  for (uint64_t offset = 0;; offset += 32) {
    struct __ptrace_peeksiginfo_args which = {};
    which.off = offset;
    which.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0;
    which.nr = 32;
    siginfo_t infos[32];
    long got = Ptrace(PTRACE_PEEKSIGINFO, tid,
                      reinterpret_cast<uint64_t>(&which), infos);
    if (got < 0) {
      return absl::InternalError(absl::StrCat("PTRACE_PEEKSIGINFO of thread ",
                                              tid, ": ", strerror(-got)));
    }
    for (long i = 0; i < got; ++i) {
      PendingSignal signal;
      signal.tid = shared ? 0 : tid;
      signal.siginfo.assign(reinterpret_cast<const char*>(&infos[i]),
                            sizeof(siginfo_t));
      pending->push_back(std::move(signal));
    }
    if (got < 32) return absl::OkStatus();
  }
}

// What the kernel shows of the process in /proc, and what prlimit reads.
absl::Status CaptureProcess(pid_t pid, ProcessImage* image) {
  std::string proc = absl::StrCat("/proc/", pid);
  // POSIX timers live in the kernel, with ids the program holds.
  std::ifstream timers(proc + "/timers");
  std::string timer;
  if (std::getline(timers, timer) && !timer.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", pid,
        " has POSIX timers (timer_create), which sandbox-ckpt cannot restore"));
  }
  image->pid = pid;
  image->exe = ReadLink(proc + "/exe");
  image->cwd = ReadLink(proc + "/cwd");
  std::ifstream status(proc + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "Umask:")) {
      image->umask =
          static_cast<uint32_t>(strtoul(line.c_str() + 6, nullptr, 8));
    }
  }
  // The mm layout: fields 26-28 and 45-51 of /proc/PID/stat, counted after
  // the command name, which may hold spaces.
  std::ifstream stat_file(proc + "/stat");
  std::string stat_text((std::istreambuf_iterator<char>(stat_file)),
                        std::istreambuf_iterator<char>());
  size_t name_end = stat_text.rfind(')');
  if (name_end == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  std::vector<std::string> stat = absl::StrSplit(stat_text.substr(name_end + 2),
                                                 ' ', absl::SkipWhitespace());
  // stat[0] is field 3.
  auto field = [&stat](int number) -> uint64_t {
    uint64_t value = 0;
    if (number - 3 < static_cast<int>(stat.size())) {
      absl::SimpleAtoi(stat[number - 3], &value);
    }
    return value;
  };
  MmLayout& mm = image->mm;
  mm.start_code = field(26);
  mm.end_code = field(27);
  mm.start_stack = field(28);
  mm.start_data = field(45);
  mm.end_data = field(46);
  mm.start_brk = field(47);
  mm.arg_start = field(48);
  mm.arg_end = field(49);
  mm.env_start = field(50);
  mm.env_end = field(51);
  std::ifstream auxv(proc + "/auxv", std::ios::binary);
  image->auxv.assign((std::istreambuf_iterator<char>(auxv)),
                     std::istreambuf_iterator<char>());

  for (int resource = 0; resource < RLIM_NLIMITS; ++resource) {
    struct rlimit limit;
    if (prlimit(pid, static_cast<__rlimit_resource>(resource), nullptr,
                &limit) != 0) {
      return absl::InternalError(
          absl::StrCat("prlimit of ", pid, ": ", strerror(errno)));
    }
    image->rlimits.push_back({limit.rlim_cur, limit.rlim_max});
  }
  return absl::OkStatus();
}

// Signal dispositions and alternate stacks live only in the kernel: they
// are asked for with syscalls made inside the process, into a scratch page
// mapped for the purpose and unmapped after.
absl::Status CaptureByInjection(FrozenProcess& process, ProcessImage* image) {
  absl::StatusOr<long> page = process.Inject(
      0, SYS_mmap,
      {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
       static_cast<uint64_t>(-1), 0});
  if (!page.ok()) return page.status();
  if (*page < 0 && *page > -4096) {
    return absl::InternalError(absl::StrCat(
        "mmap injected into ", process.pid(), ": ", strerror(-*page)));
  }
  uint64_t scratch = static_cast<uint64_t>(*page);
  auto read_scratch = [&](void* out, size_t len) {
    struct iovec local = {out, len};
    struct iovec remote = {reinterpret_cast<void*>(scratch), len};
    return process_vm_readv(process.pid(), &local, 1, &remote, 1, 0) ==
           static_cast<ssize_t>(len);
  };

  absl::Status status;
  for (int signo = 1; signo <= 64 && status.ok(); ++signo) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    absl::StatusOr<long> result = process.Inject(
        0, SYS_rt_sigaction, {static_cast<uint64_t>(signo), 0, scratch, 8});
    kernel::KernelSigaction action = {};
    if (!result.ok()) {
      status = result.status();
    } else if (*result == 0 && read_scratch(&action, sizeof(action))) {
      image->sigactions.push_back({signo, action});
    }
  }
  for (size_t i = 0; i < process.threads().size() && status.ok(); ++i) {
    absl::StatusOr<long> result =
        process.Inject(i, SYS_sigaltstack, {0, scratch});
    stack_t stack = {};
    if (!result.ok()) {
      status = result.status();
    } else if (*result == 0 && read_scratch(&stack, sizeof(stack))) {
      image->threads[i].altstack = stack;
    }
    // Where the kernel clears the thread id at exit: pthread_join waits
    // on it.
    uint64_t tid_address = 0;
    if (status.ok()) {
      result = process.Inject(i, SYS_prctl, {PR_GET_TID_ADDRESS, scratch});
      if (!result.ok()) {
        status = result.status();
      } else if (*result == 0 &&
                 read_scratch(&tid_address, sizeof(tid_address))) {
        image->threads[i].clear_child_tid = tid_address;
      }
    }
  }
  // Interval timers that run (alarm and setitimer), with what is left.
  for (int which : {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF}) {
    if (!status.ok()) break;
    absl::StatusOr<long> result = process.Inject(
        0, SYS_getitimer, {static_cast<uint64_t>(which), scratch});
    ItimerImage timer;
    timer.which = which;
    if (!result.ok()) {
      status = result.status();
    } else if (*result == 0 &&
               read_scratch(&timer.value, sizeof(timer.value)) &&
               (timer.value.it_value.tv_sec != 0 ||
                timer.value.it_value.tv_usec != 0 ||
                timer.value.it_interval.tv_sec != 0 ||
                timer.value.it_interval.tv_usec != 0)) {
      // A periodic ITIMER_REAL that fired reads 0 until its SIGALRM is
      // taken, which re-arms it: it runs on from a whole period.
      if (timer.value.it_value.tv_sec == 0 &&
          timer.value.it_value.tv_usec == 0) {
        timer.value.it_value = timer.value.it_interval;
      }
      image->itimers.push_back(timer);
    }
  }
  // The program break is only known to the kernel.
  if (status.ok()) {
    absl::StatusOr<long> brk = process.Inject(0, SYS_brk, {0});
    if (!brk.ok()) {
      status = brk.status();
    } else {
      image->mm.brk = static_cast<uint64_t>(*brk);
    }
  }
  absl::StatusOr<long> unmapped =
      process.Inject(0, SYS_munmap, {scratch, 4096});
  if (status.ok() && !unmapped.ok()) status = unmapped.status();
  return status;
}

// The process that thread `tid` belongs to, if /proc tells.
std::optional<pid_t> ThreadGroupOf(pid_t tid) {
  std::ifstream status(absl::StrCat("/proc/", tid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    pid_t tgid;
    if (absl::StartsWith(line, "Tgid:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(5)), &tgid)) {
      return tgid;
    }
  }
  return std::nullopt;
}

// Refuses, by name, what ptrace would refuse with a bare EPERM or what
// would make a wrong image: the tool itself, a zombie, a stopped process,
// a kernel thread, or a thread's id in place of its process's.
absl::Status CheckDumpable(pid_t pid) {
  if (pid == getpid()) {
    return absl::InvalidArgumentError("sandbox-ckpt cannot dump itself");
  }
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat_text((std::istreambuf_iterator<char>(stat_file)),
                        std::istreambuf_iterator<char>());
  size_t close_paren = stat_text.rfind(')');
  if (close_paren != std::string::npos) {
    std::vector<std::string> fields =
        absl::StrSplit(stat_text.substr(close_paren + 2), ' ');
    constexpr unsigned kKernelThreadFlag = 0x00200000;  // PF_KTHREAD
    unsigned flags = 0;
    if (!fields.empty() && fields[0] == "Z") {
      return absl::FailedPreconditionError(
          absl::StrCat("process ", pid, " is a zombie"));
    }
    if (!fields.empty() && (fields[0] == "T" || fields[0] == "t")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process ", pid,
          " is stopped (SIGSTOP or a debugger); let it run first"));
    }
    if (fields.size() > 6 && absl::SimpleAtoi(fields[6], &flags) &&
        (flags & kKernelThreadFlag)) {
      return absl::FailedPreconditionError(
          absl::StrCat("process ", pid, " is a kernel thread"));
    }
  }
  // A thread's id would make an image whose process id is wrong.
  if (std::optional<pid_t> tgid = ThreadGroupOf(pid);
      tgid.has_value() && *tgid != pid) {
    return absl::InvalidArgumentError(absl::StrCat(
        pid, " is a thread of process ", *tgid, "; dump takes the process id"));
  }
  return absl::OkStatus();
}

}  // namespace

int SignalThatEndedDump() {
  sigset_t pending;
  sigpending(&pending);
  for (int signo : kEndingSignals) {
    if (sigismember(&pending, signo)) return signo;
  }
  return 0;
}

absl::Status Dump(const DumpOptions& options) {
  absl::Status dumpable = CheckDumpable(options.pid);
  if (!dumpable.ok()) return dumpable;
  HeldSignals held;
  absl::StatusOr<ImageWriter> writer = ImageWriter::Create(options.image_dir);
  if (!writer.ok()) return writer.status();

  absl::StatusOr<std::unique_ptr<FrozenProcess>> frozen =
      FrozenProcess::Freeze(options.pid);
  if (!frozen.ok()) {
    writer->Discard();
    return frozen.status();
  }
  FrozenProcess& process = **frozen;

  // Everything from here either completes the image or discards it; the
  // process is thawed on every path by FrozenProcess.
  auto fail = [&](absl::Status status) {
    writer->Discard();
    absl::Status thawed = process.Thaw();
    return thawed.ok() ? status
                       : absl::InternalError(absl::StrCat(
                             status.message(),
                             "; and thawing failed: ", thawed.message()));
  };

  ProcessImage image;
  for (const FrozenThread& thread : process.threads()) {
    ThreadImage captured;
    absl::Status status = CaptureThread(thread, &captured);
    if (!status.ok()) return fail(status);
    image.threads.push_back(std::move(captured));
  }
  absl::Status status = CaptureProcess(options.pid, &image);
  if (status.ok()) status = held.Check();
  if (status.ok()) status = CaptureFiles(options.pid, &image, &*writer);
  if (status.ok()) status = CaptureByInjection(process, &image);
  // Signals pending now, after the timers were read: one a timer raised
  // while the process was held is among them.
  for (const FrozenThread& thread : process.threads()) {
    if (status.ok()) {
      status =
          CapturePendingSignals(thread.tid, /*shared=*/false, &image.pending);
    }
  }
  if (status.ok()) {
    status = CapturePendingSignals(process.threads().front().tid,
                                   /*shared=*/true, &image.pending);
  }
  // Nothing more is injected: from here on the process is as it was
  // frozen, whatever becomes of the tool.
  if (status.ok()) status = process.PutBack();
  if (status.ok()) status = held.Check();
  if (status.ok()) status = CaptureMemory(options.pid, &image, &*writer);
  if (status.ok()) status = held.Check();
  // Everything the image needs from the process is in hand: a process that
  // is to run on does so now, while the image is finished and verified.
  // Should that fail, the image is discarded and the process runs on as if
  // no dump had been asked for.
  if (status.ok() && options.leave_running) status = process.Thaw();
  if (status.ok()) status = writer->WriteFile("process.img", Encode(image));
  if (status.ok()) status = writer->Finish();
  if (status.ok()) status = ImageReader::Open(options.image_dir).status();
  if (status.ok()) status = held.Check();
  if (!status.ok()) return fail(status);

  if (options.leave_running) return absl::OkStatus();
  return process.Kill();
}

}  // namespace sandbox::ckpt
