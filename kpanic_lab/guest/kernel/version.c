/*
 * version.c - what the kernel calls itself (init/version.c in Linux 6.1).
 *
 *   init_uts_ns    the names uname(2), /proc/sys/kernel/{ostype,osrelease,version},
 *                  /proc/version and the oops's CPU line read; dump tools find it
 *                  through VMCOREINFO's SYMBOL(init_uts_ns) (makedumpfile checks the
 *                  release there before it reads anything else)
 *   linux_banner   the first line of the boot log
 */
#include "types.h"
#include "param.h"
#include "utsname.h"

struct uts_namespace init_uts_ns = {
	.name = {
		.sysname    = UTS_SYSNAME,
		.nodename   = UTS_NODENAME,
		.release    = UTS_RELEASE,
		.version    = UTS_VERSION,
		.machine    = UTS_MACHINE,
		.domainname = UTS_DOMAINNAME,
	},
};

/* what the boot log starts with, and crash's `sys` shows */
const char linux_banner[] =
	"Linux version " UTS_RELEASE " (kpanic@kpanic_lab) (" LINUX_COMPILER ") " UTS_VERSION "\n";

/* /proc/version: the same line, from the names in init_uts_ns */
const char linux_proc_banner[] =
	"%s version %s (kpanic@kpanic_lab) (" LINUX_COMPILER ") %s\n";
