/*
 * serial.c - the COM1 console (a 16550 UART, hw.h) and the tty line discipline.
 *
 * Output: poll the line status register until the transmitter is empty,
 * then write the byte.  Polling, not interrupts, because the console must
 * work with interrupts off, in an NMI, and after panic() stopped the world.
 *
 * Input: with COM1_IER bit 0 set the machine raises SERIAL_VECTOR when bytes
 * arrive; console_input_irq() (the interrupt handler, wired by the arch code)
 * moves them into the tty buffer, the way n_tty does in canonical mode:
 * echo each character, handle backspace, and make a line available to
 * readers when Enter arrives.  A reader with no complete line sleeps on the
 * tty (and tells the lab it is waiting, so the lab knows when to type).
 */
#include "types.h"
#include "defs.h"
#include "x86.h"
#include "hw.h"
#include "sched.h"

#define TTY_BUF_SIZE 1024

static struct {
	char buf[TTY_BUF_SIZE];
	int head;               /* next byte a reader gets */
	int tail;               /* where the next input byte goes */
	int line_start;         /* start of the line being edited (backspace stops here) */
	int lines;              /* complete lines waiting */
} tty;

static int tty_wait;        /* the wait channel readers sleep on */

void serial_putc(char c)
{
	int spins = 0;
	while (!(inb(COM1_LSR) & LSR_THR_EMPTY) && ++spins < 100000)
		cpu_relax();
	outb(COM1_BASE, c);
}

int serial_getc(void)
{
	if (!(inb(COM1_LSR) & LSR_DATA_READY))
		return -1;
	return inb(COM1_BASE);
}

void console_init(void)
{
	outb(COM1_IER, 0x01);   /* interrupt when a byte arrives */
	pr_info("printk: console [ttyS0] enabled\n");
}

static int tty_used(void)
{
	return (tty.tail - tty.head + TTY_BUF_SIZE) % TTY_BUF_SIZE;
}

static void echo(const char *s, int n)
{
	console_write_user(s, n);
}

/* One input byte through the line discipline.  Interrupts are off. */
static void n_tty_receive_char(char c)
{
	if (c == '\r')
		c = '\n';
	if (c == 0x7f || c == '\b') {                  /* erase one character */
		if (tty.tail != tty.line_start) {
			tty.tail = (tty.tail - 1 + TTY_BUF_SIZE) % TTY_BUF_SIZE;
			echo("\b \b", 3);
		}
		return;
	}
	if (tty_used() >= TTY_BUF_SIZE - 1)            /* full: drop, as n_tty */
		return;
	tty.buf[tty.tail] = c;
	tty.tail = (tty.tail + 1) % TTY_BUF_SIZE;
	echo(&c, 1);
	if (c == '\n') {
		tty.line_start = tty.tail;
		tty.lines++;
	}
}

/* Move every byte the UART holds into the tty buffer. */
static int tty_poll_uart(void)
{
	int c, got = 0;
	while ((c = serial_getc()) >= 0) {
		n_tty_receive_char((char)c);
		got = 1;
	}
	return got;
}

/* The SERIAL_VECTOR handler (the arch code sends the EOI). */
void console_input_irq(void)
{
	unsigned long flags;
	local_irq_save(flags);
	int had = tty.lines;
	tty_poll_uart();
	if (tty.lines > had)
		wake_up(&tty_wait);
	local_irq_restore(flags);
}

/*
 * Read one line (up to n bytes, the newline included), sleeping until one
 * is there.  As Linux's wait_event(): mark ourselves waiting first, then
 * test, so a line that arrives in between wakes us instead of being missed.
 */
long tty_read(char *buf, long n)
{
	unsigned long flags;
	long got = 0;

	if (n <= 0)
		return 0;
	for (;;) {
		prepare_to_wait(&tty_wait);
		local_irq_save(flags);
		tty_poll_uart();        /* also works before the IRQ is wired */
		bool ready = tty.lines > 0;
		local_irq_restore(flags);
		if (ready)
			break;
		if (signal_pending(current)) {
			finish_wait(&tty_wait);
			return -4;      /* -EINTR: killed while waiting */
		}
		lab_event(LAB_EV_TTY_WAIT, 0, 0, 0);
		schedule();
	}
	finish_wait(&tty_wait);

	local_irq_save(flags);
	while (got < n && tty.head != tty.tail) {
		char c = tty.buf[tty.head];
		tty.head = (tty.head + 1) % TTY_BUF_SIZE;
		buf[got++] = c;
		if (c == '\n') {
			tty.lines--;
			break;
		}
	}
	local_irq_restore(flags);
	return got;
}

long tty_write(const char *buf, long n)
{
	if (n > 0)
		console_write_user(buf, n);
	return n;
}
