// vfork children that make syscalls before exec, and posix_spawn children,
// with the parent's locals checked afterwards. The child of vfork runs on
// the parent's stack, so anything kept there must survive it.
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "tests/programs/raw_uname.h"

extern char** environ;

namespace {

// Returns the exit status of one vfork child that reports its own
// intercepted syscalls through its exit code: 0 for uname allowed,
// 1 for EPERM, 2 for anything else.
int VforkOnce(int round) {
  volatile long canary[16];
  for (int i = 0; i < 16; ++i) canary[i] = 0x5a5a0000L + round * 16 + i;
  pid_t pid = vfork();
  if (pid == 0) {
    // In the vfork child: only syscalls, then _exit.
    if (getppid() <= 0) _exit(3);
    long result = RawUname();
    _exit(result == 0 ? 0 : result == -EPERM ? 1 : 2);
  }
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  for (int i = 0; i < 16; ++i) {
    if (canary[i] != 0x5a5a0000L + round * 16 + i) return -2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -3;
}

}  // namespace

int main() {
  int counts[8] = {};
  for (int round = 0; round < 20; ++round) {
    int result = VforkOnce(round);
    if (result < 0) {
      printf("vfork round %d: locals or status lost (%d)\n", round, result);
      return 1;
    }
    ++counts[result < 8 ? result : 7];
  }
  printf("vfork: allowed=%d denied=%d other=%d\n", counts[0], counts[1],
         counts[2] + counts[3] + counts[7]);

  // A vfork child that execs.
  pid_t pid = vfork();
  if (pid == 0) {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(99);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("vfork exec: status=%d\n", WEXITSTATUS(status));

  // posix_spawn uses clone(CLONE_VM | CLONE_VFORK) on a stack of its own.
  char* argv[] = {const_cast<char*>("uname"), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  int error = posix_spawn(&pid, "/bin/uname", &actions, nullptr, argv, environ);
  if (error != 0) {
    printf("posix_spawn: %s\n", strerror(error));
    return 1;
  }
  waitpid(pid, &status, 0);
  printf("posix_spawn uname: exit=%d\n", WEXITSTATUS(status));
  return 0;
}
