#include "sandbox/runtime/thread_registry.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>

#include "sandbox/runtime/raw_syscall.h"

namespace sandbox {
namespace {

// Thread ids are looked up by a scan of a dense array of ids, which stays
// short in practice (it only reaches the highest slot ever used) and needs
// no hashing or tombstones.
constexpr int kMaxThreads = 32768;

struct Registry {
  // The owner of records[i]: a tid, kFree or kReserved.
  std::atomic<int32_t>* tids;
  ThreadRecord* records;
  std::atomic<int> high_water;  // one past the highest slot ever reserved
};

Registry g_registry;
ThreadRecord g_fallback_record;

int SlotOf(const ThreadRecord* record) {
  return static_cast<int>(record - g_registry.records);
}

// Frees the records of threads that no longer exist, for when the table is
// full. A thread that died without the runtime seeing its exit leaves its
// record behind.
void ReclaimDeadThreads() {
  int pid = raw::GetPid();
  int limit = g_registry.high_water.load(std::memory_order_acquire);
  for (int i = 0; i < limit; ++i) {
    int32_t tid = g_registry.tids[i].load(std::memory_order_relaxed);
    if (tid > 0 && raw::Tgkill(pid, tid, 0) == -ESRCH) {
      ReleaseThreadRecord(&g_registry.records[i]);
    }
  }
}

ThreadRecord* TryReserve() {
  for (int i = 0; i < kMaxThreads; ++i) {
    int32_t expected = kFree;
    if (g_registry.tids[i].compare_exchange_strong(expected, kReserved,
                                                   std::memory_order_acq_rel)) {
      int high = g_registry.high_water.load(std::memory_order_relaxed);
      while (high < i + 1 && !g_registry.high_water.compare_exchange_weak(
                                 high, i + 1, std::memory_order_acq_rel)) {
      }
      ThreadRecord* record = &g_registry.records[i];
      record->selector = 1;
      record->program_blocked_owned = 0;
      record->program_pending_owned = 0;
      record->clone_flags = 0;
      return record;
    }
  }
  return nullptr;
}

}  // namespace

ThreadRecord* ThreadRecordTable() { return g_registry.records; }
std::atomic<int32_t>* ThreadOwnerTable() { return g_registry.tids; }
int ThreadTableHighWater() {
  return g_registry.high_water.load(std::memory_order_acquire);
}

long InitThreadRegistry() {
  size_t tids_size = sizeof(std::atomic<int32_t>) * kMaxThreads;
  size_t records_size = sizeof(ThreadRecord) * kMaxThreads;
  long mapping =
      raw::Mmap(nullptr, tids_size + records_size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping < 0) return mapping;
  char* base = reinterpret_cast<char*>(mapping);
  g_registry.records = reinterpret_cast<ThreadRecord*>(base);
  g_registry.tids =
      reinterpret_cast<std::atomic<int32_t>*>(base + records_size);
  g_registry.high_water.store(0);
  g_fallback_record.selector = 1;
  return 0;
}

ThreadRecord* ReserveThreadRecord() {
  ThreadRecord* record = TryReserve();
  if (record != nullptr) return record;
  ReclaimDeadThreads();
  return TryReserve();
}

void ClaimThreadRecord(ThreadRecord* record, int tid) {
  g_registry.tids[SlotOf(record)].store(tid, std::memory_order_release);
}

void ReleaseThreadRecord(ThreadRecord* record) {
  if (record == &g_fallback_record) return;
  g_registry.tids[SlotOf(record)].store(kFree, std::memory_order_release);
}

ThreadRecord* FindThreadRecord(int tid) {
  int limit = g_registry.high_water.load(std::memory_order_acquire);
  for (int i = 0; i < limit; ++i) {
    if (g_registry.tids[i].load(std::memory_order_acquire) == tid) {
      return &g_registry.records[i];
    }
  }
  return nullptr;
}

ThreadRecord* CurrentThreadRecord() {
  ThreadRecord* record = FindThreadRecord(raw::GetTid());
  return record != nullptr ? record : &g_fallback_record;
}

void ReleaseAllThreadRecordsBut(ThreadRecord* keep) {
  int limit = g_registry.high_water.load(std::memory_order_acquire);
  for (int i = 0; i < limit; ++i) {
    if (&g_registry.records[i] != keep &&
        g_registry.tids[i].load(std::memory_order_relaxed) != kFree) {
      ReleaseThreadRecord(&g_registry.records[i]);
    }
  }
}

}  // namespace sandbox
