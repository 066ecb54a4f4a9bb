// What the checkpoint keepers share: each holds some state, logs "ready",
// and checks the state once a trigger file appears.
#ifndef SANDBOX_TESTS_PROGRAMS_KEEPER_H_
#define SANDBOX_TESTS_PROGRAMS_KEEPER_H_

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

// Opens the log at `path` for appending, line-buffered; nullptr on error.
inline FILE* OpenKeeperLog(const char* path) {
  FILE* log = fopen(path, "a");
  if (log != nullptr) setvbuf(log, nullptr, _IOLBF, 0);
  return log;
}

// Waits until the file at `trigger` exists.
inline void WaitForTrigger(const char* trigger) {
  struct stat st;
  while (stat(trigger, &st) != 0) usleep(20000);
}

#endif  // SANDBOX_TESTS_PROGRAMS_KEEPER_H_
