/*
 * sal_loader.h - what spin's linker (kernel/domain) needs from the
 * platform: memory that can become executable, the bytes of files (objects,
 * signatures, keys), the running kernel's own image (for the symbols of
 * built-in modules), and ed25519 signature verification.
 *
 * Hosted (kernel/sal/hosted/loader_hosted.c): anonymous mmap and mprotect,
 * plain file reads, /proc/self/exe, libsodium.  Every call here is a
 * control-path call.
 */
#ifndef SPIN_SAL_LOADER_H
#define SPIN_SAL_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SAL_LDR_READ = 1, SAL_LDR_WRITE = 2, SAL_LDR_EXEC = 4 };

/* Page-aligned memory for one object's image, zeroed, readable and
 * writable, never executable until sal_ldr_protect says so.  NULL on
 * failure.  bytes is rounded up to the page size. */
void *sal_ldr_map(size_t bytes);
/* Sets the protection of [p, p+bytes) (page aligned) to SAL_LDR_* bits.
 * The platform refuses WRITE|EXEC together (W^X).  0 on success. */
int sal_ldr_protect(void *p, size_t bytes, unsigned prot);
void sal_ldr_unmap(void *p, size_t bytes);
size_t sal_ldr_page_size(void);

/* Reads a whole file of at most max bytes into *buf (sal_free it).
 * 0 on success, -1 when it cannot be opened or read or is too large. */
int sal_ldr_read_file(const char *path, void **buf, size_t *len, size_t max);

/* The file the running kernel was loaded from, mapped read-only once for
 * the life of the process, and where in memory a symbol known by name lies:
 * the caller parses the file's symbol table and computes the load bias
 * from one symbol (see domain.c).  0 on success. */
int sal_ldr_self_image(const void **buf, size_t *len);

/* ed25519 (RFC 8032) detached signature check over msg. */
#define SAL_LDR_PUBKEY_LEN 32
#define SAL_LDR_SIG_LEN 64
bool sal_ldr_verify(const uint8_t sig[SAL_LDR_SIG_LEN], const void *msg, size_t len,
		    const uint8_t pk[SAL_LDR_PUBKEY_LEN]);

#endif
