// Creates and joins many more threads than the runtime has per-thread
// records at once, so records must be given back when threads exit, and
// forks from a multithreaded process.
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

namespace {

std::atomic<long> g_sum{0};

void* Body(void* arg) {
  g_sum += reinterpret_cast<long>(arg) + (syscall(SYS_getppid) > 0);
  return nullptr;
}

}  // namespace

int main() {
  constexpr int kRounds = 1250;
  constexpr int kWidth = 8;  // threads alive at once
  for (int round = 0; round < kRounds; ++round) {
    pthread_t threads[kWidth];
    for (int i = 0; i < kWidth; ++i) {
      pthread_create(&threads[i], nullptr, Body, reinterpret_cast<void*>(1L));
    }
    for (pthread_t thread : threads) pthread_join(thread, nullptr);
  }
  printf("threads=%d sum=%ld\n", kRounds * kWidth, g_sum.load());

  // Fork while other threads run: the child has one thread and must work.
  pthread_t busy;
  pthread_create(&busy, nullptr, Body, reinterpret_cast<void*>(0L));
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t child_thread;
    pthread_create(&child_thread, nullptr, Body, reinterpret_cast<void*>(0L));
    pthread_join(child_thread, nullptr);
    _exit(getppid() > 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  pthread_join(busy, nullptr);
  printf("fork child exit=%d\n", WEXITSTATUS(status));
  return 0;
}
