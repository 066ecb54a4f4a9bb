#include "sandbox/ckpt/frozen_process.h"

#include <dirent.h>
#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sandbox/ckpt/ptrace_util.h"

namespace sandbox::ckpt {
namespace {

absl::Status PtraceError(absl::string_view what, pid_t tid, long error) {
  std::string message =
      absl::StrCat(what, " of thread ", tid, ": ", strerror(-error));
  if (error == -ESRCH) return absl::NotFoundError(message);
  if (error == -EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

std::set<pid_t> ListThreads(pid_t pid) {
  std::set<pid_t> tids;
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (dir == nullptr) return tids;
  while (struct dirent* entry = readdir(dir)) {
    pid_t tid;
    if (absl::SimpleAtoi(entry->d_name, &tid)) tids.insert(tid);
  }
  closedir(dir);
  return tids;
}

// How many times a thread being frozen may be let go to take a signal.
constexpr int kMaxSignalRounds = 1000;

// Whether a signal the thread does not block is pending for it (its own
// or its process's), so that it would take it as soon as it runs.
bool HasSignalWaiting(pid_t tid) {
  std::ifstream status(absl::StrCat("/proc/", tid, "/status"));
  std::string line;
  uint64_t pending = 0, blocked = 0;
  while (std::getline(status, line)) {
    uint64_t value = 0;
    auto field = [&](absl::string_view name) {
      return absl::StartsWith(line, name) &&
             absl::SimpleHexAtoi(
                 absl::StripAsciiWhitespace(line.substr(name.size())), &value);
    };
    if (field("SigPnd:") || field("ShdPnd:")) {
      pending |= value;
    } else if (field("SigBlk:")) {
      blocked = value;
    }
  }
  return (pending & ~blocked) != 0;
}

// Whether the running thread `tid` reaches a stop within about a
// millisecond; the stop is left for WaitForStop to collect.
bool StopsSoon(pid_t tid) {
  for (int tries = 0; tries < 20; ++tries) {
    siginfo_t info = {};
    if (waitid(P_PID, static_cast<id_t>(tid), &info,
               WSTOPPED | WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 &&
        info.si_pid == tid) {
      return true;
    }
    usleep(50);
  }
  return false;
}

// Waits for `tid` to stop; returns its wait status.
absl::StatusOr<int> WaitForStop(pid_t tid) {
  int status = 0;
  for (;;) {
    pid_t got = waitpid(tid, &status, __WALL);
    if (got == tid) break;
    if (got < 0 && errno == EINTR) continue;
    return absl::NotFoundError(
        absl::StrCat("thread ", tid, " vanished while stopping"));
  }
  if (!WIFSTOPPED(status)) {
    return absl::NotFoundError(
        absl::StrCat("thread ", tid, " ended while stopping"));
  }
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FrozenProcess>> FrozenProcess::Freeze(
    pid_t pid) {
  if (pid <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad process id ", pid));
  }
  if (kill(pid, 0) != 0) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  std::unique_ptr<FrozenProcess> process(new FrozenProcess(pid));
  absl::Status status = process->SeizeAll();
  if (!status.ok()) return status;  // the destructor thaws what was seized
  return process;
}

absl::Status FrozenProcess::SeizeAll() {
  std::set<pid_t> seized;
  // Threads created while the others were being stopped show up on the
  // next pass; once every thread is stopped, no new one can appear.
  for (;;) {
    std::set<pid_t> tids = ListThreads(pid_);
    if (tids.empty()) {
      return absl::NotFoundError(absl::StrCat("no process ", pid_));
    }
    bool added = false;
    for (pid_t tid : tids) {
      if (seized.count(tid) != 0) continue;
      // Syscall stops marked as such, for injections (StepSyscall).
      long result = Ptrace(PTRACE_SEIZE, tid, 0,
                           reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD));
      if (result == -ESRCH) continue;  // exited meanwhile
      if (result < 0) return PtraceError("PTRACE_SEIZE", tid, result);
      seized.insert(tid);
      FrozenThread thread;
      thread.tid = tid;
      threads_.push_back(thread);
      result = Ptrace(PTRACE_INTERRUPT, tid, 0, nullptr);
      if (result < 0) return PtraceError("PTRACE_INTERRUPT", tid, result);
      // A signal may be on its way to the thread (a SUD dispatch, say):
      // it either stops the thread first, or waits while the interrupt
      // stop, which comes first, holds the thread. Let every such signal
      // through to the program and stop the thread again, so that each
      // frozen thread sits in an interrupt stop with nothing in flight (its
      // handler, set up, not yet run). A signal the thread blocks stays
      // pending, as it would.
      for (int round = 0;; ++round) {
        absl::StatusOr<int> stop = WaitForStop(tid);
        if (!stop.ok()) return stop.status();
        if (round == kMaxSignalRounds) {
          return absl::UnavailableError(absl::StrCat(
              "thread ", tid, " keeps receiving signals; try again"));
        }
        if ((*stop >> 16) == PTRACE_EVENT_STOP) {
          if (!HasSignalWaiting(tid)) break;
          // An interrupt stop comes before the signal: let the thread run
          // until it stops for the signal (or, should another thread have
          // taken it, for a while), then interrupt it again.
          if ((result = Ptrace(PTRACE_CONT, tid, 0, nullptr)) < 0) {
            return PtraceError("PTRACE_CONT", tid, result);
          }
          if (!StopsSoon(tid)) {
            result = Ptrace(PTRACE_INTERRUPT, tid, 0, nullptr);
            if (result < 0) return PtraceError("PTRACE_INTERRUPT", tid, result);
          }
          continue;
        }
        long signo = WSTOPSIG(*stop);
        if ((result = Ptrace(PTRACE_CONT, tid, 0,
                             reinterpret_cast<void*>(signo))) < 0 ||
            (result = Ptrace(PTRACE_INTERRUPT, tid, 0, nullptr)) < 0) {
          return PtraceError("PTRACE_CONT", tid, result);
        }
      }
      FrozenThread& frozen = threads_.back();
      result = Ptrace(PTRACE_GETREGS, tid, 0, &frozen.regs);
      if (result < 0) return PtraceError("PTRACE_GETREGS", tid, result);
      result = Ptrace(PTRACE_GETSIGMASK, tid, sizeof(frozen.sigmask),
                      &frozen.sigmask);
      if (result < 0) return PtraceError("PTRACE_GETSIGMASK", tid, result);
      result = Ptrace(kernel::kPtraceGetSudConfig, tid, sizeof(frozen.sud),
                      &frozen.sud);
      if (result < 0) {
        return PtraceError("PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG", tid,
                           result);
      }
      added = true;
    }
    if (!added) return absl::OkStatus();
  }
}

FrozenProcess::~FrozenProcess() { Thaw().IgnoreError(); }

absl::StatusOr<uint64_t> FrozenProcess::FindSyscallInstruction() {
  if (syscall_instruction_ != 0) return syscall_instruction_;
  std::ifstream maps(absl::StrCat("/proc/", pid_, "/maps"));
  std::string line;
  while (std::getline(maps, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 2 || fields[1].size() < 3 || fields[1][0] != 'r' ||
        fields[1][2] != 'x') {
      continue;
    }
    std::vector<std::string> range = absl::StrSplit(fields[0], '-');
    uint64_t begin, end;
    if (range.size() != 2 || !absl::SimpleHexAtoi(range[0], &begin) ||
        !absl::SimpleHexAtoi(range[1], &end)) {
      continue;
    }
    std::vector<uint8_t> code(std::min<uint64_t>(end - begin, 1 << 20));
    struct iovec local = {code.data(), code.size()};
    struct iovec remote = {reinterpret_cast<void*>(begin), code.size()};
    ssize_t got = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    for (ssize_t i = 0; i + 1 < got; ++i) {
      if (code[i] == 0x0f && code[i + 1] == 0x05) {
        syscall_instruction_ = begin + static_cast<uint64_t>(i);
        return syscall_instruction_;
      }
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "process ", pid_, " has no syscall instruction to inject through"));
}

absl::StatusOr<long> FrozenProcess::Inject(size_t index, long nr,
                                           std::vector<uint64_t> args) {
  FrozenThread& thread = threads_.at(index);
  absl::StatusOr<uint64_t> instruction = FindSyscallInstruction();
  if (!instruction.ok()) return instruction.status();

  // A dispatched injection would run the program's own SIGSYS handler (and
  // kill a thread whose selector blocks with SIGSYS blocked): SUD is off
  // until Thaw puts the exact configuration back.
  if (thread.sud.mode != kernel::kSudOff && !thread.sud_changed) {
    kernel::PtraceSudConfig off = {};
    long result =
        Ptrace(kernel::kPtraceSetSudConfig, thread.tid, sizeof(off), &off);
    if (result < 0) {
      return PtraceError("PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG", thread.tid,
                         result);
    }
    thread.sud_changed = true;
  }

  // No signal of the program's may be delivered into the injected context.
  if (!thread.sigmask_changed) {
    uint64_t all = ~0ULL;
    long result = Ptrace(PTRACE_SETSIGMASK, thread.tid, sizeof(all), &all);
    if (result < 0) {
      return PtraceError("PTRACE_SETSIGMASK", thread.tid, result);
    }
    thread.sigmask_changed = true;
  }

  thread.regs_changed = true;
  int signal_stop = 0;
  absl::StatusOr<long> result = StepSyscall(
      thread.tid, thread.regs, *instruction, nr, std::move(args), &signal_stop);
  if (signal_stop != 0) thread.held_signal = signal_stop;
  return result;
}

absl::Status FrozenProcess::PutBack() {
  absl::Status first_error;
  for (FrozenThread& thread : threads_) {
    if (thread.regs_changed) {
      long result = Ptrace(PTRACE_SETREGS, thread.tid, 0, &thread.regs);
      if (result < 0 && first_error.ok()) {
        first_error = PtraceError("PTRACE_SETREGS", thread.tid, result);
      }
    }
    if (thread.sigmask_changed) {
      long result = Ptrace(PTRACE_SETSIGMASK, thread.tid,
                           sizeof(thread.sigmask), &thread.sigmask);
      if (result < 0 && first_error.ok()) {
        first_error = PtraceError("PTRACE_SETSIGMASK", thread.tid, result);
      }
    }
    if (thread.sud_changed) {
      long result = Ptrace(kernel::kPtraceSetSudConfig, thread.tid,
                           sizeof(thread.sud), &thread.sud);
      if (result < 0 && first_error.ok()) {
        first_error = PtraceError("PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG",
                                  thread.tid, result);
      }
    }
    // What could not be put back stays marked, to be tried again.
    if (first_error.ok()) {
      thread.regs_changed = thread.sigmask_changed = thread.sud_changed = false;
    }
  }
  return first_error;
}

absl::Status FrozenProcess::Thaw() {
  if (thawed_) return absl::OkStatus();
  thawed_ = true;
  absl::Status first_error = PutBack();
  for (FrozenThread& thread : threads_) {
    Ptrace(PTRACE_DETACH, thread.tid, 0,
           reinterpret_cast<void*>(static_cast<long>(thread.held_signal)));
  }
  return first_error;
}

absl::Status FrozenProcess::Kill() {
  thawed_ = true;
  if (kill(pid_, SIGKILL) != 0) {
    return absl::InternalError(
        absl::StrCat("kill ", pid_, ": ", strerror(errno)));
  }
  // Collect the exit of every traced thread so none lingers as traced. The
  // leader's exit is reported only once the others are reaped: it comes
  // last.
  for (int leader_last = 0; leader_last < 2; ++leader_last) {
    for (const FrozenThread& thread : threads_) {
      if ((thread.tid == pid_) != (leader_last == 1)) continue;
      int status;
      while (waitpid(thread.tid, &status, __WALL) < 0 && errno == EINTR) {
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace sandbox::ckpt
