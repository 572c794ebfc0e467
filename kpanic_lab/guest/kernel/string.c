/*
 * string.c - the C library routines the kernel uses (lib/string.c, lib/cmdline.c).
 *
 * gcc may emit calls to memcpy/memset/memmove/memcmp for struct copies and
 * large initialisers even with -ffreestanding, so these must exist and must
 * not themselves be compiled into calls to memset (loop idiom recognition):
 * the copying ones use the x86 string instructions instead of C loops,
 * 8 bytes at a time (rep stosq / movsq) and the tail byte by byte: page
 * clears and copies are most of the kernel's memory traffic.
 */
#include "types.h"
#include "defs.h"

void *memset(void *s, int c, size_t n)
{
	void *d = s;
	size_t words = n / 8, tail = n % 8;
	unsigned long v = 0x0101010101010101UL * (u8)c;
	asm volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(v) : "memory");
	asm volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(v) : "memory");
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *dd = d;
	size_t words = n / 8, tail = n % 8;
	asm volatile("rep movsq" : "+D"(dd), "+S"(s), "+c"(words) :: "memory");
	asm volatile("rep movsb" : "+D"(dd), "+S"(s), "+c"(tail) :: "memory");
	return d;
}

/* Overlapping copies: copy backwards (std; rep movsb) when d is above s. */
void *memmove(void *d, const void *s, size_t n)
{
	if (d <= s || (const char *)d >= (const char *)s + n)
		return memcpy(d, s, n);
	void *dd = (char *)d + n - 1;
	const void *ss = (const char *)s + n - 1;
	asm volatile("std; rep movsb; cld" : "+D"(dd), "+S"(ss), "+c"(n) :: "memory");
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return p - s;
}

size_t strnlen(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i])
		i++;
	return i;
}

int strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strcpy(char *d, const char *s)
{
	char *r = d;
	while ((*d++ = *s++))
		;
	return r;
}

/*
 * strscpy: copy at most n-1 bytes and always terminate (n > 0).
 * Returns the length copied, or -7 (-E2BIG) if s was truncated, as Linux.
 */
size_t strscpy(char *d, const char *s, size_t n)
{
	size_t i;
	if (!n)
		return (size_t)-7;
	for (i = 0; i < n - 1 && s[i]; i++)
		d[i] = s[i];
	d[i] = 0;
	return s[i] ? (size_t)-7 : i;
}

char *strchr(const char *s, int c)
{
	for (; *s; s++)
		if (*s == (char)c)
			return (char *)s;
	return c == 0 ? (char *)s : NULL;
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	do {
		if (*s == (char)c)
			last = s;
	} while (*s++);
	return (char *)last;
}

char *strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);
	if (!ln)
		return (char *)h;
	for (; *h; h++)
		if (!strncmp(h, n, ln))
			return (char *)h;
	return NULL;
}

size_t strcspn(const char *s, const char *reject)
{
	size_t i = 0;
	while (s[i] && !strchr(reject, s[i]))
		i++;
	return i;
}

char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	return (char *)s;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* base 0 means: 0x.. hex, 0.. octal, else decimal (as the C library). */
unsigned long simple_strtoul(const char *s, char **end, unsigned int base)
{
	unsigned long v = 0;
	if (base == 0) {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digit_value(s[2]) < 16) {
			base = 16;
			s += 2;
		} else if (s[0] == '0') {
			base = 8;
		} else {
			base = 10;
		}
	} else if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
	}
	for (; digit_value(*s) < (int)base; s++)
		v = v * base + digit_value(*s);
	if (end)
		*end = (char *)s;
	return v;
}

long simple_strtol(const char *s, char **end, unsigned int base)
{
	if (*s == '-')
		return -(long)simple_strtoul(s + 1, end, base);
	return (long)simple_strtoul(s, end, base);
}

/* memparse: a number with an optional K/M/G/T suffix ("192M"), as lib/cmdline.c. */
unsigned long long memparse(const char *s, char **end)
{
	char *e;
	unsigned long long v = simple_strtoul(s, &e, 0);
	switch (*e) {
	case 'T': case 't': v <<= 10; /* fall through */
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; e++;
	default: break;
	}
	if (end)
		*end = e;
	return v;
}
