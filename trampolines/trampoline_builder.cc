#include "trampolines/trampoline_builder.h"

#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>

#define XBYAK_NO_EXCEPTION
#include <xbyak/xbyak.h>

#include "trampolines/fast_frame.h"
#include "trampolines/gateway.h"

extern "C" {
// Bytes of stack the XSAVE area needs, and which state components XSAVE
// saves; read by xstate.S.
__attribute__((visibility("hidden"))) uint64_t sandbox_xsave_area_size = 0;
__attribute__((visibility("hidden"))) uint64_t sandbox_xsave_mask = 0;
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
// Address space above the program break that pools leave free, so that
// the heap can grow there with brk as it does natively.
constexpr uint64_t kHeapReserve = 3ULL << 29;  // 1.5 GiB

// A pool is one memfd mapped twice: read-and-execute near the sites that
// jump into it, and read-and-write elsewhere, where new trampolines are
// written with plain stores, so no page's protection ever changes.
struct Pool {
  uint64_t base;      // the executable view
  uint8_t* writable;  // the writable view of the same pages
  size_t used;
};

// A trampoline's code with placeholder immediates, and where they sit.
struct Template {
  uint8_t code[kSlotSize] = {};
  size_t size = 0;
  size_t nr_offset = 0;      // the imm32 of `mov $nr, %eax`
  size_t return_offset = 0;  // the imm64 of `mov $return, %rcx`
};

struct TrampolineState {
  Template to_entry;  // enters the runtime
  Template direct;    // makes the syscall at once
  Pool pools[kMaxPools] = {};
  int pool_count = 0;
  // [heap_begin, heap_end): where the program's brk heap may grow.
  uint64_t heap_begin = 0;
  uint64_t heap_end = 0;
};

TrampolineState g_state;

long RawMmapFd(uint64_t hint, int prot, int flags, long fd) {
  return sandbox_raw_syscall(SYS_mmap, static_cast<long>(hint),
                             static_cast<long>(kPoolSize), prot, flags, fd, 0);
}

// The placeholders: wide enough to force the long encodings (b8 imm32 and
// REX.W b9 imm64) that are filled in per site.
constexpr uint32_t kNrPlaceholder = 0x7fffffff;
constexpr uint64_t kReturnPlaceholder = 0x7fffffffffffffffULL;

// Generates a template into *out. Both kinds step below the red zone,
// load the number and the return address, and jump on through the slot
// after the code: to the entry, or, for a direct one, to the gateway's
// syscall, with the return address kept in a slot below the red zone.
class TemplateGenerator : public Xbyak::CodeGenerator {
 public:
  TemplateGenerator(Template* out, bool direct, uint64_t target)
      : Xbyak::CodeGenerator(kSlotSize, out->code) {
    using namespace Xbyak::util;
    Xbyak::Label slot;
    lea(rsp, ptr[rsp - (direct ? kRedZone + 8 : kRedZone)]);
    nr_opcode = getSize();
    mov(eax, kNrPlaceholder);
    return_opcode = getSize();
    mov(rcx, kReturnPlaceholder);
    if (direct) mov(ptr[rsp], rcx);
    jmp(ptr[rip + slot]);
    // Aligned (trampolines start on 64-byte boundaries), so that the jump
    // does not fault in a program that set the alignment-check flag.
    align(8);
    L(slot);
    dq(target);
    out->size = getSize();
    out->nr_offset = nr_opcode + 1;
    out->return_offset = return_opcode + 2;
  }
  size_t nr_opcode = 0;
  size_t return_opcode = 0;
};

// Generates *out and checks the encodings the immediates are filled into.
bool GenerateTemplate(Template* out, bool direct) {
  TemplateGenerator generator(
      out, direct,
      direct ? reinterpret_cast<uint64_t>(&sandbox_gateway_passthrough)
             : reinterpret_cast<uint64_t>(&sandbox_fast_entry));
  if (Xbyak::GetError() != 0 || generator.getSize() > kSlotSize) return false;
  const uint8_t* code = out->code;
  return code[generator.nr_opcode] == 0xb8 &&
         code[generator.return_opcode] == 0x48 &&
         code[generator.return_opcode + 1] == 0xb9;
}

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
      if (hint < g_state.heap_end && hint + kPoolSize > g_state.heap_begin) {
        continue;
      }
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

bool InitTrampolines(uint64_t xsave_mask, uint32_t xsave_size,
                     const char** error) {
  sandbox_xsave_mask = xsave_mask;
  sandbox_xsave_area_size = xsave_size + 64;
  // brk(0) answers the current break: the heap grows up from there.
  g_state.heap_begin =
      static_cast<uint64_t>(sandbox_raw_syscall(SYS_brk, 0, 0, 0, 0, 0, 0));
  g_state.heap_end = g_state.heap_begin + kHeapReserve;

  if (!GenerateTemplate(&g_state.to_entry, /*direct=*/false) ||
      !GenerateTemplate(&g_state.direct, /*direct=*/true)) {
    *error = "cannot generate the site trampolines";
    return false;
  }
  return true;
}

uint64_t MakeSiteTrampoline(uint64_t site, uint64_t return_address, uint32_t nr,
                            bool direct) {
  Pool* pool = PoolNear(site);
  if (pool == nullptr) return 0;
  const Template& model = direct ? g_state.direct : g_state.to_entry;
  uint8_t code[kSlotSize];
  memcpy(code, model.code, model.size);
  memcpy(code + model.nr_offset, &nr, sizeof(nr));
  memcpy(code + model.return_offset, &return_address, sizeof(return_address));
  uint64_t address = pool->base + pool->used;
  memcpy(pool->writable + pool->used, code, model.size);
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
