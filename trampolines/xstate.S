// Calls a function with the program's whole extended register state (x87,
// SSE, AVX, AVX-512, and whatever else XCR0 enables) saved around it, for
// the parts of the fast path that run ordinary compiled code, which may use
// any register. The save area lives on the stack, 64-byte aligned, sized by
// sandbox_xsave_area_size (CPUID leaf 0xD, set at start-up).

        .text
        .globl  sandbox_call_with_xstate_saved
        .hidden sandbox_call_with_xstate_saved
        .type   sandbox_call_with_xstate_saved, @function
// void sandbox_call_with_xstate_saved(void* arg, void (*fn)(void*))
sandbox_call_with_xstate_saved:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -16
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        pushq   %rbx
        pushq   %r12
        movq    %rdi, %rbx
        movq    %rsi, %r12
        subq    sandbox_xsave_area_size(%rip), %rsp
        andq    $-64, %rsp
        // XRSTOR faults on a header with reserved bits set: clear it, since
        // XSAVE writes only the feature bitmap.
        xorl    %eax, %eax
        .irp off, 512, 520, 528, 536, 544, 552, 560, 568
        movq    %rax, \off(%rsp)
        .endr
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rsp)
        movq    %rbx, %rdi
        callq   *%r12
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        leaq    -16(%rbp), %rsp
        popq    %r12
        popq    %rbx
        popq    %rbp
        .cfi_def_cfa %rsp, 8
        ret
        .cfi_endproc
        .size   sandbox_call_with_xstate_saved, . - sandbox_call_with_xstate_saved

        .section .note.GNU-stack,"",@progbits
