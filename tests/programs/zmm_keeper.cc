// Holds patterns in zmm0-31 and k1-7 while it sleeps in 300 raw 10 ms
// nanosleeps, long enough to be checkpointed and restored in between, then
// checks every register and logs the result.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern "C" void KeepVectorRegisters(const uint8_t* zmm_in, uint8_t* zmm_out,
                                    uint64_t* opmasks, long sleeps);

asm(R"(
        .text
        .globl KeepVectorRegisters
        .type KeepVectorRegisters, @function
KeepVectorRegisters:
        pushq %rbx
        pushq %r12
        pushq %r13
        pushq %r14
        movq %rsi, %r12
        movq %rdx, %r13
        movq %rcx, %r14
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 \n*64(%rdi), %zmm\n
        .endr
        .irp n, 1,2,3,4,5,6,7
        movabsq $0x6b00000000000000 + \n * 0x0101010101, %rax
        kmovq %rax, %k\n
        .endr
        # Ten milliseconds, on the stack below the pushed registers.
        subq $16, %rsp
        movq $0, (%rsp)
        movq $10000000, 8(%rsp)
1:
        movl $35, %eax          # nanosleep
        movq %rsp, %rdi
        xorl %esi, %esi
        syscall
        decq %r14
        jnz 1b
        addq $16, %rsp
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        vmovdqu64 %zmm\n, \n*64(%r12)
        .endr
        .irp n, 1,2,3,4,5,6,7
        kmovq %k\n, %rax
        movq %rax, (\n - 1) * 8(%r13)
        .endr
        vzeroupper
        popq %r14
        popq %r13
        popq %r12
        popq %rbx
        ret
        .size KeepVectorRegisters, . - KeepVectorRegisters
)");

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  FILE* log = fopen(argv[1], "a");
  if (log == nullptr) return 2;
  setvbuf(log, nullptr, _IOLBF, 0);
  alignas(64) static uint8_t in[32 * 64], out[32 * 64];
  for (size_t i = 0; i < sizeof(in); ++i) in[i] = static_cast<uint8_t>(i * 13);
  uint64_t opmasks[7] = {};
  fprintf(log, "holding\n");
  KeepVectorRegisters(in, out, opmasks, 300);
  int differences = memcmp(in, out, sizeof(in)) != 0;
  for (int k = 1; k <= 7; ++k) {
    differences += opmasks[k - 1] != 0x6b00000000000000 + k * 0x0101010101ULL;
  }
  fprintf(log, "registers %s\n", differences == 0 ? "intact" : "changed");
  return differences == 0 ? 0 : 1;
}
