// Starts threads every way a program can (pthreads, raw clone with and
// without CLONE_SETTLS, raw clone3 on a small stack) and has each make a raw
// `uname` syscall. Prints how many got each result, so a run under
// `--deny uname` can show that every thread is intercepted.
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "tests/programs/raw_uname.h"

namespace {

constexpr int kPthreads = 32;
constexpr int kRawClones = 8;
constexpr int kRawClonesTls = 4;
constexpr int kClone3s = 4;
constexpr int kTotal = kPthreads + kRawClones + kRawClonesTls + kClone3s;
// The smallest stack glibc lets a thread have.
constexpr size_t kSmallStack = 16384;

long g_results[kTotal];
std::atomic<int> g_done{0};

[[noreturn]] void RawExitThread() {
  asm volatile("syscall" : : "a"(SYS_exit), "D"(0) : "rcx", "r11", "memory");
  __builtin_unreachable();
}

void Record(int index) {
  struct utsname name;
  g_results[index] = RawUname(&name);
  g_done.fetch_add(1);
}

void* PthreadBody(void* arg) {
  Record(static_cast<int>(reinterpret_cast<long>(arg)));
  return nullptr;
}

// Runs in a raw clone child: no libc calls (the child may share the
// parent's thread pointer or have a fake one).
int CloneBody(void* arg) {
  Record(static_cast<int>(reinterpret_cast<long>(arg)));
  RawExitThread();
}

void* NewStack(size_t size) {
  void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  return stack;
}

constexpr int kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                             CLONE_THREAD | CLONE_SYSVSEM;

// clone3 with the stack given as base and size; the child runs `body` on
// it. Made by hand since glibc exports no clone3 wrapper.
long RawClone3(void* stack, size_t stack_size, int index) {
  struct clone_args args = {};
  args.flags = kThreadFlags;
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stack_size = stack_size;
  register long body asm("r12") = reinterpret_cast<long>(&CloneBody);
  register long arg asm("r13") = index;
  long result;
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      // The child: on the new stack, every register as in the parent.
      "movq %%r13, %%rdi\n\t"
      "callq *%%r12\n\t"
      "ud2\n"
      "1:\n\t"
      : "=a"(result)
      : "a"(SYS_clone3), "D"(&args), "S"(sizeof(args)), "r"(body), "r"(arg)
      : "rcx", "r11", "memory");
  return result;
}

}  // namespace

int main() {
  int index = 0;
  pthread_t threads[kPthreads];
  for (int i = 0; i < kPthreads; ++i, ++index) {
    if (pthread_create(&threads[i], nullptr, PthreadBody,
                       reinterpret_cast<void*>(static_cast<long>(index))) !=
        0) {
      fprintf(stderr, "pthread_create failed\n");
      return 2;
    }
  }
  for (int i = 0; i < kRawClones; ++i, ++index) {
    char* stack = static_cast<char*>(NewStack(kSmallStack * 4));
    if (clone(CloneBody, stack + kSmallStack * 4, kThreadFlags,
              reinterpret_cast<void*>(static_cast<long>(index))) < 0) {
      perror("clone");
      return 2;
    }
  }
  for (int i = 0; i < kRawClonesTls; ++i, ++index) {
    char* stack = static_cast<char*>(NewStack(kSmallStack * 4));
    // A thread pointer of the child's own that points at a block the
    // runtime knows nothing about.
    auto* tls = static_cast<uint64_t*>(NewStack(4096));
    tls[0] = reinterpret_cast<uint64_t>(tls);
    if (clone(CloneBody, stack + kSmallStack * 4, kThreadFlags | CLONE_SETTLS,
              reinterpret_cast<void*>(static_cast<long>(index)), nullptr,
              tls) < 0) {
      perror("clone SETTLS");
      return 2;
    }
  }
  for (int i = 0; i < kClone3s; ++i, ++index) {
    long tid = RawClone3(NewStack(kSmallStack), kSmallStack, index);
    if (tid < 0) {
      fprintf(stderr, "clone3: %s\n", strerror(static_cast<int>(-tid)));
      return 2;
    }
  }
  for (pthread_t thread : threads) pthread_join(thread, nullptr);
  while (g_done.load() < kTotal) sched_yield();

  int ok = 0, eperm = 0, other = 0;
  for (long result : g_results) {
    if (result == 0) {
      ++ok;
    } else if (result == -EPERM) {
      ++eperm;
    } else {
      ++other;
    }
  }
  printf("threads=%d ok=%d eperm=%d other=%d\n", kTotal, ok, eperm, other);
  return 0;
}
