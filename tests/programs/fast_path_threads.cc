// Runs syscall sites of the rewritable shape (`mov $nr, %eax` directly
// followed by `syscall`, each in a function of its own in this program's
// read-only text) in the situations the fast path has to survive, and
// checks every answer. Each mode is one command; each prints one line per
// finding and exits 0 only when everything was as the kernel would have it.
//
//   registers [N]  every register and flag around a site run N times
//   threads        eight threads meet fresh sites at the same moment
//   fork           sites rewritten before fork, used by parent and child
//   forkrace       forks while another thread meets fresh sites
//   loop [N]       N getppid calls; counts answers, errors and EPERMs
//   timer          a 100 us itimer whose handler makes syscalls
//   longjmp        siglongjmp out of a read() blocked at a site
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>

// Each site is its own function, so each is a distinct syscall instruction
// that nothing else runs. Arguments arrive in rdi, rsi and rdx, where the
// syscall wants them.
#define SYSCALL_SITE(name, nr)             \
  asm(".text\n"                            \
      ".globl " #name                      \
      "\n"                                 \
      ".type " #name ", @function\n" #name \
      ":\n"                                \
      "movl $" #nr                         \
      ", %eax\n"                           \
      "syscall\n"                          \
      "ret\n"                              \
      ".size " #name ", . - " #name "\n"); \
  extern "C" long name(long a1, long a2, long a3)

SYSCALL_SITE(ThreadsGetppidSite, 110);
SYSCALL_SITE(ThreadsGetpidSite, 39);
SYSCALL_SITE(ForkGetpidSite, 39);
SYSCALL_SITE(ForkWriteSite, 1);
SYSCALL_SITE(LoopGetppidSite, 110);
SYSCALL_SITE(TimerGetppidSite, 110);
SYSCALL_SITE(HandlerGetpidSite, 39);
SYSCALL_SITE(HandlerWriteSite, 1);
SYSCALL_SITE(BlockingReadSite, 0);

// Thirty-two more sites, eight bytes apart, for the phases of the thread
// test: even ones getppid, odd ones getpid.
asm(R"(
        .text
        .globl PhaseSites
        .type PhaseSites, @function
        .p2align 4
PhaseSites:
        .rept 16
        movl $110, %eax
        syscall
        ret
        movl $39, %eax
        syscall
        ret
        .endr
        .size PhaseSites, . - PhaseSites
)");
extern "C" char PhaseSites[];
extern "C" char RegistersSite[];

// 2048 getpid sites, 8 bytes apart, for the fork race: a thread meets
// them for the first time while another thread forks.
asm(R"(
        .text
        .globl ForkRaceSites
        .type ForkRaceSites, @function
        .p2align 4
ForkRaceSites:
        .rept 2048
        movl $39, %eax
        syscall
        ret
        .endr
        .size ForkRaceSites, . - ForkRaceSites
)");
extern "C" char ForkRaceSites[];
constexpr int kForkRaceSites = 2048;
constexpr int kPhaseSites = 32;
constexpr int kPhaseSiteSize = 8;

// Runs `mov $110, %eax; syscall` `iterations` times with patterns in every
// register and the flags CF, PF, AF, ZF, SF, DF and OF set, and records
// what the syscall left. results: [0] red-zone damage (0 when intact),
// [1..12] rbx, rbp, rdi, rsi, rdx, r8, r9, r10, r12, r13, r14, r15,
// [13..19] k1..k7, then counts of iterations with a wrong [20] rax
// (compared with `expected_ppid`), [21] rcx (not the address after the
// syscall), [22] r11 (not the flags at the syscall), [23] flags after the
// syscall (not those before it), and [24] the flags at the last syscall.
extern "C" void CheckRegistersAroundSite(const uint8_t* zmm_in,
                                         uint8_t* zmm_out, uint64_t* results,
                                         long iterations, long expected_ppid);
asm(R"(
        .text
        .globl CheckRegistersAroundSite
        .type CheckRegistersAroundSite, @function
CheckRegistersAroundSite:
        pushq %rbx
        pushq %rbp
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        // Locals: 0 loop counter, 8 results, 16 zmm_out, 24 expected rax,
        // 32..56 the four wrong-counts, 64 flags before the syscall,
        // 72 expected rcx, 80 the syscall's rax.
        subq $88, %rsp
        movq %rcx, 0(%rsp)
        movq %rdx, 8(%rsp)
        movq %rsi, 16(%rsp)
        movq %r8, 24(%rsp)
        movq $0, 32(%rsp)
        movq $0, 40(%rsp)
        movq $0, 48(%rsp)
        movq $0, 56(%rsp)
        leaq 2f(%rip), %rax
        movq %rax, 72(%rsp)
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 \n*64(%rdi), %zmm\n
        .endr
        .irp n, 1,2,3,4,5,6,7
        movabsq $0x4b00000000000000 + \n * 0x0102030405, %rax
        kmovq %rax, %k\n
        .endr
        movabsq $0x1111111111111111, %rbx
        movabsq $0x2222222222222222, %rbp
        movabsq $0x3333333333333333, %rdi
        movabsq $0x4444444444444444, %rsi
        movabsq $0x5555555555555555, %rdx
        movabsq $0x6666666666666666, %r8
        movabsq $0x7777777777777777, %r9
        movabsq $0x0a0a0a0a0a0a0a0a, %r10
        movabsq $0x0c0c0c0c0c0c0c0c, %r12
        movabsq $0x0d0d0d0d0d0d0d0d, %r13
        movabsq $0x0e0e0e0e0e0e0e0e, %r14
        movabsq $0x0f0f0f0f0f0f0f0f, %r15
        .irp off, 8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128
        movq $0x3ca70000 + \off, -\off(%rsp)
        .endr
1:
        // Set the flags without writing the red zone: push and pop well
        // below it (lea leaves the flags alone). 0xcd7 is CF, PF, AF, ZF,
        // SF, DF and OF with the reserved bit 1.
        leaq -256(%rsp), %rsp
        pushq $0xcd7
        popfq
        pushfq
        popq %rax
        leaq 256(%rsp), %rsp
        movq %rax, 64(%rsp)
        .globl RegistersSite
RegistersSite:
        movl $110, %eax
        syscall
2:
        movq %rax, 80(%rsp)
        leaq -256(%rsp), %rsp
        pushfq
        popq %rax
        leaq 256(%rsp), %rsp
        cld
        cmpq 64(%rsp), %rax
        je 3f
        incq 56(%rsp)
3:
        cmpq 64(%rsp), %r11
        je 3f
        incq 48(%rsp)
3:
        cmpq 72(%rsp), %rcx
        je 3f
        incq 40(%rsp)
3:
        movq 80(%rsp), %rax
        cmpq 24(%rsp), %rax
        je 3f
        incq 32(%rsp)
3:
        decq 0(%rsp)
        jnz 1b

        xorl %eax, %eax
        .irp off, 8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128
        movq -\off(%rsp), %rcx
        subq $0x3ca70000 + \off, %rcx
        orq %rcx, %rax
        .endr
        movq 8(%rsp), %rcx
        movq %rax, 0(%rcx)
        movq %rbx, 8(%rcx)
        movq %rbp, 16(%rcx)
        movq %rdi, 24(%rcx)
        movq %rsi, 32(%rcx)
        movq %rdx, 40(%rcx)
        movq %r8, 48(%rcx)
        movq %r9, 56(%rcx)
        movq %r10, 64(%rcx)
        movq %r12, 72(%rcx)
        movq %r13, 80(%rcx)
        movq %r14, 88(%rcx)
        movq %r15, 96(%rcx)
        .irp n, 1,2,3,4,5,6,7
        kmovq %k\n, %rax
        movq %rax, 104 + (\n - 1) * 8(%rcx)
        .endr
        .irp i, 0,1,2,3
        movq 32 + \i * 8(%rsp), %rax
        movq %rax, 160 + \i * 8(%rcx)
        .endr
        movq 64(%rsp), %rax
        movq %rax, 192(%rcx)
        movq 16(%rsp), %rcx
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 %zmm\n, \n*64(%rcx)
        .endr
        addq $88, %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        vzeroupper
        ret
        .size CheckRegistersAroundSite, . - CheckRegistersAroundSite
)");

namespace {

// Writes `text` through the rewritable write site.
void SiteWriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    long n = ForkWriteSite(fd, reinterpret_cast<long>(text.data() + done),
                           static_cast<long>(text.size() - done));
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The parent's pid from /proc, which makes no getppid.
long ParentPidFromProc() {
  FILE* status = fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long ppid = -1;
  while (fgets(line, sizeof(line), status) != nullptr) {
    if (strncmp(line, "PPid:", 5) == 0) ppid = atol(line + 5);
  }
  fclose(status);
  return ppid;
}

bool HasAvx512() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  bool foundation = ebx & (1u << 16);
  bool byte_word = ebx & (1u << 30);  // kmovq needs it
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  if (!foundation || !byte_word || !(ecx & (1u << 27))) return false;
  unsigned low, high;
  asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (low & 0xe6) == 0xe6;
}

int Registers(long iterations) {
  if (!HasAvx512()) {
    printf("skip: no AVX-512\n");
    return 77;
  }
  alignas(64) static uint8_t zmm_in[32 * 64], zmm_out[32 * 64];
  for (size_t i = 0; i < sizeof(zmm_in); ++i) {
    zmm_in[i] = static_cast<uint8_t>(i * 13 + 5);
  }
  uint64_t results[25] = {};
  long ppid = syscall(SYS_getppid);

  // Uncommon rounding and precision settings, and masked exceptions.
  unsigned mxcsr_in = 0x1f80 | (3u << 13), mxcsr_out = 0, mxcsr_saved;
  uint16_t fpucw_in = 0x0c7f, fpucw_out = 0, fpucw_saved;
  asm volatile("stmxcsr %0" : "=m"(mxcsr_saved));
  asm volatile("fnstcw %0" : "=m"(fpucw_saved));
  asm volatile("ldmxcsr %0" : : "m"(mxcsr_in));
  asm volatile("fldcw %0" : : "m"(fpucw_in));
  CheckRegistersAroundSite(zmm_in, zmm_out, results, iterations, ppid);
  asm volatile("stmxcsr %0" : "=m"(mxcsr_out));
  asm volatile("fnstcw %0" : "=m"(fpucw_out));
  asm volatile("ldmxcsr %0" : : "m"(mxcsr_saved));
  asm volatile("fldcw %0" : : "m"(fpucw_saved));

  int failures = 0;
  auto report = [&failures](bool ok, const char* what) {
    if (ok) return;
    printf("%s\n", what);
    ++failures;
  };
  report(results[0] == 0, "red zone damaged");
  static const char* kNames[12] = {"rbx", "rbp", "rdi", "rsi", "rdx", "r8",
                                   "r9",  "r10", "r12", "r13", "r14", "r15"};
  static const uint64_t kPatterns[12] = {
      0x1111111111111111, 0x2222222222222222, 0x3333333333333333,
      0x4444444444444444, 0x5555555555555555, 0x6666666666666666,
      0x7777777777777777, 0x0a0a0a0a0a0a0a0a, 0x0c0c0c0c0c0c0c0c,
      0x0d0d0d0d0d0d0d0d, 0x0e0e0e0e0e0e0e0e, 0x0f0f0f0f0f0f0f0f};
  for (int i = 0; i < 12; ++i) {
    if (results[1 + i] != kPatterns[i]) {
      printf("%s changed\n", kNames[i]);
      ++failures;
    }
  }
  for (int k = 1; k <= 7; ++k) {
    if (results[12 + k] != 0x4b00000000000000 + k * 0x0102030405ULL) {
      printf("k%d changed\n", k);
      ++failures;
    }
  }
  for (int z = 0; z < 32; ++z) {
    if (memcmp(zmm_in + z * 64, zmm_out + z * 64, 64) != 0) {
      printf("zmm%d changed\n", z);
      ++failures;
    }
  }
  if (results[20] != 0) {
    printf("rax wrong %lu times\n", static_cast<unsigned long>(results[20]));
    ++failures;
  }
  if (results[21] != 0) {
    printf("rcx wrong %lu times\n", static_cast<unsigned long>(results[21]));
    ++failures;
  }
  if (results[22] != 0) {
    printf("r11 wrong %lu times\n", static_cast<unsigned long>(results[22]));
    ++failures;
  }
  if (results[23] != 0) {
    printf("flags changed %lu times\n",
           static_cast<unsigned long>(results[23]));
    ++failures;
  }
  // The flags the program set must have been in force at the syscall.
  uint64_t flags = results[24];
  report((flags & 0xcd5) == 0xcd5, "flags not set before the syscall");
  report(mxcsr_out == mxcsr_in, "mxcsr changed");
  report(fpucw_out == fpucw_in, "x87 control word changed");
  printf("registers: %ld syscalls, %d differences\n", iterations, failures);
  return failures == 0 ? 0 : 1;
}

constexpr int kThreads = 8;
constexpr long kMainIterations = 200000;
constexpr long kPhaseIterations = 2000;

struct ThreadsShared {
  pthread_barrier_t barrier;
  long pid;
  long ppid;
  std::atomic<long> calls{0};
  std::atomic<long> wrong{0};
};

void* ThreadsWorker(void* arg) {
  auto* shared = static_cast<ThreadsShared*>(arg);
  long calls = 0, wrong = 0;
  // All threads reach the two fresh sites at once.
  pthread_barrier_wait(&shared->barrier);
  for (long i = 0; i < kMainIterations; ++i) {
    wrong += ThreadsGetppidSite(0, 0, 0) != shared->ppid;
    wrong += ThreadsGetpidSite(0, 0, 0) != shared->pid;
    calls += 2;
  }
  // Then again at every pair of phase sites, each fresh.
  for (int phase = 0; phase < kPhaseSites / 2; ++phase) {
    using Site = long (*)();
    auto ppid_site =
        reinterpret_cast<Site>(PhaseSites + 2 * phase * kPhaseSiteSize);
    auto pid_site =
        reinterpret_cast<Site>(PhaseSites + (2 * phase + 1) * kPhaseSiteSize);
    pthread_barrier_wait(&shared->barrier);
    for (long i = 0; i < kPhaseIterations; ++i) {
      wrong += ppid_site() != shared->ppid;
      wrong += pid_site() != shared->pid;
      calls += 2;
    }
  }
  shared->calls += calls;
  shared->wrong += wrong;
  return nullptr;
}

int Threads() {
  ThreadsShared shared;
  shared.pid = syscall(SYS_getpid);
  shared.ppid = syscall(SYS_getppid);
  pthread_barrier_init(&shared.barrier, nullptr, kThreads);
  pthread_t threads[kThreads];
  for (pthread_t& thread : threads) {
    if (pthread_create(&thread, nullptr, ThreadsWorker, &shared) != 0) {
      printf("pthread_create failed\n");
      return 1;
    }
  }
  for (pthread_t thread : threads) pthread_join(thread, nullptr);
  printf("threads: %d threads, %ld calls, %ld wrong\n", kThreads,
         shared.calls.load(), shared.wrong.load());
  return shared.wrong == 0 ? 0 : 1;
}

// Uses the getpid and write sites 1000 times each; true if every getpid
// answered `pid`.
bool UseForkSites(long pid) {
  bool ok = true;
  for (int i = 0; i < 1000; ++i) {
    ok &= ForkGetpidSite(0, 0, 0) == pid;
    ok &= ForkWriteSite(1, reinterpret_cast<long>(""), 0) == 0;
  }
  return ok;
}

void* ForkThread(void* arg) {
  bool ok = UseForkSites(*static_cast<long*>(arg));
  return reinterpret_cast<void*>(static_cast<intptr_t>(ok));
}

int Fork(const char* self) {
  long pid = syscall(SYS_getpid);
  bool parent_ok = UseForkSites(pid);
  pthread_t thread;
  void* thread_ok = nullptr;
  if (pthread_create(&thread, nullptr, ForkThread, &pid) != 0) return 1;
  pthread_join(thread, &thread_ok);
  SiteWriteAll(1, "parent before fork: ok=" + std::to_string(parent_ok) +
                      " thread_ok=" + std::to_string(thread_ok != nullptr) +
                      "\n");

  // A child that uses the same sites, then execs /bin/true.
  pid_t child = fork();
  if (child == 0) {
    long own = syscall(SYS_getpid);
    bool ok = own != pid && UseForkSites(own);
    SiteWriteAll(1, "child: ok=" + std::to_string(ok) + "\n");
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = -1;
  waitpid(child, &status, 0);
  SiteWriteAll(1, "child exit=" + std::to_string(WEXITSTATUS(status)) + "\n");

  // A child whose failed exec leaves libc's execve site rewritten, so that
  // the second exec arrives by the fast path.
  child = fork();
  if (child == 0) {
    bool ok = UseForkSites(syscall(SYS_getpid));
    execl("/nonexistent/program", "program", static_cast<char*>(nullptr));
    int first_errno = errno;
    SiteWriteAll(1, "second child: ok=" + std::to_string(ok) +
                        " first exec errno=" + std::to_string(first_errno) +
                        "\n");
    execl(self, self, "loop", "100", static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(child, &status, 0);
  SiteWriteAll(
      1, "second child exit=" + std::to_string(WEXITSTATUS(status)) + "\n");

  bool after_ok = UseForkSites(pid);
  SiteWriteAll(1, "parent after fork: ok=" + std::to_string(after_ok) + "\n");
  return parent_ok && thread_ok != nullptr && after_ok ? 0 : 1;
}

// Runs every fork-race site once; returns how many answered wrongly.
int RunForkRaceSites(long pid) {
  int wrong = 0;
  for (int i = 0; i < kForkRaceSites; ++i) {
    auto site = reinterpret_cast<long (*)()>(ForkRaceSites + i * 8);
    wrong += site() != pid;
  }
  return wrong;
}

void* ForkRaceThread(void* pid) {
  RunForkRaceSites(*static_cast<long*>(pid));
  return nullptr;
}

// Forks while another thread runs fresh sites (so that rewrites are in
// progress at the moment of the fork); every child runs all the sites
// itself and must finish within a second with every answer right.
int ForkRace() {
  constexpr int kForks = 8;
  long pid = syscall(SYS_getpid);
  pthread_t thread;
  if (pthread_create(&thread, nullptr, ForkRaceThread, &pid) != 0) return 1;
  int hung = 0, bad = 0;
  for (int i = 0; i < kForks; ++i) {
    pid_t child = fork();
    if (child == 0) {
      alarm(1);  // a child stuck on a half-rewritten site dies of SIGALRM
      _exit(RunForkRaceSites(syscall(SYS_getpid)) == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    hung += WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
    bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  pthread_join(thread, nullptr);
  printf("forkrace: forks=%d hung=%d bad=%d\n", kForks, hung, bad);
  return bad == 0 ? 0 : 1;
}

int Loop(long iterations) {
  long ppid = ParentPidFromProc();
  long ok = 0, eperm = 0, other = 0;
  for (long i = 0; i < iterations; ++i) {
    long result = LoopGetppidSite(0, 0, 0);
    if (result == ppid) {
      ++ok;
    } else if (result == -EPERM) {
      ++eperm;
    } else {
      ++other;
    }
  }
  printf("loop: %ld calls, ok=%ld eperm=%ld other=%ld\n", iterations, ok, eperm,
         other);
  return other == 0 ? 0 : 1;
}

std::atomic<long> g_ticks{0};
std::atomic<long> g_handler_errors{0};
long g_pid = 0;

void TimerHandler(int) {
  int saved_errno = errno;
  long pid = HandlerGetpidSite(0, 0, 0);
  long written = HandlerWriteSite(1, reinterpret_cast<long>(""), 0);
  if (pid != g_pid || written != 0 || getpid() != g_pid) ++g_handler_errors;
  ++g_ticks;
  errno = saved_errno;
}

int Timer() {
  g_pid = syscall(SYS_getpid);
  long ppid = syscall(SYS_getppid);
  struct sigaction action = {};
  action.sa_handler = TimerHandler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  struct itimerval timer = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &timer, nullptr);

  long loop_errors = 0;
  for (long i = 0; i < 200000; ++i) {
    loop_errors += TimerGetppidSite(0, 0, 0) != ppid;
  }
  struct itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  printf("timer: loop_errors=%ld handler_errors=%ld ticked=%d\n", loop_errors,
         g_handler_errors.load(), g_ticks.load() > 0);
  return loop_errors == 0 && g_handler_errors == 0 ? 0 : 1;
}

sigjmp_buf g_jump;

void JumpHandler(int) { siglongjmp(g_jump, 1); }

int LongJump() {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  struct sigaction action = {};
  action.sa_handler = JumpHandler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);

  // The timer is armed through libc's syscall(), whose syscall instruction
  // is not of the rewritable shape: the fast-path count then comes from the
  // read site alone.
  volatile int jumps = 0, returned = 0;
  for (int i = 0; i < 100; ++i) {
    if (sigsetjmp(g_jump, 1) == 0) {
      struct itimerval once = {{0, 0}, {0, 2000}};
      syscall(SYS_setitimer, ITIMER_REAL, &once, nullptr);
      char byte;
      BlockingReadSite(fds[0], reinterpret_cast<long>(&byte), 1);
      returned = returned + 1;
    } else {
      jumps = jumps + 1;
    }
  }
  sigset_t mask;
  sigprocmask(SIG_BLOCK, nullptr, &mask);
  char byte = 'x';
  long read_after = -1;
  if (write(fds[1], &byte, 1) == 1) {
    read_after = BlockingReadSite(fds[0], reinterpret_cast<long>(&byte), 1);
  }
  printf("longjmp: jumps=%d returned=%d alrm_blocked=%d read_after=%ld\n",
         jumps, returned, sigismember(&mask, SIGALRM), read_after);
  return jumps == 100 && read_after == 1 ? 0 : 1;
}

}  // namespace

namespace {

// Prints on stderr how many of this program's sites now start with a jump
// (a sandbox that rewrote them left it there; native runs print 0), and
// how many of those jump to a trampoline that makes the syscall itself.
void ReportRewrittenSites() {
  constexpr uint8_t kJmpRel32Opcode = 0xe9;
  const void* sites[] = {
      reinterpret_cast<const void*>(&ThreadsGetppidSite),
      reinterpret_cast<const void*>(&ThreadsGetpidSite),
      reinterpret_cast<const void*>(&ForkGetpidSite),
      reinterpret_cast<const void*>(&ForkWriteSite),
      reinterpret_cast<const void*>(&LoopGetppidSite),
      reinterpret_cast<const void*>(&TimerGetppidSite),
      reinterpret_cast<const void*>(&HandlerGetpidSite),
      reinterpret_cast<const void*>(&HandlerWriteSite),
      reinterpret_cast<const void*>(&BlockingReadSite),
      RegistersSite,
  };
  int rewritten = 0, direct = 0;
  auto count = [&](const uint8_t* site) {
    if (site[0] != kJmpRel32Opcode) return;
    ++rewritten;
    // A trampoline that makes the syscall itself first steps 136 bytes
    // below the stack pointer (`lea -0x88(%rsp), %rsp`); one that enters
    // the runtime steps 128.
    int32_t displacement;
    memcpy(&displacement, site + 1, sizeof(displacement));
    const uint8_t* trampoline = site + 5 + displacement;
    constexpr uint8_t kDirectStart[] = {0x48, 0x8d, 0xa4, 0x24,
                                        0x78, 0xff, 0xff, 0xff};
    direct += memcmp(trampoline, kDirectStart, sizeof(kDirectStart)) == 0;
  };
  for (const void* site : sites) count(static_cast<const uint8_t*>(site));
  for (int i = 0; i < kPhaseSites; ++i) {
    count(reinterpret_cast<const uint8_t*>(PhaseSites + i * kPhaseSiteSize));
  }
  fprintf(stderr, "rewritten sites: %d direct: %d\n", rewritten, direct);
}

int RunMode(const std::string& mode, long count, const char* self) {
  if (mode == "registers") return Registers(count > 0 ? count : 20000);
  if (mode == "threads") return Threads();
  if (mode == "fork") return Fork(self);
  if (mode == "loop") return Loop(count > 0 ? count : 20000);
  if (mode == "timer") return Timer();
  if (mode == "longjmp") return LongJump();
  if (mode == "forkrace") return ForkRace();
  fprintf(stderr,
          "usage: %s registers|threads|fork|forkrace|loop|timer|longjmp [N]\n",
          self);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  long count = argc > 2 ? atol(argv[2]) : 0;
  int status = RunMode(mode, count, argv[0]);
  if (status != 2) ReportRewrittenSites();
  return status;
}
