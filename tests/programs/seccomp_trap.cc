// A program that installs a seccomp filter returning SECCOMP_RET_TRAP for
// getppid and answers the trap in its own SIGSYS handler, as emulators do.
// Its handler must see the seccomp SIGSYS, and its answer must reach the
// call, under the sandbox as natively.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>

namespace {

constexpr long kAnswer = 4242;
std::atomic<int> g_traps{0};
std::atomic<int> g_wrong_info{0};

void OnSigsys(int, siginfo_t* info, void* context) {
  ++g_traps;
  if (info->si_code != 1 /* SYS_SECCOMP */ || info->si_syscall != SYS_getppid) {
    ++g_wrong_info;
  }
  auto* frame = static_cast<ucontext_t*>(context);
  frame->uc_mcontext.gregs[REG_RAX] = kAnswer;
}

}  // namespace

int main() {
  struct sigaction action = {};
  action.sa_sigaction = OnSigsys;
  action.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &action, nullptr);

  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {sizeof(filter) / sizeof(filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("seccomp");
    return 1;
  }

  long answers = 0;
  for (int i = 0; i < 1000; ++i) answers += syscall(SYS_getppid) == kAnswer;
  printf("seccomp: answers=%ld traps=%d wrong_info=%d pid_ok=%d\n", answers,
         g_traps.load(), g_wrong_info.load(), getpid() > 0);
  return 0;
}
