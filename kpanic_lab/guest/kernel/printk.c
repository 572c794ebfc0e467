/*
 * printk.c - the kernel log: a ring buffer of records, and the console.
 *
 * The buffer uses the record format of Linux 3.5 .. 5.9 (kernel/printk/printk.c
 * before the lockless ring buffer), because that is the format crash's `log`
 * and makedumpfile's --dump-dmesg read from a vmcore:
 *
 *   log_buf ─► | printk_log hdr | text | pad | printk_log hdr | text | pad | ... |
 *              ^ log_first_idx (oldest)           log_next_idx (next free) ^
 *
 * Each record is a 16-byte struct printk_log followed by text_len bytes of
 * text (no trailing newline) and dict_len bytes of dictionary, padded so the
 * next record is 8-byte aligned; `len` is the whole record's size.  A header
 * with len == 0 means "wrap: the next record is at the start of the buffer".
 * Old records are dropped when new ones need the space; log_first_seq and
 * log_next_seq count records so readers can tell how many were lost.
 *
 * As Linux, `log_buf` is a pointer to the static array `__log_buf` and
 * `log_buf_len` holds its size: dump tools read the pointer, not the array.
 *
 * Continuation lines (KERN_CONT, or text without a final newline) are
 * gathered in a small buffer and stored as one record when the line ends,
 * as Linux 4.9 .. 5.9 did; the console prints whole records.
 *
 * printk can be called from anywhere: process context, interrupts, NMIs,
 * the oops and panic paths.  One lock (logbuf_lock) serialises the buffer
 * and the serial port.  It remembers its owner CPU, so a printk nested on
 * the same CPU (an NMI or a fault while printing) goes ahead instead of
 * deadlocking, and the panicking CPU takes it by force when another CPU was
 * stopped while holding it (see console_flush_on_panic).
 */
#include "types.h"
#include "param.h"
#include "defs.h"
#include "crash_core.h"
#include "x86.h"
#include "sched.h"

struct printk_log {
	u64 ts_nsec;        /* timestamp in nanoseconds */
	u16 len;            /* length of the entire record */
	u16 text_len;       /* length of the text */
	u16 dict_len;       /* length of the dictionary */
	u8 facility;        /* syslog facility */
	u8 flags:5;         /* internal record flags (LOG_*) */
	u8 level:3;         /* syslog level */
};

enum log_flags {
	LOG_NEWLINE = 2,    /* text ended with a newline */
	LOG_CONT    = 8,    /* text is a fragment of a continuation line */
};

#define __LOG_BUF_LEN   (1U << LOG_BUF_SHIFT)
#define LOG_ALIGN       8
#define PREFIX_MAX      32
#define LOG_LINE_MAX    (1024 - PREFIX_MAX)

char __log_buf[__LOG_BUF_LEN] __aligned(LOG_ALIGN);
char *log_buf = __log_buf;
u32 log_buf_len = __LOG_BUF_LEN;
u32 log_first_idx;          /* index of the oldest record */
u64 log_first_seq;          /* its sequence number */
u32 log_next_idx;           /* where the next record goes */
u64 log_next_seq;           /* its sequence number */
u64 console_seq;            /* next record the console prints */
static u32 console_idx;

int console_loglevel = 7;                   /* print levels below this */
int default_message_loglevel = 4;           /* KERN_WARNING when none is given */
int oops_in_progress;                       /* bust_spinlocks(): the console must not block */
int suppress_printk;                        /* set after panic()'s end marker: nothing more is logged */

/* ---- the lock -------------------------------------------------------- */

static volatile int logbuf_owner = -1;      /* CPU holding logbuf_lock, -1 free */

/* The CPU number, safe before per-CPU data is set up (GS base still 0). */
static int printk_cpu(void)
{
	if (rdmsr(MSR_GS_BASE) == 0)
		return 0;
	return smp_processor_id();
}

/*
 * Returns 1 if we took the lock, 0 if we are nested on the CPU that holds it
 * (then the caller must not release it).
 */
static int logbuf_lock(unsigned long *flags)
{
	int cpu = printk_cpu();
	long spins = 0;

	local_irq_save(*flags);
	if (logbuf_owner == cpu)
		return 0;
	while (!__sync_bool_compare_and_swap(&logbuf_owner, -1, cpu)) {
		/*
		 * The panicking CPU may have stopped the owner with an NMI:
		 * then the lock is never released, and the panic CPU takes it.
		 */
		if (READ_ONCE(panic_cpu) == cpu && ++spins > 100000) {
			logbuf_owner = cpu;
			break;
		}
		cpu_relax();
	}
	return 1;
}

static void logbuf_unlock(int taken, unsigned long flags)
{
	if (taken)
		__atomic_store_n(&logbuf_owner, -1, __ATOMIC_RELEASE);
	local_irq_restore(flags);
}

/* ---- storing records (log_store, as Linux 5.x) ----------------------- */

static char *log_text(const struct printk_log *msg)
{
	return (char *)msg + sizeof(struct printk_log);
}

static struct printk_log *log_from_idx(u32 idx)
{
	struct printk_log *msg = (struct printk_log *)(log_buf + idx);
	if (!msg->len)              /* wrap marker: the record is at the start */
		return (struct printk_log *)log_buf;
	return msg;
}

static u32 log_next(u32 idx)
{
	struct printk_log *msg = (struct printk_log *)(log_buf + idx);
	if (!msg->len) {
		msg = (struct printk_log *)log_buf;
		return msg->len;
	}
	return idx + msg->len;
}

static int logbuf_has_space(u32 msg_size, bool empty)
{
	u32 free;
	if (log_next_idx > log_first_idx || empty)
		free = max(log_buf_len - log_next_idx, log_first_idx);
	else
		free = log_first_idx - log_next_idx;
	/* room for an empty header that marks the wrap, too */
	return free >= msg_size + sizeof(struct printk_log);
}

static int log_make_free_space(u32 msg_size)
{
	while (log_first_seq < log_next_seq && !logbuf_has_space(msg_size, false)) {
		log_first_idx = log_next(log_first_idx);
		log_first_seq++;
	}
	if (console_seq < log_first_seq) {     /* the console lost records */
		console_seq = log_first_seq;
		console_idx = log_first_idx;
	}
	return logbuf_has_space(msg_size, log_first_seq == log_next_seq) ? 0 : -1;
}

static void log_store(int level, int lflags, u64 ts, const char *text, u16 text_len)
{
	u32 size = ALIGN(sizeof(struct printk_log) + text_len, LOG_ALIGN);

	if (log_make_free_space(size))
		return;
	if (log_next_idx + size + sizeof(struct printk_log) > log_buf_len) {
		/* does not fit at the end: leave a wrap marker, start over */
		memset(log_buf + log_next_idx, 0, sizeof(struct printk_log));
		log_next_idx = 0;
	}
	struct printk_log *msg = (struct printk_log *)(log_buf + log_next_idx);
	memcpy(log_text(msg), text, text_len);
	memset(log_text(msg) + text_len, 0, size - sizeof(*msg) - text_len);
	msg->text_len = text_len;
	msg->dict_len = 0;
	msg->facility = 0;          /* LOG_KERN */
	msg->level = level & 7;
	msg->flags = lflags & 0x1f;
	msg->ts_nsec = ts;
	msg->len = size;
	log_next_idx += size;
	log_next_seq++;
}

/* The continuation buffer: one line being assembled from fragments. */
static struct {
	char buf[LOG_LINE_MAX];
	u16 len;
	int cpu;                    /* who is writing it (Linux: the caller id) */
	int level;
	u64 ts_nsec;                /* time of the first fragment */
} cont;

static void cont_flush(void)
{
	if (!cont.len)
		return;
	log_store(cont.level, LOG_NEWLINE, cont.ts_nsec, cont.buf, cont.len);
	cont.len = 0;
}

static bool cont_add(int cpu, int level, const char *text, u16 len)
{
	if (cont.len + len > sizeof(cont.buf)) {
		cont_flush();
		return false;
	}
	if (!cont.len) {
		cont.cpu = cpu;
		cont.level = level;
		cont.ts_nsec = local_clock();
	}
	memcpy(cont.buf + cont.len, text, len);
	cont.len += len;
	return true;
}

static void log_output(int cpu, int level, int lflags, const char *text, u16 len)
{
	if (cont.len) {
		if (cont.cpu == cpu && (lflags & LOG_CONT)) {
			if (cont_add(cpu, level, text, len)) {
				if (lflags & LOG_NEWLINE)
					cont_flush();
				return;
			}
		}
		cont_flush();
	}
	if (!len && (lflags & LOG_CONT))
		return;
	if (!(lflags & LOG_NEWLINE) && cont_add(cpu, level, text, len))
		return;
	log_store(level, lflags, local_clock(), text, len);
}

/* ---- the console ----------------------------------------------------- */

static void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_putc(s[i]);
}

/* One record as the console shows it: "[    3.298476] text", each line prefixed. */
static void console_emit(const struct printk_log *msg)
{
	char prefix[PREFIX_MAX];
	u64 ts = msg->ts_nsec;
	int plen = scnprintf(prefix, sizeof(prefix), "[%5lu.%06lu] ",
			     (unsigned long)(ts / 1000000000), (unsigned long)(ts % 1000000000) / 1000);
	const char *t = log_text(msg);
	size_t n = msg->text_len, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || t[i] == '\n') {
			console_write(prefix, plen);
			console_write(t + start, i - start);
			serial_putc('\n');
			start = i + 1;
		}
	}
}

/* Print every record the console has not printed yet (console_unlock). */
static void console_flush(void)
{
	if (console_seq < log_first_seq) {
		console_seq = log_first_seq;
		console_idx = log_first_idx;
	}
	while (console_seq < log_next_seq) {
		struct printk_log *msg = log_from_idx(console_idx);
		if (msg->level < console_loglevel)
			console_emit(msg);
		console_idx = (u32)((char *)msg - log_buf) + msg->len;
		console_seq++;
	}
}

/* ---- printk ---------------------------------------------------------- */

int vprintk(const char *fmt, va_list ap)
{
	char textbuf[LOG_LINE_MAX];
	char *text = textbuf;
	int level = -1, lflags = 0;
	unsigned long flags;

	/* Suppress unimportant messages after panic happens (vprintk_emit) */
	if (unlikely(suppress_printk))
		return 0;

	int len = vscnprintf(textbuf, sizeof(textbuf), fmt, ap);

	/* strip and remember the KERN_<LEVEL> prefixes */
	while (len >= 2 && text[0] == KERN_SOH[0] && text[1]) {
		if (text[1] >= '0' && text[1] <= '7' && level < 0)
			level = text[1] - '0';
		else if (text[1] == 'c')
			lflags |= LOG_CONT;
		text += 2;
		len -= 2;
	}
	if (level < 0)
		level = default_message_loglevel;
	if (len && text[len - 1] == '\n') {
		len--;
		lflags |= LOG_NEWLINE;
	}

	int taken = logbuf_lock(&flags);
	log_output(printk_cpu(), level, lflags, text, len);
	console_flush();
	logbuf_unlock(taken, flags);
	return len;
}

int _printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

/* Make every message reach the console from now on (oops_begin, panic). */
void console_verbose(void)
{
	if (console_loglevel)
		console_loglevel = 15;
}

void bust_spinlocks(int yes)
{
	if (yes)
		++oops_in_progress;
	else if (oops_in_progress)
		--oops_in_progress;
}

/*
 * Called by panic() after the other CPUs are stopped: one of them may have
 * been stopped inside printk with the lock held and records unprinted.
 * Take the lock whoever holds it, end any half-built line, print the rest
 * (CONSOLE_FLUSH_PENDING), or the whole log again from its first record
 * (CONSOLE_REPLAY_ALL: panic_print's "all printk messages" bit).
 */
void console_flush_on_panic(enum con_flush_mode mode)
{
	unsigned long flags;
	local_irq_save(flags);
	logbuf_owner = printk_cpu();
	cont_flush();
	if (mode == CONSOLE_REPLAY_ALL) {
		console_seq = log_first_seq;
		console_idx = log_first_idx;
	}
	console_flush();
	__atomic_store_n(&logbuf_owner, -1, __ATOMIC_RELEASE);
	local_irq_restore(flags);
}

/*
 * User output to the console (tty_write) takes the same lock, so a line of
 * the shell never lands in the middle of a kernel message.
 */
void console_write_user(const char *s, size_t n)
{
	unsigned long flags;
	int taken = logbuf_lock(&flags);
	console_write(s, n);
	logbuf_unlock(taken, flags);
}

/*
 * Copy the text of the log to buf (for /proc/kmsg-like readers and kmsg
 * dumpers): each record as "[    1.234567] text\n", oldest first.
 */
size_t log_buf_copy(char *buf, size_t size)
{
	unsigned long flags;
	size_t pos = 0;
	int taken = logbuf_lock(&flags);
	u32 idx = log_first_idx;
	for (u64 seq = log_first_seq; seq < log_next_seq; seq++) {
		struct printk_log *msg = log_from_idx(idx);
		u64 ts = msg->ts_nsec;
		pos += scnprintf(buf + pos, size - pos, "[%5lu.%06lu] %.*s\n",
				 (unsigned long)(ts / 1000000000), (unsigned long)(ts % 1000000000) / 1000,
				 msg->text_len, log_text(msg));
		idx = (u32)((char *)msg - log_buf) + msg->len;
	}
	logbuf_unlock(taken, flags);
	return pos;
}

/* VMCOREINFO: where the log is and how a record is laid out, for makedumpfile --dump-dmesg and crash */
void log_buf_vmcoreinfo_setup(void)
{
	VMCOREINFO_SYMBOL(log_buf);
	VMCOREINFO_SYMBOL(log_buf_len);
	VMCOREINFO_SYMBOL(log_first_idx);
	VMCOREINFO_SYMBOL(log_next_idx);
	VMCOREINFO_STRUCT_SIZE(printk_log);
	VMCOREINFO_OFFSET(printk_log, ts_nsec);
	VMCOREINFO_OFFSET(printk_log, len);
	VMCOREINFO_OFFSET(printk_log, text_len);
}
