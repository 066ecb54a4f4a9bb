// Keeps signals pending across a checkpoint: SIGUSR1 raised at the main
// thread, two SIGRTMIN+1 queued for the process with the values 7 and 8,
// and SIGUSR2 sent to a second thread, all blocked; and an alarm 100 s
// away, which must still be running afterwards. It logs "ready", waits
// for a trigger file, then takes each signal with sigtimedwait and logs
// what it found, one line, exiting 0 if everything was there.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "tests/programs/keeper.h"

namespace {

std::atomic<bool> g_usr2_ok{false};
const char* g_trigger;

// Takes `signo` if it is pending, without waiting; its siginfo in *info.
bool Take(int signo, siginfo_t* info) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  struct timespec now = {0, 0};
  return sigtimedwait(&one, info, &now) == signo;
}

// Whether a signal came from kill, tgkill or raise, as these did.
bool SentByUser(const siginfo_t& info) {
  return (info.si_code == SI_USER || info.si_code == SI_TKILL) &&
         info.si_pid == getpid();
}

void* Second(void*) {
  WaitForTrigger(g_trigger);
  siginfo_t info;
  g_usr2_ok = Take(SIGUSR2, &info) && SentByUser(info);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;  // LOG TRIGGER
  FILE* log = OpenKeeperLog(argv[1]);
  if (log == nullptr) return 2;
  g_trigger = argv[2];

  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigaddset(&blocked, SIGUSR2);
  sigaddset(&blocked, SIGRTMIN + 1);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  pthread_t second;
  if (pthread_create(&second, nullptr, Second, nullptr) != 0) return 2;
  raise(SIGUSR1);
  for (int value : {7, 8}) {
    union sigval payload;
    payload.sival_int = value;
    sigqueue(getpid(), SIGRTMIN + 1, payload);
  }
  pthread_kill(second, SIGUSR2);
  alarm(100);
  fprintf(log, "ready\n");

  WaitForTrigger(g_trigger);
  pthread_join(second, nullptr);
  siginfo_t info;
  bool usr1 = Take(SIGUSR1, &info) && SentByUser(info);
  int values[2] = {0, 0};
  for (int& value : values) {
    if (Take(SIGRTMIN + 1, &info) && info.si_code == SI_QUEUE) {
      value = info.si_value.sival_int;
    }
  }
  bool extra = Take(SIGRTMIN + 1, &info);
  unsigned left = alarm(0);
  bool alarm_ok = left > 0 && left <= 100;
  fprintf(log, "usr1 %d rt %d,%d extra %d usr2 %d alarm %d\n", usr1, values[0],
          values[1], extra, g_usr2_ok.load(), alarm_ok);
  bool all_ok = usr1 && values[0] == 7 && values[1] == 8 && !extra &&
                g_usr2_ok && alarm_ok;
  return all_ok ? 0 : 1;
}
