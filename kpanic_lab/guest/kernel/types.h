/* types.h - fixed-width types and the few compiler helpers the kernel uses. */
#ifndef KPANIC_TYPES_H
#define KPANIC_TYPES_H

typedef unsigned char       u8;
typedef unsigned short      u16;
typedef unsigned int        u32;
typedef unsigned long long  u64;
typedef signed char         s8;
typedef short               s16;
typedef int                 s32;
typedef long long           s64;
typedef unsigned long       size_t;
typedef long                ssize_t;
typedef long                loff_t;
typedef unsigned long       uintptr_t;
typedef int                 pid_t;
typedef _Bool               bool;
#define true  1
#define false 0
#define NULL  ((void *)0)

typedef __builtin_va_list   va_list;
#define va_start(v, l)      __builtin_va_start(v, l)
#define va_end(v)           __builtin_va_end(v)
#define va_arg(v, T)        __builtin_va_arg(v, T)

#define offsetof(T, m)      __builtin_offsetof(T, m)
#define container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))
#define ARRAY_SIZE(a)       (sizeof(a) / sizeof((a)[0]))
#define ALIGN(x, a)         (((x) + (a) - 1) & ~((unsigned long)(a) - 1))
#define min(a, b)           ((a) < (b) ? (a) : (b))
#define max(a, b)           ((a) > (b) ? (a) : (b))

#define __noreturn          __attribute__((noreturn))
#define __aligned(x)        __attribute__((aligned(x)))
#define __section(s)        __attribute__((section(s)))
#define __used              __attribute__((used))
#define __printf(a, b)      __attribute__((format(printf, a, b)))
#define noinline            __attribute__((noinline))
#define __cold              __attribute__((cold))
#define unlikely(x)         __builtin_expect(!!(x), 0)
#define likely(x)           __builtin_expect(!!(x), 1)
#define barrier()           asm volatile("" ::: "memory")
#define READ_ONCE(x)        (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v)    (*(volatile typeof(x) *)&(x) = (v))

#endif
