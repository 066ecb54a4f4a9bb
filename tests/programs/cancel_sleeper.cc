// Cancels a thread blocked in a sleep whose libc syscall site has run
// before (so a rewriting sandbox has rewritten it), and checks that the
// cancellation unwound the thread's stack: its C++ destructor and its
// cleanup handler ran and pthread_join reports PTHREAD_CANCELED. The
// unwinder has to walk from the signal frame, through whatever code the
// thread was blocked in, back into this program.
//
// Prints one line and exits 0 only when all of that happened.
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

// Prints on stderr how many syscall sites in libc's clock_nanosleep (where
// nanosleep makes its syscall) start with a jump now, as a rewriting
// sandbox leaves them, and how many of those jump to a trampoline that
// makes the syscall itself (it first steps 136 bytes below the stack
// pointer). Native runs print 0.
void ReportRewrittenSites() {
  const auto* code =
      static_cast<const uint8_t*>(dlsym(RTLD_DEFAULT, "clock_nanosleep"));
  if (code == nullptr) return;
  constexpr uint8_t kDirectStart[] = {0x48, 0x8d, 0xa4, 0x24,
                                      0x78, 0xff, 0xff, 0xff};
  int rewritten = 0, direct = 0;
  // The function is short; a syscall instruction preceded by a jump where
  // its `mov $nr, %eax` was is a rewritten site.
  for (int i = 5; i < 512; ++i) {
    if (code[i] != 0x0f || code[i + 1] != 0x05 || code[i - 5] != 0xe9) {
      continue;
    }
    ++rewritten;
    int32_t displacement;
    memcpy(&displacement, code + i - 4, sizeof(displacement));
    const uint8_t* trampoline = code + i + displacement;
    direct += memcmp(trampoline, kDirectStart, sizeof(kDirectStart)) == 0;
  }
  fprintf(stderr, "rewritten sites: %d direct: %d\n", rewritten, direct);
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
  ReportRewrittenSites();
  return cancelled && g_destructor_ran && g_cleanup_ran ? 0 : 1;
}
