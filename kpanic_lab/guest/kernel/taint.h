/* taint.h - taint flags (include/linux/panic.h): why a bug report may not be trusted. */
#ifndef KPANIC_TAINT_H
#define KPANIC_TAINT_H

#define TAINT_PROPRIETARY_MODULE        0   /* P: a non-GPL module is loaded */
#define TAINT_FORCED_MODULE             1
#define TAINT_CPU_OUT_OF_SPEC           2
#define TAINT_FORCED_RMMOD              3
#define TAINT_MACHINE_CHECK             4
#define TAINT_BAD_PAGE                  5
#define TAINT_USER                      6
#define TAINT_DIE                       7   /* D: the kernel oopsed (or BUG()ed) before */
#define TAINT_OVERRIDDEN_ACPI_TABLE     8
#define TAINT_WARN                      9   /* W: a WARN() fired */
#define TAINT_CRAP                      10
#define TAINT_FIRMWARE_WORKAROUND       11
#define TAINT_OOT_MODULE                12  /* O: an out-of-tree module is loaded */
#define TAINT_UNSIGNED_MODULE           13  /* E: an unsigned module is loaded */
#define TAINT_SOFTLOCKUP                14
#define TAINT_LIVEPATCH                 15
#define TAINT_AUX                       16
#define TAINT_RANDSTRUCT                17
#define TAINT_TEST                      18
#define TAINT_FLAGS_COUNT               19

#define LOCKDEP_STILL_OK                1
#define LOCKDEP_NOW_UNRELIABLE          0

#endif
