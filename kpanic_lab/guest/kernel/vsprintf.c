/*
 * vsprintf.c - formatted output (lib/vsprintf.c, much reduced).
 *
 * Conversions: %d %i %u %x %X %o %c %s %% with flags '-', '0', '+', ' ', '#',
 * a field width and precision (numbers or '*'), and the length modifiers
 * hh h l ll z.  Pointer extensions as Linux, because the oops is built
 * from them:
 *   %px  the raw pointer, 16 hex digits
 *   %p   the same (Linux hashes plain %p; the lab wants the real value)
 *   %pS  symbol+offset/size [module]   ("panic+0x118/0x2f4")
 *   %ps  symbol only                   ("panic")
 *   %pB  a return address: the symbol of addr - 1 (a call to a noreturn
 *        function may end its caller), with addr's offset (%pBb too)
 *   %*ph N bytes as hex, space separated (the "Code:" line)
 * vsnprintf never writes past size and always terminates; it returns the
 * length the whole output would have had, as the C library.
 */
#include "types.h"
#include "defs.h"

struct outbuf {
	char *buf;
	size_t size;
	size_t pos;
};

static void put(struct outbuf *o, char c)
{
	if (o->pos + 1 < o->size)
		o->buf[o->pos] = c;
	o->pos++;
}

#define F_LEFT  1
#define F_ZERO  2
#define F_PLUS  4
#define F_SPACE 8
#define F_ALT   16
#define F_UPPER 32
#define F_SIGN  64

struct spec {
	int flags;
	int width;      /* -1: none */
	int prec;       /* -1: none */
	int base;
};

static void put_padding(struct outbuf *o, int n, char c)
{
	while (n-- > 0)
		put(o, c);
}

static void put_number(struct outbuf *o, unsigned long long v, struct spec s)
{
	const char *digits = (s.flags & F_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	char sign = 0;
	const char *prefix = "";

	if ((s.flags & F_SIGN) && (long long)v < 0) {
		sign = '-';
		v = -(long long)v;
	} else if (s.flags & F_SIGN) {
		if (s.flags & F_PLUS)
			sign = '+';
		else if (s.flags & F_SPACE)
			sign = ' ';
	}
	if ((s.flags & F_ALT) && s.base == 16)
		prefix = (s.flags & F_UPPER) ? "0X" : "0x";
	else if ((s.flags & F_ALT) && s.base == 8)
		prefix = "0";

	do {
		tmp[n++] = digits[v % s.base];
		v /= s.base;
	} while (v);

	int ndigits = n > s.prec ? n : s.prec;
	int len = ndigits + (sign != 0) + (int)strlen(prefix);
	int pad = s.width > len ? s.width - len : 0;

	if (!(s.flags & F_LEFT) && !((s.flags & F_ZERO) && s.prec < 0))
		put_padding(o, pad, ' ');
	if (sign)
		put(o, sign);
	for (const char *p = prefix; *p; p++)
		put(o, *p);
	if (!(s.flags & F_LEFT) && (s.flags & F_ZERO) && s.prec < 0)
		put_padding(o, pad, '0');
	put_padding(o, ndigits - n, '0');
	while (n)
		put(o, tmp[--n]);
	if (s.flags & F_LEFT)
		put_padding(o, pad, ' ');
}

static void put_string(struct outbuf *o, const char *str, struct spec s)
{
	if (!str)
		str = "(null)";
	int len = (int)strnlen(str, s.prec >= 0 ? (size_t)s.prec : (size_t)-1);
	int pad = s.width > len ? s.width - len : 0;
	if (!(s.flags & F_LEFT))
		put_padding(o, pad, ' ');
	for (int i = 0; i < len; i++)
		put(o, str[i]);
	if (s.flags & F_LEFT)
		put_padding(o, pad, ' ');
}

/* %*ph: `width` bytes (default 1) as two hex digits each, space separated. */
static void put_hex_bytes(struct outbuf *o, const u8 *p, int count)
{
	static const char hex[] = "0123456789abcdef";
	if (count < 0)
		count = 1;
	for (int i = 0; i < count && i < 64; i++) {
		if (i)
			put(o, ' ');
		put(o, hex[p[i] >> 4]);
		put(o, hex[p[i] & 15]);
	}
}

/* The %p family; fmt points at the character after 'p'.  Returns chars of fmt used. */
static int put_pointer(struct outbuf *o, const char *fmt, void *ptr, struct spec s)
{
	char sym[160];
	switch (*fmt) {
	case 'S':
		sprint_symbol(sym, (unsigned long)ptr);
		put_string(o, sym, s);
		return 1;
	case 'B':       /* a return address: %pB, and Linux's %pBb */
		sprint_backtrace(sym, (unsigned long)ptr);
		put_string(o, sym, s);
		return fmt[1] == 'b' ? 2 : 1;
	case 's':
		sprint_symbol_no_offset(sym, (unsigned long)ptr);
		put_string(o, sym, s);
		return 1;
	case 'h':
		put_hex_bytes(o, ptr, s.width);
		return 1;
	case 'x':
	case 'K':
	default: {
		/* a raw pointer: 16 hex digits, unless a wider field was asked for */
		struct spec ps = { F_ZERO, 16, -1, 16 };
		if (s.width > 16 || (s.flags & F_LEFT)) {
			ps = s;
			ps.base = 16;
		}
		put_number(o, (unsigned long)ptr, ps);
		return (*fmt == 'x' || *fmt == 'K') ? 1 : 0;
	}
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	while (*fmt) {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		fmt++;
		struct spec s = { 0, -1, -1, 10 };
		for (;; fmt++) {
			if (*fmt == '-') s.flags |= F_LEFT;
			else if (*fmt == '0') s.flags |= F_ZERO;
			else if (*fmt == '+') s.flags |= F_PLUS;
			else if (*fmt == ' ') s.flags |= F_SPACE;
			else if (*fmt == '#') s.flags |= F_ALT;
			else break;
		}
		if (*fmt == '*') {
			s.width = va_arg(ap, int);
			if (s.width < 0) {
				s.flags |= F_LEFT;
				s.width = -s.width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				s.width = (s.width < 0 ? 0 : s.width * 10) + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			s.prec = 0;
			if (*fmt == '*') {
				s.prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					s.prec = s.prec * 10 + (*fmt++ - '0');
			}
		}
		int lng = 0;       /* 0 int, 1 long, 2 long long, -1 short, -2 char */
		for (;; fmt++) {
			if (*fmt == 'l' || *fmt == 'L' || *fmt == 'z' || *fmt == 't')
				lng = lng >= 1 ? 2 : 1;
			else if (*fmt == 'h')
				lng = lng < 0 ? -2 : -1;
			else
				break;
		}

		unsigned long long v;
		char c = *fmt++;
		switch (c) {
		case 'd':
		case 'i':
			s.flags |= F_SIGN;
			if (lng >= 1) v = va_arg(ap, long long);
			else if (lng == -1) v = (short)va_arg(ap, int);
			else if (lng == -2) v = (signed char)va_arg(ap, int);
			else v = (long long)va_arg(ap, int);
			put_number(&o, v, s);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			s.base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
			if (c == 'X')
				s.flags |= F_UPPER;
			if (lng >= 1) v = va_arg(ap, unsigned long long);
			else if (lng == -1) v = (unsigned short)va_arg(ap, unsigned int);
			else if (lng == -2) v = (unsigned char)va_arg(ap, unsigned int);
			else v = va_arg(ap, unsigned int);
			put_number(&o, v, s);
			break;
		case 'c': {
			char ch = (char)va_arg(ap, int);
			if (!(s.flags & F_LEFT))
				put_padding(&o, s.width - 1, ' ');
			put(&o, ch);
			if (s.flags & F_LEFT)
				put_padding(&o, s.width - 1, ' ');
			break;
		}
		case 's':
			put_string(&o, va_arg(ap, const char *), s);
			break;
		case 'p':
			fmt += put_pointer(&o, fmt, va_arg(ap, void *), s);
			break;
		case '%':
			put(&o, '%');
			break;
		case 0:
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, c);
			break;
		}
	}
	if (size)
		buf[o.pos < size ? o.pos : size - 1] = 0;
	return (int)o.pos;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* scnprintf: like snprintf but returns what was really written (Linux). */
int vscnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);
	if (!size)
		return 0;
	return (size_t)n < size ? n : (int)size - 1;
}

int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vscnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, (size_t)1 << 30, fmt, ap);
	va_end(ap);
	return n;
}
