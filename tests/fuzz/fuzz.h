/* fuzz.h: what every libFuzzer target here shares (header-only). */
#ifndef CHAINLAB_FUZZ_H
#define CHAINLAB_FUZZ_H

/* Stop at a broken property: a trap that libFuzzer reports as a crash. A call taking the line,
 * not a bare __builtin_trap(), so the traps are not merged and the stack trace names the line. */
__attribute__((noinline, noreturn)) static void fuzz_fail(int line)
{
    volatile int at = line; /* visible in a debugger */
    (void)at;
    __builtin_trap();
}

#endif
