// Checks that a syscall leaves the program's registers as the kernel does:
// only RAX, RCX and R11 change; zmm0-31, k1-7, MXCSR, the x87 control word
// and every other general register stay; and nothing below the stack
// pointer (the red zone) is written. The syscall site is the common
// `mov $nr, %eax; syscall` shape.
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern "C" void CheckSyscallRegisters(const uint8_t* zmm_in, uint8_t* zmm_out,
                                      uint64_t* results, long iterations);

// results[0] = red-zone damage (0 when intact), [1..12] = rbx, rbp, rdi,
// rsi, rdx, r8, r9, r10, r12, r13, r14, r15, [13..19] = k1..k7.
asm(R"(
        .text
        .globl CheckSyscallRegisters
        .type CheckSyscallRegisters, @function
CheckSyscallRegisters:
        pushq %rbx
        pushq %rbp
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        pushq %rsi
        pushq %rdx
        pushq %rcx
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 \n*64(%rdi), %zmm\n
        .endr
        .irp n, 1,2,3,4,5,6,7
        movabsq $0x6b00000000000000 + \n * 0x0101010101, %rax
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
        movq $0x7ed20000 + \off, -\off(%rsp)
        .endr
1:
        movl $110, %eax
        syscall
        decq (%rsp)
        jnz 1b
        xorl %eax, %eax
        .irp off, 8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128
        movq -\off(%rsp), %rcx
        subq $0x7ed20000 + \off, %rcx
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
        movq 16(%rsp), %rcx
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 %zmm\n, \n*64(%rcx)
        .endr
        popq %rcx
        popq %rdx
        popq %rsi
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        vzeroupper
        ret
        .size CheckSyscallRegisters, . - CheckSyscallRegisters
)");

namespace {

bool HasAvx512() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  bool avx512f = ebx & (1u << 16);
  bool avx512bw = ebx & (1u << 30);  // 64-bit opmask moves
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  bool osxsave = ecx & (1u << 27);
  if (!avx512f || !avx512bw || !osxsave) return false;
  unsigned low, high;
  asm volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (low & 0xe6) == 0xe6;  // the OS saves opmask and zmm state
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 20000;
  if (!HasAvx512()) {
    printf("skip: no AVX-512\n");
    return 77;
  }
  alignas(64) static uint8_t zmm_in[32 * 64], zmm_out[32 * 64];
  for (size_t i = 0; i < sizeof(zmm_in); ++i) {
    zmm_in[i] = static_cast<uint8_t>(i * 7 + 3);
  }
  uint64_t results[20] = {};

  // A rounding mode and precision nobody uses by default.
  unsigned mxcsr_in = 0x5f80 | (2u << 13), mxcsr_out = 0;
  uint16_t fpucw_in = 0x0e7f, fpucw_out = 0, fpucw_saved;
  unsigned mxcsr_saved;
  asm volatile("stmxcsr %0" : "=m"(mxcsr_saved));
  asm volatile("fnstcw %0" : "=m"(fpucw_saved));
  asm volatile("ldmxcsr %0" : : "m"(mxcsr_in));
  asm volatile("fldcw %0" : : "m"(fpucw_in));
  CheckSyscallRegisters(zmm_in, zmm_out, results, iterations);
  asm volatile("stmxcsr %0" : "=m"(mxcsr_out));
  asm volatile("fnstcw %0" : "=m"(fpucw_out));
  asm volatile("ldmxcsr %0" : : "m"(mxcsr_saved));
  asm volatile("fldcw %0" : : "m"(fpucw_saved));

  int failures = 0;
  if (results[0] != 0) {
    printf("red zone damaged\n");
    ++failures;
  }
  static const uint64_t kGprPatterns[12] = {
      0x1111111111111111, 0x2222222222222222, 0x3333333333333333,
      0x4444444444444444, 0x5555555555555555, 0x6666666666666666,
      0x7777777777777777, 0x0a0a0a0a0a0a0a0a, 0x0c0c0c0c0c0c0c0c,
      0x0d0d0d0d0d0d0d0d, 0x0e0e0e0e0e0e0e0e, 0x0f0f0f0f0f0f0f0f};
  static const char* kGprNames[12] = {"rbx", "rbp", "rdi", "rsi", "rdx", "r8",
                                      "r9",  "r10", "r12", "r13", "r14", "r15"};
  for (int i = 0; i < 12; ++i) {
    if (results[1 + i] != kGprPatterns[i]) {
      printf("%s changed\n", kGprNames[i]);
      ++failures;
    }
  }
  for (int k = 1; k <= 7; ++k) {
    if (results[12 + k] != 0x6b00000000000000 + k * 0x0101010101ULL) {
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
  if (mxcsr_out != mxcsr_in) {
    printf("mxcsr changed\n");
    ++failures;
  }
  if (fpucw_out != fpucw_in) {
    printf("x87 control word changed\n");
    ++failures;
  }
  printf("registers: %ld syscalls, %d differences\n", iterations, failures);
  return failures == 0 ? 0 : 1;
}
