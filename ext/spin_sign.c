/*
 * spin_sign.c - the build's signing tool for extension objects.
 *
 *   spin-sign keygen SECRET PUBLIC     new ed25519 key pair (hex files; SECRET 0600)
 *   spin-sign sign SECRET OBJECT SIG   SIG = detached signature of OBJECT (128 hex digits)
 *   spin-sign verify PUBLIC OBJECT SIG exit 0 when it verifies
 *
 * The build makes one key pair per build directory (build/ext/spin-sign.key
 * and .pub, never committed) and signs every extension object with it; the
 * appliance trusts the public half through the config's `trust` line.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "spin-sign: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static int write_hex(const char *path, const unsigned char *v, size_t n, mode_t mode)
{
	char hex[2 * crypto_sign_SECRETKEYBYTES + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len;

	if (fd < 0)
		return -1;
	sodium_bin2hex(hex, sizeof hex - 1, v, n);
	len = strlen(hex);
	hex[len++] = '\n';
	if (write(fd, hex, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int read_hex(const char *path, unsigned char *v, size_t n)
{
	size_t len, got;
	unsigned char *b = slurp(path, &len);
	int rc;

	if (!b)
		return -1;
	rc = sodium_hex2bin(v, n, (const char *)b, len, " \n\r\t", &got, NULL);
	free(b);
	return rc == 0 && got == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	unsigned char sig[crypto_sign_BYTES];

	if (sodium_init() < 0)
		return die("%s", "libsodium failed to initialize");
	if (argc == 4 && !strcmp(argv[1], "keygen")) {
		crypto_sign_keypair(pk, sk);
		if (write_hex(argv[2], sk, sizeof sk, 0600) || write_hex(argv[3], pk, sizeof pk, 0644))
			return die("cannot write the key files: %s", strerror(errno));
		return 0;
	}
	if (argc == 5 && (!strcmp(argv[1], "sign") || !strcmp(argv[1], "verify"))) {
		size_t len;
		unsigned char *obj = slurp(argv[3], &len);
		int rc = 0;

		if (!obj)
			return die("cannot read %s", argv[3]);
		if (!strcmp(argv[1], "sign")) {
			if (read_hex(argv[2], sk, sizeof sk))
				rc = die("bad secret key file %s", argv[2]);
			else if (crypto_sign_detached(sig, NULL, obj, len, sk) ||
				 write_hex(argv[4], sig, sizeof sig, 0644))
				rc = die("cannot sign into %s", argv[4]);
			sodium_memzero(sk, sizeof sk);
		} else {
			if (read_hex(argv[2], pk, sizeof pk) || read_hex(argv[4], sig, sizeof sig))
				rc = die("%s", "bad key or signature file");
			else if (crypto_sign_verify_detached(sig, obj, len, pk))
				rc = die("%s: signature does not verify", argv[3]);
		}
		free(obj);
		return rc;
	}
	fprintf(stderr, "usage: spin-sign keygen SECRET PUBLIC\n"
			"       spin-sign sign SECRET OBJECT SIG\n"
			"       spin-sign verify PUBLIC OBJECT SIG\n");
	return 2;
}
