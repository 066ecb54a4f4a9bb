// Holds memory of every kind a restore fills, each page with contents that
// depend on its address: one large private anonymous area (cut into many
// pieces, shared between the restorer and the tool's page filler), a
// sparse one whose touched pages form many short runs, and a shared
// anonymous area, and two 64 GiB areas larger than the machine's memory: a
// PROT_NONE reservation with one page made writable, and a MAP_NORESERVE
// one with one page touched. It logs "ready", waits for a trigger file,
// then checks every byte, logs "memory intact" or where it differs, and
// exits 0 or 1.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/programs/keeper.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kLargeBytes = 96 << 20;   // three 32 MiB pieces
constexpr size_t kSparseBytes = 16 << 20;  // every third page touched
constexpr size_t kSharedBytes = 1 << 20;
// Larger than the memory of the machines these tests run on (24 GiB).
constexpr size_t kHugeBytes = 64ULL << 30;

// The word stored at `address`: never zero, different for every word.
uint64_t WordFor(uintptr_t address) {
  return (address * 0x9e3779b97f4a7c15ULL) | 1;
}

void FillPage(char* page) {
  auto* words = reinterpret_cast<uint64_t*>(page);
  for (size_t i = 0; i < kPage / 8; ++i) {
    words[i] = WordFor(reinterpret_cast<uintptr_t>(&words[i]));
  }
}

// The address of the first word of `page` that is wrong, or 0.
uintptr_t CheckPage(const char* page) {
  const auto* words = reinterpret_cast<const uint64_t*>(page);
  for (size_t i = 0; i < kPage / 8; ++i) {
    if (words[i] != WordFor(reinterpret_cast<uintptr_t>(&words[i]))) {
      return reinterpret_cast<uintptr_t>(&words[i]);
    }
  }
  return 0;
}

char* Map(size_t bytes, int flags, int prot = PROT_READ | PROT_WRITE) {
  void* at = mmap(nullptr, bytes, prot, flags, -1, 0);
  if (at == MAP_FAILED) exit(2);
  return static_cast<char*>(at);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;  // LOG TRIGGER
  FILE* log = OpenKeeperLog(argv[1]);
  if (log == nullptr) return 2;

  char* large = Map(kLargeBytes, MAP_PRIVATE | MAP_ANONYMOUS);
  char* sparse = Map(kSparseBytes, MAP_PRIVATE | MAP_ANONYMOUS);
  char* shared = Map(kSharedBytes, MAP_SHARED | MAP_ANONYMOUS);
  for (size_t at = 0; at < kLargeBytes; at += kPage) FillPage(large + at);
  for (size_t at = 0; at < kSparseBytes; at += 3 * kPage) {
    FillPage(sparse + at);
  }
  for (size_t at = 0; at < kSharedBytes; at += kPage) FillPage(shared + at);
  char* reserved = Map(kHugeBytes, MAP_PRIVATE | MAP_ANONYMOUS, PROT_NONE);
  if (mprotect(reserved + kHugeBytes / 2, kPage, PROT_READ | PROT_WRITE)) {
    return 2;
  }
  FillPage(reserved + kHugeBytes / 2);
  char* sparse_huge =
      Map(kHugeBytes, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
  FillPage(sparse_huge + kHugeBytes - kPage);
  fprintf(log, "ready\n");

  WaitForTrigger(argv[2]);

  uintptr_t wrong = 0;
  for (size_t at = 0; wrong == 0 && at < kLargeBytes; at += kPage) {
    wrong = CheckPage(large + at);
  }
  for (size_t at = 0; wrong == 0 && at < kSparseBytes; at += kPage) {
    // Untouched pages must still read as zeros.
    if (at % (3 * kPage) == 0) {
      wrong = CheckPage(sparse + at);
    } else {
      for (size_t i = 0; wrong == 0 && i < kPage; ++i) {
        if (sparse[at + i] != 0) {
          wrong = reinterpret_cast<uintptr_t>(sparse + at + i);
        }
      }
    }
  }
  for (size_t at = 0; wrong == 0 && at < kSharedBytes; at += kPage) {
    wrong = CheckPage(shared + at);
  }
  if (wrong == 0) wrong = CheckPage(reserved + kHugeBytes / 2);
  if (wrong == 0) wrong = CheckPage(sparse_huge + kHugeBytes - kPage);
  if (wrong != 0) {
    fprintf(log, "memory differs at %#lx\n", static_cast<unsigned long>(wrong));
    return 1;
  }
  fprintf(log, "memory intact\n");
  return 0;
}
