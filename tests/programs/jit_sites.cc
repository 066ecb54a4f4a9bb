// Generates syscall sites at run time, the way JIT compilers and loaders
// do, changes them in place, and checks after every step that each site
// answers as the syscall it now holds, that /proc/self/maps shows the page
// with exactly the protection the program gave it, and that the bytes the
// program reads back where it may write are its own. Each site is
// `mov $nr, %eax; syscall; ret`, the shape the runtime rewrites.
//
//   rwx                 a site on a read-write-execute page, changed in place
//   wx                  a site on a W^X page: written RW, run RX, changed RW
//   remap               pages unmapped, replaced with MAP_FIXED, and moved
//   unaligned           the same through calls whose length is not a
//                       multiple of the page size
//   dlopen LIB1 LIB2    libraries whose `site_call` makes getppid (LIB1) or
//                       getpid (LIB2), loaded, unloaded and loaded again
//   hazards             code that only looks like a site, sites split
//                       across two mappings, mremap onto code, code thrown
//                       away with madvise, and a thread meeting a site
//                       while another unmaps it
//
// Every step prints one line; the exit status is 0 only if all were right.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace {

constexpr size_t kPage = 4096;
constexpr int kRuns = 1000;
constexpr uint8_t kNrGetppid = 110;
constexpr uint8_t kNrGetpid = 39;
constexpr uint8_t kNrGetuid = 102;
constexpr int kSiteSize = 8;  // mov (5), syscall (2), ret (1)

int g_failures = 0;

void WriteSite(uint8_t* at, uint32_t nr) {
  at[0] = 0xb8;
  memcpy(at + 1, &nr, sizeof(nr));
  at[5] = 0x0f;
  at[6] = 0x05;
  at[7] = 0xc3;
}

// Changes only the four immediate bytes of the mov at `at`.
void WriteImmediate(uint8_t* at, uint32_t nr) { memcpy(at + 1, &nr, 4); }

bool SiteIs(const uint8_t* at, uint32_t nr) {
  uint8_t expected[kSiteSize];
  WriteSite(expected, nr);
  return memcmp(at, expected, kSiteSize) == 0;
}

// What the syscall `nr` answers in RAX, asked without a rewritable site
// (libc's syscall() moves the number from a register).
long Expected(uint32_t nr) {
  long result = syscall(nr);
  return result == -1 ? -errno : result;
}

// The permissions column of /proc/self/maps for the mapping holding
// `address`, e.g. "r-xp", or "none".
std::string PermsOf(const void* address) {
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == nullptr) return "unreadable";
  uintptr_t target = reinterpret_cast<uintptr_t>(address);
  char line[512];
  std::string perms = "none";
  while (fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long begin, end;
    char field[8];
    if (sscanf(line, "%lx-%lx %7s", &begin, &end, field) != 3) continue;
    if (target >= begin && target < end) {
      perms = field;
      break;
    }
  }
  fclose(maps);
  return perms;
}

// Runs the site at `at` kRuns times; returns how many answered `nr`.
int Run(const uint8_t* at, uint32_t nr) {
  using Site = long (*)();
  auto site = reinterpret_cast<Site>(reinterpret_cast<uintptr_t>(at));
  long expected = Expected(nr);
  int right = 0;
  for (int i = 0; i < kRuns; ++i) right += site() == expected;
  return right;
}

// Prints one step: its name, the page's permissions (which must be
// `perms`), whether the bytes read back are the site for `bytes_nr` (when
// nonzero), and how many of kRuns runs answered `run_nr` (when nonzero).
void Step(const char* name, const uint8_t* at, const char* perms,
          uint32_t bytes_nr, uint32_t run_nr) {
  std::string seen = PermsOf(at);
  bool ok = seen == perms;
  printf("%s: perms=%s", name, seen.c_str());
  if (bytes_nr != 0) {
    bool bytes_ok = SiteIs(at, bytes_nr);
    ok &= bytes_ok;
    printf(" bytes=%s", bytes_ok ? "own" : "changed");
  }
  if (run_nr != 0) {
    int right = Run(at, run_nr);
    ok &= right == kRuns;
    printf(" right=%d/%d", right, kRuns);
  }
  printf("\n");
  if (!ok) ++g_failures;
}

uint8_t* MapPages(size_t pages, int prot) {
  void* page =
      mmap(nullptr, pages * kPage, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return static_cast<uint8_t*>(page);
}

bool Protect(void* at, size_t len, int prot) {
  if (mprotect(at, len, prot) == 0) return true;
  perror("mprotect");
  ++g_failures;
  return false;
}

constexpr int kRX = PROT_READ | PROT_EXEC;
constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr int kRWX = PROT_READ | PROT_WRITE | PROT_EXEC;

// A site on a page that stays writable and executable.
void Rwx() {
  uint8_t* page = MapPages(1, kRWX);
  uint8_t* site = page + 64;
  WriteSite(site, kNrGetppid);
  Step("rwx getppid", site, "rwxp", kNrGetppid, kNrGetppid);
  WriteSite(site, kNrGetpid);
  Step("rwx whole mov to getpid", site, "rwxp", kNrGetpid, kNrGetpid);
  WriteImmediate(site, kNrGetppid);
  Step("rwx immediate to getppid", site, "rwxp", kNrGetppid, kNrGetppid);
  WriteImmediate(site, kNrGetuid);
  Step("rwx immediate to getuid", site, "rwxp", kNrGetuid, kNrGetuid);
  munmap(page, kPage);
}

// A site on a W^X page, and one that straddles two pages of which only
// the second is made writable again.
void WriteXorExecute() {
  uint8_t* page = MapPages(1, kRW);
  uint8_t* site = page + 128;
  WriteSite(site, kNrGetppid);
  Step("wx written", site, "rw-p", kNrGetppid, 0);
  Protect(page, kPage, kRX);
  Step("wx executable", site, "r-xp", kNrGetppid, kNrGetppid);

  // The whole mov is replaced.
  Protect(page, kPage, kRW);
  Step("wx writable again", site, "rw-p", kNrGetppid, 0);
  WriteSite(site, kNrGetpid);
  Protect(page, kPage, kRX);
  Step("wx whole mov to getpid", site, "r-xp", kNrGetpid, kNrGetpid);

  // Only the immediate is replaced.
  Protect(page, kPage, kRW);
  Step("wx writable third time", site, "rw-p", kNrGetpid, 0);
  WriteImmediate(site, kNrGetppid);
  Protect(page, kPage, kRX);
  Step("wx immediate to getppid", site, "r-xp", kNrGetppid, kNrGetppid);

  // Straight from RX to RWX, changed, run while RWX, then RX again.
  Protect(page, kPage, kRWX);
  Step("wx to rwx", site, "rwxp", kNrGetppid, 0);
  WriteImmediate(site, kNrGetuid);
  Step("wx immediate to getuid while rwx", site, "rwxp", kNrGetuid, kNrGetuid);
  Protect(page, kPage, kRX);
  Step("wx rwx back to rx", site, "r-xp", kNrGetuid, kNrGetuid);
  munmap(page, kPage);

  // The mov's first three bytes on one page, the rest on the next; only
  // the second page becomes writable, and the program changes the byte of
  // the immediate that lies there (getppid becomes 0x1006e: ENOSYS).
  uint8_t* pages = MapPages(2, kRW);
  uint8_t* straddling = pages + kPage - 3;
  WriteSite(straddling, kNrGetppid);
  Protect(pages, 2 * kPage, kRX);
  Step("straddling executable", straddling, "r-xp", kNrGetppid, kNrGetppid);
  Protect(pages + kPage, kPage, kRW);
  bool tail_own = pages[kPage] == 0 && pages[kPage + 1] == 0 &&
                  pages[kPage + 2] == 0x0f && pages[kPage + 3] == 0x05;
  printf("straddling second page writable: perms=%s,%s tail=%s\n",
         PermsOf(pages).c_str(), PermsOf(pages + kPage).c_str(),
         tail_own ? "own" : "changed");
  if (!tail_own) ++g_failures;
  pages[kPage] = 0x01;
  Protect(pages + kPage, kPage, kRX);
  Step("straddling immediate to 0x1006e", straddling, "r-xp", 0x1006e, 0x1006e);
  munmap(pages, 2 * kPage);
}

// Pages whose code goes away: unmapped and mapped afresh at the same
// address, replaced by MAP_FIXED without an unmap, and moved by mremap.
void Remap() {
  uint8_t* page = MapPages(1, kRW);
  uint8_t* site = page + 256;
  WriteSite(site, kNrGetppid);
  Protect(page, kPage, kRX);
  Step("remap first code", site, "r-xp", kNrGetppid, kNrGetppid);

  // Unmapped, then fresh code at the same address.
  munmap(page, kPage);
  void* again =
      mmap(page, kPage, kRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (again != page) {
    perror("mmap MAP_FIXED");
    exit(1);
  }
  bool zero = true;
  for (size_t i = 0; i < kPage; ++i) zero &= page[i] == 0;
  printf("remap fresh page: perms=%s zero=%d\n", PermsOf(page).c_str(), zero);
  if (!zero) ++g_failures;
  WriteSite(site, kNrGetpid);
  Protect(page, kPage, kRX);
  Step("remap fresh code getpid", site, "r-xp", kNrGetpid, kNrGetpid);
  // Nothing of the first code may come back when the page turns writable.
  Protect(page, kPage, kRW);
  Step("remap fresh code writable", site, "rw-p", kNrGetpid, 0);

  // Replaced by MAP_FIXED while its code is live.
  Protect(page, kPage, kRX);
  Step("remap before replacing", site, "r-xp", kNrGetpid, kNrGetpid);
  again =
      mmap(page, kPage, kRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (again != page) {
    perror("mmap MAP_FIXED");
    exit(1);
  }
  WriteSite(site, kNrGetuid);
  Step("remap replaced", site, "rw-p", kNrGetuid, 0);
  Protect(page, kPage, kRX);
  Step("remap replaced code getuid", site, "r-xp", kNrGetuid, kNrGetuid);
  Protect(page, kPage, kRW);
  Step("remap replaced code writable", site, "rw-p", kNrGetuid, 0);

  // Code from a file mapped straight over live code, read-and-execute
  // from the start, as a loader maps a library.
  Protect(page, kPage, kRX);
  Step("remap before file", site, "r-xp", kNrGetuid, kNrGetuid);
  int fd = static_cast<int>(syscall(SYS_memfd_create, "jit_sites", 0));
  uint8_t file_page[kPage] = {};
  WriteSite(file_page + 256, kNrGetppid);
  if (fd < 0 || write(fd, file_page, kPage) != static_cast<ssize_t>(kPage)) {
    perror("memfd");
    exit(1);
  }
  again = mmap(page, kPage, kRX, MAP_PRIVATE | MAP_FIXED, fd, 0);
  close(fd);
  if (again != page) {
    perror("mmap file MAP_FIXED");
    exit(1);
  }
  Step("remap file code getppid", site, "r-xp", kNrGetppid, kNrGetppid);
  Protect(page, kPage, kRW);
  Step("remap file code writable", site, "rw-p", kNrGetppid, 0);

  // Moved while its code is live: the new place holds the program's bytes.
  Protect(page, kPage, kRX);
  Step("remap before move", site, "r-xp", kNrGetppid, kNrGetppid);
  uint8_t* target = MapPages(1, PROT_NONE);
  void* moved =
      mremap(page, kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (moved != target) {
    perror("mremap");
    exit(1);
  }
  Step("remap moved", target + 256, "r-xp", kNrGetppid, kNrGetppid);
  Protect(target, kPage, kRW);
  Step("remap moved writable", target + 256, "rw-p", kNrGetppid, 0);
  munmap(target, kPage);
}

// The kernel rounds the length of mprotect, munmap and mmap up to whole
// pages: a call whose length ends before a site still reaches it.
void UnalignedLengths() {
  uint8_t* page = MapPages(1, kRW);
  uint8_t* site = page + 128;
  WriteSite(site, kNrGetppid);
  Protect(page, kPage, kRX);
  Step("unaligned executable", site, "r-xp", kNrGetppid, kNrGetppid);
  // Writable by a call whose 16 bytes end before the site.
  Protect(page, 16, kRW);
  Step("unaligned mprotect 16 bytes writable", site, "rw-p", kNrGetppid, 0);
  WriteSite(site, kNrGetpid);
  Protect(page, 16, kRX);
  Step("unaligned whole mov to getpid", site, "r-xp", kNrGetpid, kNrGetpid);

  // Unmapped by a call whose 100 bytes end before the site, then fresh
  // code at the same address (taken as a loader takes free space, without
  // MAP_FIXED) that has no site where the old one was.
  munmap(page, 100);
  void* again = mmap(page, kPage, kRW,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (again != page) {
    perror("mmap MAP_FIXED");
    exit(1);
  }
  memset(site, 0x90, kSiteSize);  // nops where the old site was
  WriteSite(site + kSiteSize, kNrGetuid);
  Protect(page, kPage, kRX);
  Step("unaligned munmap fresh code getuid", site + kSiteSize, "r-xp",
       kNrGetuid, kNrGetuid);
  Protect(page, kPage, kRW);
  bool nops = true;
  for (int i = 0; i < kSiteSize; ++i) nops &= site[i] == 0x90;
  printf("unaligned munmap old place: perms=%s bytes=%s\n",
         PermsOf(site).c_str(), nops ? "own" : "changed");
  if (!nops) ++g_failures;
  Step("unaligned munmap fresh code writable", site + kSiteSize, "rw-p",
       kNrGetuid, 0);

  // Replaced by a MAP_FIXED mapping of 100 bytes, with the same kind of
  // fresh code.
  Protect(page, kPage, kRX);
  Step("unaligned before replacing", site + kSiteSize, "r-xp", kNrGetuid,
       kNrGetuid);
  again = mmap(page, 100, kRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (again != page) {
    perror("mmap MAP_FIXED");
    exit(1);
  }
  memset(site, 0x90, 2 * kSiteSize);
  WriteSite(site + 2 * kSiteSize, kNrGetpid);
  Protect(page, kPage, kRX);
  Step("unaligned mmap fresh code getpid", site + 2 * kSiteSize, "r-xp",
       kNrGetpid, kNrGetpid);
  Protect(page, kPage, kRW);
  nops = true;
  for (int i = 0; i < 2 * kSiteSize; ++i) nops &= site[i] == 0x90;
  printf("unaligned mmap old places: perms=%s bytes=%s\n",
         PermsOf(site).c_str(), nops ? "own" : "changed");
  if (!nops) ++g_failures;
  munmap(page, kPage);
}

using SiteCall = long (*)();

struct Loaded {
  void* handle = nullptr;
  SiteCall call = nullptr;
  uintptr_t base = 0;
};

Loaded Load(const char* path) {
  Loaded loaded;
  loaded.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (loaded.handle == nullptr) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(1);
  }
  loaded.call = reinterpret_cast<SiteCall>(dlsym(loaded.handle, "site_call"));
  Dl_info info;
  if (loaded.call == nullptr ||
      dladdr(reinterpret_cast<void*>(loaded.call), &info) == 0) {
    fprintf(stderr, "no site_call in %s\n", path);
    exit(1);
  }
  loaded.base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  return loaded;
}

// Loads `path`, checks kRuns calls answer `nr`, and unloads it. Returns
// where it was loaded.
uintptr_t LoadRunUnload(const char* name, const char* path, uint32_t nr) {
  Loaded loaded = Load(path);
  long expected = Expected(nr);
  int right = 0;
  for (int i = 0; i < kRuns; ++i) right += loaded.call() == expected;
  std::string perms = PermsOf(reinterpret_cast<void*>(loaded.call));
  printf("%s: perms=%s right=%d/%d\n", name, perms.c_str(), right, kRuns);
  if (right != kRuns || perms != "r-xp") ++g_failures;
  dlclose(loaded.handle);
  return loaded.base;
}

void Dlopen(const char* getppid_lib, const char* getpid_lib) {
  uintptr_t first = LoadRunUnload("dlopen first", getppid_lib, kNrGetppid);
  uintptr_t second = LoadRunUnload("dlopen again", getppid_lib, kNrGetppid);
  // The other library, most likely where the first one was.
  uintptr_t other = LoadRunUnload("dlopen other", getpid_lib, kNrGetpid);

  // The old place taken, so the library has to go elsewhere.
  void* blocker =
      mmap(reinterpret_cast<void*>(first), kPage, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uintptr_t moved = LoadRunUnload("dlopen moved", getppid_lib, kNrGetppid);
  printf("dlopen: blocked=%d moved=%d\n", blocker != MAP_FAILED,
         moved != first);
  if (blocker == MAP_FAILED || moved == first) ++g_failures;
  // Where the loader put the others is its own business; printed for the
  // record only.
  fprintf(stderr, "bases: %lx %lx %lx %lx\n", static_cast<unsigned long>(first),
          static_cast<unsigned long>(second), static_cast<unsigned long>(other),
          static_cast<unsigned long>(moved));
}

// Runs the code at `at` once and returns RAX.
long RunOnce(const uint8_t* at) {
  return reinterpret_cast<long (*)()>(reinterpret_cast<uintptr_t>(at))();
}

// Maps `pages` fresh pages, writes a getpid site at `offset`, makes them
// read-and-execute and runs the site three times, which rewrites it.
// Returns the pages.
uint8_t* MapRewrittenSite(size_t pages, size_t offset) {
  uint8_t* code = MapPages(pages, kRW);
  WriteSite(code + offset, kNrGetpid);
  Protect(code, pages * kPage, kRX);
  for (int i = 0; i < 3; ++i) RunOnce(code + offset);
  return code;
}

// Prints a named check and counts it as a failure when it is false.
void Check(const char* name, bool ok) {
  printf("%s: %s\n", name, ok ? "ok" : "WRONG");
  if (!ok) ++g_failures;
}

// `mov $39, %eax` followed by `mov $39, %r8d` (41 b8 imm32) and a syscall:
// the last seven bytes look like a site, but the b8 belongs to the REX-
// prefixed mov, which must keep setting r8.
void RexPrefixedMov() {
  bool ok = true;
  for (long i = 0; i < 100; ++i) {
    long rax;
    register long r8 asm("r8") = 1000 + i;
    asm volatile(
        "movl $39, %%eax\n\t"
        ".byte 0x41, 0xb8, 39, 0, 0, 0\n\t"
        "syscall"
        : "=a"(rax), "+r"(r8)
        :
        : "rcx", "r11", "memory");
    ok &= r8 == 39 && rax == Expected(kNrGetpid);
  }
  Check("rex-prefixed mov keeps r8", ok);
}

// `mov $186, %eax; lea 186(%rax), %edi; syscall` (gettid), the lea
// encoded with a four-byte displacement, as `8d b8 ba 00 00 00 0f 05`: the
// last seven bytes look like a site, but the lea must keep setting edi.
void LeaBeforeSyscall() {
  bool ok = true;
  for (long i = 0; i < 100; ++i) {
    long rax, rdi = 0;
    asm volatile(
        "movl $186, %%eax\n\t"
        ".byte 0x8d, 0xb8, 186, 0, 0, 0\n\t"  // lea 186(%rax), %edi
        "syscall"
        : "=a"(rax), "+D"(rdi)
        :
        : "rcx", "r11", "memory");
    ok &= rdi == 372 && rax == Expected(186);
  }
  Check("lea before a syscall keeps edi", ok);
}

// A site whose b8 ends one anonymous mapping and whose immediate starts
// the next; the kernel merges the two while they have equal protections.
// `variant` 0 replaces the second page with other code, 1 leaves the
// second page writable and patches the immediate in place, 2 replaces
// the first page with the same byte.
void SplitSite(int variant) {
  uint8_t* base = MapPages(2, kRW);
  uint8_t* second = base + kPage;
  uint8_t* site = second - 1;
  WriteSite(site, kNrGetpid);
  Protect(base, kPage, kRX);
  Protect(second, kPage, variant == 1 ? kRWX : kRX);
  long pid = Expected(kNrGetpid);
  bool ok = true;
  for (int i = 0; i < 3; ++i) ok &= RunOnce(site) == pid;
  uint32_t now = kNrGetpid;
  if (variant == 0) {
    munmap(second, kPage);
    if (mmap(second, kPage, kRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) != second) {
      exit(1);
    }
    uint8_t tail[] = {kNrGetppid, 0, 0, 0, 0x0f, 0x05, 0xc3};
    memcpy(second, tail, sizeof(tail));
    Protect(second, kPage, kRX);
    now = kNrGetppid;
  } else if (variant == 1) {
    second[0] = kNrGetppid;
    now = kNrGetppid;
  } else {
    munmap(base, kPage);
    if (mmap(base, kPage, kRW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) != base) {
      exit(1);
    }
    base[kPage - 1] = 0xb8;
    Protect(base, kPage, kRX);
  }
  for (int i = 0; i < 3; ++i) ok &= RunOnce(site) == Expected(now);
  // Where the program can write, the bytes must be its own too.
  if (variant == 1) ok &= SiteIs(site, now);
  std::string name = "split site, variant " + std::to_string(variant);
  Check(name.c_str(), ok);
  munmap(base, 2 * kPage);
}

// Memory moved onto a rewritten site with a fixed mremap replaces it: data
// stays data, and rwx code moved there is the program's to patch.
void MremapOntoCode() {
  uint8_t* code = MapRewrittenSite(1, 0);
  uint8_t* data = MapPages(1, kRW);
  memset(data, 0x5a, kPage);
  if (mremap(data, kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED, code) != code) {
    exit(1);
  }
  Protect(code, kPage, PROT_READ);
  Protect(code, kPage, kRW);
  bool ok = true;
  for (size_t i = 0; i < kPage; ++i) ok &= code[i] == 0x5a;
  Check("data moved onto a site stays data", ok);

  WriteSite(code, kNrGetpid);
  Protect(code, kPage, kRX);
  for (int i = 0; i < 3; ++i) RunOnce(code);
  uint8_t* jit = MapPages(1, kRWX);
  WriteSite(jit + 256, kNrGetpid);
  if (mremap(jit, kPage, kPage, MREMAP_MAYMOVE | MREMAP_FIXED, code) != code) {
    exit(1);
  }
  for (int i = 0; i < 3; ++i) RunOnce(code + 256);
  WriteImmediate(code + 256, kNrGetppid);
  Check("rwx code moved onto a site answers its patch",
        RunOnce(code + 256) == Expected(kNrGetppid) &&
            SiteIs(code + 256, kNrGetppid));
  munmap(code, kPage);
}

// Code thrown away with MADV_DONTNEED reads as zeros, also once the page
// is made writable again.
void DiscardedCode() {
  uint8_t* code = MapRewrittenSite(1, 0);
  madvise(code, kPage, MADV_DONTNEED);
  Protect(code, kPage, kRW);
  bool ok = true;
  for (size_t i = 0; i < kPage; ++i) ok &= code[i] == 0;
  Check("discarded code reads as zeros", ok);
  munmap(code, kPage);
}

// One thread runs a fresh site while the main thread unmaps its page and
// maps data in its place: the data must never receive a jump.
std::atomic<const uint8_t*> g_race_site{nullptr};
std::atomic<int> g_race_round{0};
std::atomic<int> g_race_done{0};

sigjmp_buf g_race_fault;

// The runner's way out when the page went away under it, as it may.
void LeaveFaultingSite(int) { siglongjmp(g_race_fault, 1); }

// Runs the site unless its page goes away first.
void RunUnlessUnmapped(const uint8_t* site) {
  if (sigsetjmp(g_race_fault, 1) == 0) RunOnce(site);
}

void* RaceRunner(void*) {
  for (int round = 1;; ++round) {
    while (g_race_round.load() < round) {
    }
    const uint8_t* site = g_race_site.load();
    if (site == nullptr) return nullptr;
    RunUnlessUnmapped(site);
    g_race_done.store(round);
  }
}

void UnmapWhileRewriting() {
  struct sigaction leave = {};
  leave.sa_handler = LeaveFaultingSite;
  leave.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &leave, nullptr);
  pthread_t runner;
  if (pthread_create(&runner, nullptr, RaceRunner, nullptr) != 0) exit(1);
  int corrupted = 0;
  constexpr int kRounds = 400;
  for (int round = 1; round <= kRounds; ++round) {
    uint8_t* page = MapPages(1, kRW);
    WriteSite(page + 100, kNrGetpid);
    Protect(page, kPage, kRX);
    g_race_site.store(page + 100);
    g_race_round.store(round);
    for (int spin = 0; spin < (round * 7919) % 20000; ++spin) {
      asm volatile("" ::: "memory");
    }
    munmap(page, kPage);
    void* again =
        mmap(page, kPage, kRW,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (again == page) memset(page, 0x5a, kPage);
    while (g_race_done.load() < round) {
    }
    if (again == page) {
      for (size_t i = 0; i < kPage; ++i) {
        if (page[i] != 0x5a) {
          ++corrupted;
          break;
        }
      }
      munmap(page, kPage);
    }
  }
  g_race_site.store(nullptr);
  g_race_round.store(kRounds + 1);
  pthread_join(runner, nullptr);
  signal(SIGSEGV, SIG_DFL);
  Check("data mapped where a site was unmapped stays intact", corrupted == 0);
}

// A munmap that fails leaves the code as it was, the program's own bytes.
void FailedUnmap() {
  uint8_t* code = MapRewrittenSite(1, 0);
  bool failed = munmap(code + 1, kPage) != 0;  // unaligned: EINVAL
  Protect(code, kPage, kRW);
  bool own = SiteIs(code, kNrGetpid);
  WriteImmediate(code, kNrGetppid);
  Protect(code, kPage, kRX);
  Check("a failed munmap leaves the program's code",
        failed && own && RunOnce(code) == Expected(kNrGetppid));
  munmap(code, kPage);
}

// A site across two pages of one mapping, the second page discarded: the
// first page keeps the program's bytes.
void DiscardedHalfOfSite() {
  uint8_t* code = MapRewrittenSite(2, kPage - 3);
  uint8_t* site = code + kPage - 3;
  madvise(code + kPage, kPage, MADV_DONTNEED);
  Protect(code, 2 * kPage, kRW);
  Check("the kept half of a discarded site is the program's",
        site[0] == 0xb8 && site[1] == kNrGetpid && site[2] == 0 &&
            code[kPage] == 0);
  munmap(code, 2 * kPage);
}

// Threads run sites on a page that the main thread keeps rewriting (RW,
// new code, RX): they may meet a site while its bytes are put back, and
// must never see a SIGTRAP of the runtime's.
std::atomic<uint8_t*> g_churn_page{nullptr};
std::atomic<bool> g_churn_stop{false};
thread_local sigjmp_buf t_churn_fault;

void LeaveChurnFault(int) { siglongjmp(t_churn_fault, 1); }

void RunChurnSite(const uint8_t* site) {
  if (sigsetjmp(t_churn_fault, 1) == 0) RunOnce(site);
}

void* ChurnRunner(void* seed) {
  unsigned x = static_cast<unsigned>(reinterpret_cast<uintptr_t>(seed));
  while (!g_churn_stop.load()) {
    x = x * 1103515245 + 12345;
    RunChurnSite(g_churn_page.load() + ((x >> 8) % 100) * kSiteSize);
  }
  return nullptr;
}

void RewriteUnderRunningThreads() {
  struct sigaction leave = {};
  leave.sa_handler = LeaveChurnFault;
  leave.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &leave, nullptr);
  uint8_t* page = MapPages(1, kRW);
  for (int i = 0; i < 100; ++i) WriteSite(page + i * kSiteSize, kNrGetpid);
  Protect(page, kPage, kRX);
  g_churn_page.store(page);
  pthread_t runners[3];
  for (uintptr_t i = 0; i < 3; ++i) {
    pthread_create(&runners[i], nullptr, ChurnRunner,
                   reinterpret_cast<void*>(i + 1));
  }
  for (int round = 0; round < 3000; ++round) {
    Protect(page, kPage, kRW);
    for (int i = 0; i < 100; ++i) {
      WriteSite(page + i * kSiteSize, round & 1 ? kNrGetppid : kNrGetpid);
    }
    Protect(page, kPage, kRX);
  }
  g_churn_stop.store(true);
  for (pthread_t runner : runners) pthread_join(runner, nullptr);
  signal(SIGSEGV, SIG_DFL);
  Check("sites rewritten under running threads raise no SIGTRAP", true);
  munmap(page, kPage);
}

void Hazards() {
  RexPrefixedMov();
  LeaBeforeSyscall();
  FailedUnmap();
  DiscardedHalfOfSite();
  RewriteUnderRunningThreads();
  for (int variant = 0; variant < 3; ++variant) SplitSite(variant);
  MremapOntoCode();
  DiscardedCode();
  UnmapWhileRewriting();
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "rwx") {
    Rwx();
  } else if (mode == "wx") {
    WriteXorExecute();
  } else if (mode == "remap") {
    Remap();
  } else if (mode == "unaligned") {
    UnalignedLengths();
  } else if (mode == "hazards") {
    Hazards();
  } else if (mode == "dlopen" && argc == 4) {
    Dlopen(argv[2], argv[3]);
  } else {
    fprintf(stderr,
            "usage: %s rwx|wx|remap|unaligned|hazards|dlopen LIB1 LIB2\n",
            argv[0]);
    return 2;
  }
  printf("failures=%d\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
