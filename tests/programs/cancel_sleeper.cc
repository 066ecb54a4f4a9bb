// Cancels a thread blocked in a sleep whose libc syscall site has run
// before (so a rewriting sandbox has rewritten it), and checks that the
// cancellation unwound the thread's stack: its C++ destructor and its
// cleanup handler ran and pthread_join reports PTHREAD_CANCELED. The
// unwinder has to walk from the signal frame, through whatever code the
// thread was blocked in, back into this program.
//
// Prints one line and exits 0 only when all of that happened.
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace {

std::atomic<bool> g_destructor_ran{false};
std::atomic<bool> g_cleanup_ran{false};
std::atomic<bool> g_sleeping{false};

struct Witness {
  ~Witness() { g_destructor_ran = true; }
};

void Cleanup(void*) { g_cleanup_ran = true; }

void* Sleeper(void*) {
  Witness witness;
  pthread_cleanup_push(Cleanup, nullptr);
  // Short sleeps first: the site's first execution, then a few through
  // whatever path it takes from then on.
  for (int i = 0; i < 20; ++i) {
    timespec short_sleep = {0, 100 * 1000};
    nanosleep(&short_sleep, nullptr);
  }
  g_sleeping = true;
  timespec long_sleep = {30, 0};
  nanosleep(&long_sleep, nullptr);
  pthread_cleanup_pop(0);
  return nullptr;
}

}  // namespace

int main() {
  pthread_t thread;
  if (pthread_create(&thread, nullptr, Sleeper, nullptr) != 0) return 1;
  while (!g_sleeping) usleep(1000);
  usleep(50 * 1000);  // well into the long sleep
  pthread_cancel(thread);
  void* result = nullptr;
  pthread_join(thread, &result);
  bool cancelled = result == PTHREAD_CANCELED;
  printf("cancelled=%d destructor=%d cleanup=%d\n", cancelled,
         g_destructor_ran.load(), g_cleanup_ran.load());
  return cancelled && g_destructor_ran && g_cleanup_ran ? 0 : 1;
}
