// Holds state in its descriptors for a checkpoint to carry: a regular file
// read part way, a copy of its descriptor (which shares the offset), and a
// pipe with unread bytes. It waits for a trigger file, then logs what it
// finds in them and exits 0.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/programs/keeper.h"

int main(int argc, char** argv) {
  if (argc < 4) return 2;  // LOG DATA TRIGGER
  FILE* log = OpenKeeperLog(argv[1]);
  if (log == nullptr) return 2;
  int data = open(argv[2], O_RDONLY | O_CLOEXEC);
  char head[3];
  if (data < 0 || read(data, head, sizeof(head)) != 3) return 2;
  int copy = dup(data);
  if (copy < 0) return 2;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK) != 0 || write(fds[1], "hello", 5) != 5) return 2;
  fprintf(log, "ready\n");
  WaitForTrigger(argv[3]);
  char unread[16] = {};
  ssize_t got = read(fds[0], unread, sizeof(unread) - 1);
  char rest[16] = {};
  ssize_t more = read(data, rest, 4);
  fprintf(log, "offset %ld cloexec %d pipe %s(%zd) next %.*s\n",
          static_cast<long>(lseek(data, 0, SEEK_CUR)) - (more > 0 ? more : 0),
          (fcntl(data, F_GETFD) & FD_CLOEXEC) != 0, unread, got,
          static_cast<int>(more > 0 ? more : 0), rest);
  fprintf(log, "copy at %ld\n", static_cast<long>(lseek(copy, 0, SEEK_CUR)));
  return 0;
}
