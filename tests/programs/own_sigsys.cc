// A program that uses SIGSYS itself: it installs its own handler, raises
// SIGSYS, blocks SIGSYS with sigprocmask and with a full mask, and makes
// syscalls that a sandbox may deny. It prints what it observes; under the
// sandbox the output must match a native run except for the denied calls.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "tests/programs/raw_uname.h"

namespace {

std::atomic<int> g_handler_runs{0};
std::atomic<int> g_last_code{0};

void OnSigsys(int, siginfo_t* info, void*) {
  ++g_handler_runs;
  g_last_code = info->si_code;
}

const char* Describe(long result) {
  return result == 0 ? "ok" : strerrorname_np(static_cast<int>(-result));
}

bool SigsysBlocked() {
  sigset_t current;
  sigprocmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, SIGSYS);
}

}  // namespace

int main() {
  struct sigaction action = {};
  action.sa_sigaction = OnSigsys;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGUSR2);
  if (sigaction(SIGSYS, &action, nullptr) != 0) {
    perror("sigaction");
    return 1;
  }

  raise(SIGSYS);
  printf("after raise: handler_runs=%d code_is_tkill=%d\n",
         g_handler_runs.load(), g_last_code.load() == SI_TKILL);

  // Read the disposition back.
  struct sigaction readback = {};
  sigaction(SIGSYS, nullptr, &readback);
  printf("readback: is_ours=%d siginfo=%d restart=%d usr2_in_mask=%d\n",
         readback.sa_sigaction == OnSigsys,
         (readback.sa_flags & SA_SIGINFO) != 0,
         (readback.sa_flags & SA_RESTART) != 0,
         sigismember(&readback.sa_mask, SIGUSR2));

  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGSYS);
  sigprocmask(SIG_BLOCK, &block, nullptr);
  printf("blocked one: sigsys_blocked=%d uname=%s getpid_ok=%d\n",
         SigsysBlocked(), Describe(RawUname()), getpid() > 0);

  sigset_t full;
  sigfillset(&full);
  sigprocmask(SIG_SETMASK, &full, nullptr);
  printf("blocked all: sigsys_blocked=%d uname=%s\n", SigsysBlocked(),
         Describe(RawUname()));
  sigset_t current;
  sigprocmask(SIG_SETMASK, nullptr, &current);
  int members = 0;
  for (int signo = 1; signo < NSIG; ++signo) {
    members += sigismember(&current, signo) == 1;
  }
  printf("full mask members=%d\n", members);

  // A SIGSYS raised while blocked waits, and arrives once unblocked.
  raise(SIGSYS);
  printf("raised while blocked: handler_runs=%d\n", g_handler_runs.load());
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  printf("unblocked: handler_runs=%d sigsys_blocked=%d uname=%s\n",
         g_handler_runs.load(), SigsysBlocked(), Describe(RawUname()));

  // Ignoring SIGSYS must not make the next dispatch fatal.
  signal(SIGSYS, SIG_IGN);
  raise(SIGSYS);
  printf("ignored: handler_runs=%d uname=%s\n", g_handler_runs.load(),
         Describe(RawUname()));
  struct sigaction ignored = {};
  sigaction(SIGSYS, nullptr, &ignored);
  printf("readback ignored: %d\n", ignored.sa_handler == SIG_IGN);
  return 0;
}
