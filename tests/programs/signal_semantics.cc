// The program's own signal handling, which the runtime must not disturb:
// SA_RESTART and its absence on a blocking read, SA_ONSTACK on an
// alternate stack, SA_SIGINFO, siglongjmp out of a handler, and a handler
// that blocks a signal for after its return by editing uc_sigmask while
// the thread waits in a syscall.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace {

void OnAlarm(int) {}

int g_pipe[2];

void* WriteLater(void*) {
  usleep(200 * 1000);
  write(g_pipe[1], "x", 1);
  return nullptr;
}

// A blocking read interrupted by SIGALRM after 50 ms; the data comes at
// 200 ms. Returns what read returned, or -errno.
long ReadThroughAlarm(int flags) {
  struct sigaction action = {};
  action.sa_handler = OnAlarm;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  pipe(g_pipe);
  pthread_t writer;
  pthread_create(&writer, nullptr, WriteLater, nullptr);
  struct itimerval once = {{0, 0}, {0, 50 * 1000}};
  setitimer(ITIMER_REAL, &once, nullptr);
  char byte;
  long result = read(g_pipe[0], &byte, 1);
  if (result < 0) result = -errno;
  pthread_join(writer, nullptr);
  close(g_pipe[0]);
  close(g_pipe[1]);
  return result;
}

char g_altstack[65536];
std::atomic<int> g_on_altstack{-1};
std::atomic<int> g_info_ok{0};

void OnUsr1(int signo, siginfo_t* info, void*) {
  char here;
  g_on_altstack =
      &here >= g_altstack && &here < g_altstack + sizeof(g_altstack);
  g_info_ok =
      signo == SIGUSR1 && info->si_signo == SIGUSR1 && info->si_pid == getpid();
}

sigjmp_buf g_jump;

void OnUsr2(int) { siglongjmp(g_jump, 1); }

}  // namespace

// Blocks SIGURG for the code the handler returns to.
void BlockUrgOnReturn(int, siginfo_t*, void* context) {
  sigaddset(&static_cast<ucontext_t*>(context)->uc_sigmask, SIGURG);
}

// A blocking read interrupted by a handler that edits its uc_sigmask:
// returns whether SIGURG is blocked afterwards.
bool MaskEditOutlivesHandler() {
  struct sigaction action = {};
  action.sa_sigaction = BlockUrgOnReturn;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGALRM, &action, nullptr);
  pipe(g_pipe);
  pthread_t writer;
  pthread_create(&writer, nullptr, WriteLater, nullptr);
  struct itimerval once = {};
  once.it_value.tv_usec = 50 * 1000;
  setitimer(ITIMER_REAL, &once, nullptr);
  char byte;
  read(g_pipe[0], &byte, 1);
  pthread_join(writer, nullptr);
  close(g_pipe[0]);
  close(g_pipe[1]);
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  bool blocked = sigismember(&mask, SIGURG);
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  sigprocmask(SIG_UNBLOCK, &urg, nullptr);
  return blocked;
}

int main() {
  long restarted = ReadThroughAlarm(SA_RESTART);
  long interrupted = ReadThroughAlarm(0);
  printf("read with SA_RESTART: %ld\n", restarted);
  printf("read without SA_RESTART: %s\n",
         interrupted < 0 ? strerrorname_np(static_cast<int>(-interrupted))
                         : "data");

  stack_t alt = {};
  alt.ss_sp = g_altstack;
  alt.ss_size = sizeof(g_altstack);
  sigaltstack(&alt, nullptr);
  struct sigaction action = {};
  action.sa_sigaction = OnUsr1;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
  raise(SIGUSR1);
  stack_t readback = {};
  sigaltstack(nullptr, &readback);
  printf(
      "altstack: handler_on_it=%d siginfo_ok=%d readback_ok=%d\n",
      g_on_altstack.load(), g_info_ok.load(),
      readback.ss_sp == g_altstack && readback.ss_size == sizeof(g_altstack));

  signal(SIGUSR2, OnUsr2);
  int jumps = 0;
  for (int i = 0; i < 1000; ++i) {
    if (sigsetjmp(g_jump, 1) == 0) {
      raise(SIGUSR2);
    } else {
      ++jumps;
    }
  }
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  printf("siglongjmp: jumps=%d usr2_blocked_after=%d pid_ok=%d\n", jumps,
         sigismember(&mask, SIGUSR2), getpid() > 0);
  printf("uc_sigmask edit outlives the handler: %d\n",
         MaskEditOutlivesHandler());
  return 0;
}
