// The syscall gateway. Everything between sandbox_gateway_begin and
// sandbox_gateway_end runs its syscalls undispatched: this range is the
// allowed range handed to Syscall User Dispatch. Nothing here uses the
// thread pointer, and no code but syscall entry and exit belongs here,
// since every syscall instruction in the range escapes interception.
//
// The kernel compares the address *after* a syscall instruction with the
// range, so every syscall here is followed by at least one instruction
// inside it.

// Moves a C call's arguments (nr, a1..a5 in rdi, rsi, rdx, rcx, r8, r9)
// into the registers the syscall instruction takes (rax, rdi, rsi, rdx,
// r10, r8).
        .macro SYSCALL_ARGUMENTS
        movq    %rdi, %rax
        movq    %rsi, %rdi
        movq    %rdx, %rsi
        movq    %rcx, %rdx
        movq    %r8, %r10
        movq    %r9, %r8
        .endm

        .section .text.sandbox_gateway,"ax",@progbits
        .p2align 6

        .globl  sandbox_gateway_begin
        .hidden sandbox_gateway_begin
sandbox_gateway_begin:

// long sandbox_raw_syscall(nr, a1, a2, a3, a4, a5, a6)
        .globl  sandbox_raw_syscall
        .hidden sandbox_raw_syscall
        .type   sandbox_raw_syscall, @function
sandbox_raw_syscall:
        .cfi_startproc
        SYSCALL_ARGUMENTS
        movq    8(%rsp), %r9
        syscall
        ret
        .cfi_endproc
        .size   sandbox_raw_syscall, . - sandbox_raw_syscall

// sandbox_gateway_passthrough: the syscall of a direct trampoline, one
// whose syscall the runtime lets through without running any of its own
// code. Entered by a jump with RSP 136 bytes below the program's stack
// pointer (below its red zone and one slot), the slot holding the address
// after the site's syscall instruction, RAX the number and every other
// register as the site left it. Nothing on the way from the site changes
// the flags, so R11 gets what the site's own syscall would have left in
// it, and RCX gets the site's return address, as the kernel would leave
// it. Leaves by an indirect jump, not a return: the return predictor holds
// nothing useful right after a syscall, and a mispredicted return costs
// more than the whole trampoline.
//
// The unwind table makes the program's frame the caller, skipping the
// trampoline, which has no table.
        .globl  sandbox_gateway_passthrough
        .hidden sandbox_gateway_passthrough
        .type   sandbox_gateway_passthrough, @function
sandbox_gateway_passthrough:
        .cfi_startproc simple
        .cfi_def_cfa %rsp, 136
        .cfi_offset %rip, -136
        syscall
        movq    (%rsp), %rcx
        .cfi_register %rip, %rcx
        leaq    136(%rsp), %rsp
        .cfi_def_cfa_offset 0
        jmp     *%rcx
        .cfi_endproc
        .size   sandbox_gateway_passthrough, . - sandbox_gateway_passthrough

// long sandbox_raw_syscall_int80(nr, a1, a2, a3, a4, a5, a6)
        .globl  sandbox_raw_syscall_int80
        .hidden sandbox_raw_syscall_int80
        .type   sandbox_raw_syscall_int80, @function
sandbox_raw_syscall_int80:
        .cfi_startproc
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        movq    %rdi, %rax
        movq    %rsi, %rbx
        movq    %rdx, %rdi      // a2 goes to ecx, via rdi as scratch
        movq    %rcx, %rdx      // a3
        movq    %rdi, %rcx
        movq    %r8, %rsi       // a4
        movq    %r9, %rdi       // a5
        movq    24(%rsp), %rbp  // a6
        int     $0x80
        movslq  %eax, %rax      // the i386 ABI returns a 32-bit value
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   sandbox_raw_syscall_int80, . - sandbox_raw_syscall_int80

// void sandbox_sigsys_restorer(void): the handler returns here with RSP at
// its ucontext.
//
// Unwinders (libgcc's, which pthread cancellation uses, and gdb) know a
// signal frame by these exact bytes, the ones glibc's own restorer has:
// `mov $15, %rax` in its 7-byte form, then `syscall`. They look the return
// address up less one byte, so a byte outside every function's unwind
// table comes first.
        nop
        .globl  sandbox_sigsys_restorer
        .hidden sandbox_sigsys_restorer
        .type   sandbox_sigsys_restorer, @function
sandbox_sigsys_restorer:
        .byte   0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00  // movq $15, %rax
        syscall
        ud2
        .size   sandbox_sigsys_restorer, . - sandbox_sigsys_restorer

        .globl  sandbox_gateway_syscall_insn
        .hidden sandbox_gateway_syscall_insn
sandbox_gateway_syscall_insn:
        syscall
        ud2

// void sandbox_resume_frame(void* ucontext)
        .globl  sandbox_resume_frame
        .hidden sandbox_resume_frame
        .type   sandbox_resume_frame, @function
sandbox_resume_frame:
        movq    %rdi, %rsp
        movl    $15, %eax       // __NR_rt_sigreturn
        syscall
        ud2
        .size   sandbox_resume_frame, . - sandbox_resume_frame

// long sandbox_clone_gateway(nr, a1, a2, a3, a4, a5, child_context)
        .globl  sandbox_clone_gateway
        .hidden sandbox_clone_gateway
        .type   sandbox_clone_gateway, @function
sandbox_clone_gateway:
        .cfi_startproc
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        movq    16(%rsp), %r12  // child_context survives into the child
        SYSCALL_ARGUMENTS
        syscall
        testq   %rax, %rax
        jz      1f
        popq    %r12
        .cfi_adjust_cfa_offset -8
        ret
1:
        // The child, on its new stack, which holds nothing of ours.
        .cfi_undefined rip
        xorl    %ebp, %ebp
        andq    $-16, %rsp
        movq    %r12, %rdi
        call    sandbox_child_start
        ud2
        .cfi_endproc
        .size   sandbox_clone_gateway, . - sandbox_clone_gateway

// long sandbox_vfork_gateway(nr, a1, a2, a3, a4, a5, resume)
        .globl  sandbox_vfork_gateway
        .hidden sandbox_vfork_gateway
        .type   sandbox_vfork_gateway, @function
sandbox_vfork_gateway:
        .cfi_startproc
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        movq    16(%rsp), %r12  // resume: kept in a register, off the stack
        SYSCALL_ARGUMENTS
        syscall
        testq   %rax, %rax
        jnz     1f
        // The child runs first, while the stack is still intact.
        popq    %r12
        .cfi_adjust_cfa_offset -8
        ret
1:
        // The parent (or a failed call). The child may have overwritten the
        // stack: put the signal frame back from the copy, with the result in
        // it, before the stack is used again.
        movq    32(%r12), %rcx  // result_slot
        movq    %rax, (%rcx)
        movq    16(%r12), %rsi  // copy_addr
        movq    0(%r12), %rdi   // frame_addr
        movq    8(%r12), %rcx   // frame_len
        cld
        rep movsb
        // The frame is whole again. Below it the stack is free: finish the
        // call in C there (tracing, releasing the child's record), then
        // resume the program.
        movq    0(%r12), %rsp
        andq    $-16, %rsp
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        call    sandbox_vfork_parent_resumed
        movq    24(%r12), %rsp  // sigreturn_sp
        movl    $15, %eax       // __NR_rt_sigreturn
        syscall
        ud2
        .cfi_endproc
        .size   sandbox_vfork_gateway, . - sandbox_vfork_gateway

        .globl  sandbox_gateway_end
        .hidden sandbox_gateway_end
sandbox_gateway_end:
        ud2

        .section .note.GNU-stack,"",@progbits
