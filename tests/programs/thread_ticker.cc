// Five threads that each tick into a log file with the result of a raw
// uname syscall, for checkpointing a multithreaded program run under the
// sandbox.
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tests/programs/raw_uname.h"

namespace {

FILE* g_log;

void* Tick(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (long tick = 0;; ++tick) {
    long result = RawUname();
    fprintf(g_log, "thread %ld tick %ld uname %s\n", id, tick,
            result == 0 ? "ok" : strerrorname_np(static_cast<int>(-result)));
    usleep(20000);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  g_log = fopen(argv[1], "a");
  if (g_log == nullptr) return 2;
  setvbuf(g_log, nullptr, _IOLBF, 0);
  pthread_t threads[4];
  for (long i = 1; i <= 4; ++i) {
    pthread_create(&threads[i - 1], nullptr, Tick, reinterpret_cast<void*>(i));
  }
  Tick(reinterpret_cast<void*>(0L));
}
