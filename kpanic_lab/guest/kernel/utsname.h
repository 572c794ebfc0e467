/* utsname.h - the kernel's names, as uname(2) returns them (include/linux/utsname.h). */
#ifndef KPANIC_UTSNAME_H
#define KPANIC_UTSNAME_H

#define __NEW_UTS_LEN 64

struct new_utsname {
	char sysname[__NEW_UTS_LEN + 1];
	char nodename[__NEW_UTS_LEN + 1];
	char release[__NEW_UTS_LEN + 1];
	char version[__NEW_UTS_LEN + 1];
	char machine[__NEW_UTS_LEN + 1];
	char domainname[__NEW_UTS_LEN + 1];
};

/* Linux's also holds its user namespace and refcounts; the guest has one namespace, the first */
struct uts_namespace {
	struct new_utsname name;
};

extern struct uts_namespace init_uts_ns;      /* version.c */

static inline struct new_utsname *init_utsname(void)
{
	return &init_uts_ns.name;
}

#endif
