// Calls a function with the program's extended register state saved around
// it, for the parts of the fast path that run ordinary compiled code, which
// may use any register a compiler uses: every component XCR0 enables (x87,
// SSE, AVX, AVX-512, ...) but the AMX tiles, which no compiled code touches
// and which would add 8 KiB to every save (sandbox_xsave_mask). The save
// area lives on the stack, 64-byte aligned, sized by sandbox_xsave_area_size
// for those components (CPUID leaf 0xD, set at start-up).

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
        movl    sandbox_xsave_mask(%rip), %eax
        movl    sandbox_xsave_mask+4(%rip), %edx
        xsave64 (%rsp)
        movq    %rbx, %rdi
        callq   *%r12
        movl    sandbox_xsave_mask(%rip), %eax
        movl    sandbox_xsave_mask+4(%rip), %edx
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
