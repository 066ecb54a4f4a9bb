// A program that arms Syscall User Dispatch itself, as a small sandbox
// would: its selector stays at block, every syscall it makes arrives in its
// own SIGSYS handler, which answers getppid with a marker and performs the
// rest itself. It ticks into a log file, each tick recording the answer.
// With "sleep" it instead makes one 2-second nanosleep and records how long
// it took and what it returned. A checkpointer that injects a syscall
// without turning SUD off lands in the handler, which counts it as
// unexpected (its number is not one the program makes).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace {

constexpr long kMarker = 4242;
volatile char g_selector = 0;  // 0 allow, 1 block
std::atomic<int> g_unexpected{0};

// Syscalls the program itself makes; any other one arriving here was put
// into the process from outside.
bool IsExpected(long nr) {
  switch (nr) {
    case SYS_getppid:
    case SYS_write:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_newfstatat:
    case SYS_fstat:
    case SYS_exit_group:
    case SYS_getrandom:
    case SYS_brk:
    case SYS_mmap:
    case SYS_munmap:
    case SYS_restart_syscall:
      return true;
    default:
      return false;
  }
}

// Answers getppid, performs everything else with the selector at allow.
void OnSigsys(int, siginfo_t* info, void* context) {
  auto* frame = static_cast<ucontext_t*>(context);
  greg_t* regs = frame->uc_mcontext.gregs;
  g_selector = 0;
  if (info->si_code == 2 && info->si_syscall == SYS_getppid) {
    regs[REG_RAX] = kMarker;
  } else {
    if (!IsExpected(info->si_syscall)) ++g_unexpected;
    long result =
        syscall(info->si_syscall, regs[REG_RDI], regs[REG_RSI], regs[REG_RDX],
                regs[REG_R10], regs[REG_R8], regs[REG_R9]);
    regs[REG_RAX] = result == -1 ? -errno : result;
  }
  g_selector = 1;
}

long Getppid() {
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(SYS_getppid)
               : "rcx", "r11", "memory");
  return result;
}

double Now() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

}  // namespace

// The restorer's rt_sigreturn must run with the selector at allow: the
// handler leaves it at block, so the range below covers the restorer.
extern "C" void TickerRestorer();
asm(R"(
        .text
        .globl TickerRestorer
TickerRestorer:
        movq $15, %rax
        syscall
TickerRestorerEnd:
)");

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  FILE* log = fopen(argv[1], "a");
  if (log == nullptr) return 2;
  setvbuf(log, nullptr, _IOLBF, 0);
  bool sleep_mode = argc > 2 && strcmp(argv[2], "sleep") == 0;

  struct {
    void* handler;
    unsigned long flags;
    void (*restorer)();
    unsigned long mask;
  } action = {reinterpret_cast<void*>(OnSigsys),
              SA_SIGINFO | 0x04000000 /* SA_RESTORER */ | SA_NODEFER,
              TickerRestorer, 0};
  syscall(SYS_rt_sigaction, SIGSYS, &action, nullptr, 8);
  // Allowed range: the restorer's syscall only.
  unsigned long begin = reinterpret_cast<unsigned long>(&TickerRestorer);
  if (prctl(59, 1, begin, 16, &g_selector) != 0) {
    fprintf(log, "arm failed: %s\n", strerror(errno));
    return 1;
  }
  fprintf(log, "armed\n");
  g_selector = 1;

  if (sleep_mode) {
    double start = Now();
    struct timespec two = {2, 0};
    long result = syscall(SYS_nanosleep, &two, nullptr);
    int error = errno;
    fprintf(log, "slept %.2f result %ld %s\n", Now() - start, result,
            result == 0 ? "ok" : strerrorname_np(error));
    return 0;
  }
  for (long tick = 0;; ++tick) {
    long answer = Getppid();
    fprintf(log, "tick %ld answer %ld unexpected %d\n", tick, answer,
            g_unexpected.load());
    usleep(20000);
  }
}
