// A 100 microsecond interval timer whose handler makes syscalls, while the
// main loop makes 200,000 syscalls: every answer, in the loop and in the
// handler, must be right. Signals arrive while the runtime is busy with a
// syscall of the loop, so this exercises nesting.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>

namespace {

pid_t g_pid, g_ppid;
// Lock-free atomics: safe to update from a signal handler.
std::atomic<int> g_ticks{0};
std::atomic<int> g_handler_errors{0};

void OnAlarm(int) {
  // The handler's own syscalls, while the interrupted loop may be inside
  // one.
  if (syscall(SYS_getppid) != g_ppid) ++g_handler_errors;
  if (syscall(SYS_getpid) != g_pid) ++g_handler_errors;
  ++g_ticks;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 200000;
  g_pid = getpid();
  g_ppid = getppid();

  struct sigaction action = {};
  action.sa_handler = OnAlarm;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  struct itimerval timer = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &timer, nullptr);

  long loop_errors = 0;
  for (long i = 0; i < iterations; ++i) {
    long expected = (i & 1) ? g_pid : g_ppid;
    long got = syscall((i & 1) ? SYS_getpid : SYS_getppid);
    if (got != expected) ++loop_errors;
  }

  struct itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  printf("loop_errors=%ld handler_errors=%d ticked=%d\n", loop_errors,
         g_handler_errors.load(), g_ticks.load() > 0);
  return loop_errors == 0 && g_handler_errors == 0 ? 0 : 1;
}
