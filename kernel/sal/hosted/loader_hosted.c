/*
 * loader_hosted.c - the loader's platform calls on Linux (sal_loader.h):
 * object images in anonymous mappings, W^X through mprotect, the kernel's
 * own image from /proc/self/exe, ed25519 through libsodium.
 */
#include "kernel/sal/sal_loader.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/sal/sal.h"

size_t sal_ldr_page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}

static size_t page_round(size_t n)
{
	size_t ps = sal_ldr_page_size();
	return (n + ps - 1) & ~(ps - 1);
}

void *sal_ldr_map(size_t bytes)
{
	if (bytes == 0 || bytes > ((size_t)1 << 40))
		return NULL;
	void *p = mmap(NULL, page_round(bytes), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int sal_ldr_protect(void *p, size_t bytes, unsigned prot)
{
	int m = PROT_NONE;

	if ((prot & SAL_LDR_WRITE) && (prot & SAL_LDR_EXEC))
		return -1;
	if (prot & SAL_LDR_READ)
		m |= PROT_READ;
	if (prot & SAL_LDR_WRITE)
		m |= PROT_WRITE;
	if (prot & SAL_LDR_EXEC)
		m |= PROT_EXEC;
	return mprotect(p, page_round(bytes), m) ? -1 : 0;
}

void sal_ldr_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, page_round(bytes));
}

int sal_ldr_read_file(const char *path, void **buf, size_t *len, size_t max)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *b;
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return -1;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		return -1;
	}
	b[got] = 0;
	*buf = b;
	*len = got;
	return 0;
}

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static const void *self_buf;
static size_t self_len;

static void self_map(void)
{
	struct stat st;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (!fstat(fd, &st) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			self_buf = p;
			self_len = (size_t)st.st_size;
		}
	}
	close(fd);
}

int sal_ldr_self_image(const void **buf, size_t *len)
{
	pthread_once(&self_once, self_map);
	if (!self_buf)
		return -1;
	*buf = self_buf;
	*len = self_len;
	return 0;
}

/* sodium_init is idempotent and thread-safe; it fails only when the
 * system has no randomness source; then nothing verifies. */
bool sal_ldr_verify(const uint8_t sig[SAL_LDR_SIG_LEN], const void *msg, size_t len,
		    const uint8_t pk[SAL_LDR_PUBKEY_LEN])
{
	if (sodium_init() < 0)
		return false;
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}
