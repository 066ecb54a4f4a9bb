// The shared entry of the fast path: where every rewritten site's
// trampoline jumps.
//
// On entry RSP is the program's stack pointer less its 128-byte red zone,
// EAX holds the syscall number and RCX the address after the site's
// syscall instruction, which is also the value the syscall instruction
// leaves in RCX. The entry saves what the kernel would preserve, builds a
// SandboxFastFrame, asks the general-registers-only dispatch for an answer
// (or the full dispatch, with the extended state saved around it), and
// returns to the program with only RAX, RCX and R11 changed: RAX the
// result, RCX the return address, R11 the flags.
//
// The unwind table describes every instruction, so debuggers, profilers,
// backtrace() and pthread cancellation walk from runtime code through this
// entry into the program: the caller's stack pointer is this frame's CFA
// (the program's RSP) and its return address is the saved RCX.
//
// Runs on the program's stack, in any thread, possibly nested in a signal
// handler: it keeps no state outside its own frame.

        .text
        .globl  sandbox_fast_entry
        .hidden sandbox_fast_entry
        .type   sandbox_fast_entry, @function
        .p2align 4
sandbox_fast_entry:
        .cfi_startproc simple
        .cfi_def_cfa %rsp, 128
        .cfi_register %rip, %rcx
        pushfq
        .cfi_adjust_cfa_offset 8
        cld                     // compiled code expects the direction flag clear
        pushq   %rcx            // return_address
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rip, -144
        pushq   %r9
        .cfi_adjust_cfa_offset 8
        pushq   %r8
        .cfi_adjust_cfa_offset 8
        pushq   %r10
        .cfi_adjust_cfa_offset 8
        pushq   %rdx
        .cfi_adjust_cfa_offset 8
        pushq   %rsi
        .cfi_adjust_cfa_offset 8
        pushq   %rdi
        .cfi_adjust_cfa_offset 8
        pushq   %rax            // nr
        .cfi_adjust_cfa_offset 8
        pushq   $0              // result
        .cfi_adjust_cfa_offset 8
        movq    %rsp, %rdi      // the SandboxFastFrame
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -216
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        andq    $-16, %rsp

        call    sandbox_fast_dispatch
        testl   %eax, %eax
        jnz     1f
        // Not answered: the full dispatch, which may use any register.
        leaq    8(%rbp), %rdi
        leaq    sandbox_fast_full_dispatch(%rip), %rsi
        call    sandbox_call_with_xstate_saved
1:
        movq    %rbp, %rsp
        popq    %rbp
        .cfi_def_cfa %rsp, 208
        .cfi_restore %rbp
        popq    %rax            // result
        .cfi_adjust_cfa_offset -8
        leaq    8(%rsp), %rsp   // nr
        .cfi_adjust_cfa_offset -8
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        popq    %rdx
        .cfi_adjust_cfa_offset -8
        popq    %r10
        .cfi_adjust_cfa_offset -8
        popq    %r8
        .cfi_adjust_cfa_offset -8
        popq    %r9
        .cfi_adjust_cfa_offset -8
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        .cfi_register %rip, %rcx
        popfq
        .cfi_adjust_cfa_offset -8
        // R11 gets the flags, as the syscall instruction leaves it.
        pushfq
        .cfi_adjust_cfa_offset 8
        popq    %r11
        .cfi_adjust_cfa_offset -8
        leaq    128(%rsp), %rsp
        .cfi_def_cfa_offset 0
        jmp     *%rcx
        .cfi_endproc
        .size   sandbox_fast_entry, . - sandbox_fast_entry

        .section .note.GNU-stack,"",@progbits
