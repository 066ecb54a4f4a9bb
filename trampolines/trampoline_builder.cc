#include "trampolines/trampoline_builder.h"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>

#define XBYAK_NO_EXCEPTION
#include <xbyak/xbyak.h>

#include "trampolines/fast_frame.h"
#include "trampolines/gateway.h"

extern "C" {
// Bytes of stack the XSAVE area needs; read by xstate.S.
__attribute__((visibility("hidden"))) uint64_t sandbox_xsave_area_size = 0;
// The shared entry (fast_entry.S).
void sandbox_fast_entry();
}

namespace sandbox {
namespace {

// The program's red zone: leaf functions keep data up to 128 bytes below
// the stack pointer, and a syscall leaves it alone.
constexpr int kRedZone = 128;

constexpr size_t kSlotSize = 64;
constexpr size_t kPoolSize = 64 * 1024;
constexpr int kMaxPools = 256;
// A pool must sit where every trampoline in it is a rel32 jump away from
// the site: within 2 GiB, less the pool's own size and some slack.
constexpr int64_t kReach = (1LL << 31) - 2 * static_cast<int64_t>(kPoolSize);
// Pools are tried at this spacing, outwards from the site.
constexpr int64_t kPoolProbeStep = 16LL << 20;

// A pool is one memfd mapped twice: read-and-execute near the sites that
// jump into it, and read-and-write elsewhere, where new trampolines are
// written with plain stores, so no page's protection ever changes.
struct Pool {
  uint64_t base;      // the executable view
  uint8_t* writable;  // the writable view of the same pages
  size_t used;
};

struct TrampolineState {
  uint64_t entry = 0;
  uint8_t site_template[kSlotSize] = {};
  size_t template_size = 0;
  size_t nr_offset = 0;      // the imm32 of `mov $nr, %eax`
  size_t return_offset = 0;  // the imm64 of `mov $return, %rcx`
  Pool pools[kMaxPools] = {};
  int pool_count = 0;
};

TrampolineState g_state;

long RawMmapFd(uint64_t hint, int prot, int flags, long fd) {
  return sandbox_raw_syscall(SYS_mmap, static_cast<long>(hint),
                             static_cast<long>(kPoolSize), prot, flags, fd, 0);
}

// The per-site template, with placeholder immediates wide enough to force
// the long encodings that are then filled in per site.
class SiteTemplate : public Xbyak::CodeGenerator {
 public:
  SiteTemplate(void* buffer, uint64_t entry)
      : Xbyak::CodeGenerator(kSlotSize, buffer) {
    using namespace Xbyak::util;
    lea(rsp, ptr[rsp - kRedZone]);
    nr_opcode = getSize();
    mov(eax, 0x7fffffff);
    return_opcode = getSize();
    mov(rcx, 0x7fffffffffffffffULL);
    jmp(ptr[rip]);  // through the slot that follows
    dq(entry);
  }
  size_t nr_opcode = 0;
  size_t return_opcode = 0;
};

bool InReach(uint64_t from, uint64_t to) {
  int64_t distance = static_cast<int64_t>(to - from);
  return distance < kReach && distance > -kReach;
}

Pool* PoolNear(uint64_t site) {
  for (int i = 0; i < g_state.pool_count; ++i) {
    Pool& pool = g_state.pools[i];
    if (pool.used + kSlotSize <= kPoolSize && InReach(site, pool.base)) {
      return &pool;
    }
  }
  if (g_state.pool_count == kMaxPools) return nullptr;
  // Look for free address space outwards from the site, never replacing
  // anything mapped there.
  long fd = sandbox_raw_syscall(SYS_memfd_create,
                                reinterpret_cast<long>("sandbox-trampolines"),
                                MFD_CLOEXEC, 0, 0, 0, 0);
  if (fd < 0) return nullptr;
  Pool* result = nullptr;
  long writable = -1;
  if (sandbox_raw_syscall(SYS_ftruncate, fd, kPoolSize, 0, 0, 0, 0) == 0) {
    writable = RawMmapFd(0, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  }
  uint64_t aligned = site & ~static_cast<uint64_t>(kPoolSize - 1);
  for (int64_t step = 1;
       writable >= 0 && result == nullptr && step * kPoolProbeStep < kReach;
       ++step) {
    for (int64_t sign : {-1, 1}) {
      uint64_t hint =
          aligned + static_cast<uint64_t>(sign * step * kPoolProbeStep);
      long address = RawMmapFd(hint, PROT_READ | PROT_EXEC,
                               MAP_SHARED | MAP_FIXED_NOREPLACE, fd);
      if (address < 0) continue;
      Pool& pool = g_state.pools[g_state.pool_count++];
      pool.base = static_cast<uint64_t>(address);
      pool.writable = reinterpret_cast<uint8_t*>(writable);
      pool.used = 0;
      result = &pool;
      break;
    }
  }
  if (result == nullptr && writable >= 0) {
    sandbox_raw_syscall(SYS_munmap, writable, kPoolSize, 0, 0, 0, 0);
  }
  // The mappings keep the memory; the descriptor must not stay in the
  // program's table.
  sandbox_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
  return result;
}

}  // namespace

bool InitTrampolines(uint32_t xsave_size, const char** error) {
  sandbox_xsave_area_size = xsave_size + 64;

  g_state.entry = reinterpret_cast<uint64_t>(&sandbox_fast_entry);
  SiteTemplate site(g_state.site_template, g_state.entry);
  if (Xbyak::GetError() != 0 || site.getSize() > kSlotSize) {
    *error = "cannot generate the site trampoline";
    return false;
  }
  // Check the encodings the immediates are filled into: b8 imm32 for the
  // number and REX.W b9 imm64 for the return address.
  const uint8_t* code = g_state.site_template;
  if (code[site.nr_opcode] != 0xb8 || code[site.return_opcode] != 0x48 ||
      code[site.return_opcode + 1] != 0xb9) {
    *error = "unexpected trampoline encoding";
    return false;
  }
  g_state.template_size = site.getSize();
  g_state.nr_offset = site.nr_opcode + 1;
  g_state.return_offset = site.return_opcode + 2;
  return true;
}

uint64_t MakeSiteTrampoline(uint64_t site, uint64_t return_address,
                            uint32_t nr) {
  Pool* pool = PoolNear(site);
  if (pool == nullptr) return 0;
  uint8_t code[kSlotSize];
  memcpy(code, g_state.site_template, g_state.template_size);
  memcpy(code + g_state.nr_offset, &nr, sizeof(nr));
  memcpy(code + g_state.return_offset, &return_address, sizeof(return_address));
  uint64_t address = pool->base + pool->used;
  memcpy(pool->writable + pool->used, code, g_state.template_size);
  // Slots are never reused: a thread may still be between the first
  // instructions of a trampoline whose site has since gone.
  pool->used += kSlotSize;
  return address;
}

void ResetTrampolinesAfterFork() {
  // The pools are shared with the parent, which goes on filling them: this
  // process writes no more into them and makes pools of its own.
  for (int i = 0; i < g_state.pool_count; ++i) {
    g_state.pools[i].used = kPoolSize;
  }
}

bool IsTrampolineCode(uint64_t address) {
  for (int i = 0; i < g_state.pool_count; ++i) {
    if (address - g_state.pools[i].base < kPoolSize) return true;
  }
  return false;
}

}  // namespace sandbox
