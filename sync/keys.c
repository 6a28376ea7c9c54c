/* keys: CURVE key pairs on disk (see keys.h). */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

static int
s_write_file(const char *path, const char *text, mode_t mode, err_t *err)
{
	int fd;
	size_t n = strlen(text);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return err_set(err, ERR_INTERNAL, "write %s: %s", path,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n ||
	    write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		err_set(err, ERR_INTERNAL, "write %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Reads the first line of path (at most KEYS_Z85_LEN chars) into buf. */
static int
s_read_key(const char *path, char *buf, err_t *err)
{
	FILE *f = fopen(path, "r");
	char line[128];
	size_t n;

	if (f == NULL)
		return err_set(err, ERR_INTERNAL, "read key %s: %s", path,
		    strerror(errno));
	if (fgets(line, sizeof line, f) == NULL) {
		fclose(f);
		sodium_memzero(line, sizeof line);
		return err_set(err, ERR_INTERNAL, "read key %s: empty", path);
	}
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n != KEYS_Z85_LEN || !keys_valid_z85(line)) {
		sodium_memzero(line, sizeof line);
		return err_set(err, ERR_INTERNAL,
		    "read key %s: not a Z85 CURVE key", path);
	}
	memcpy(buf, line, KEYS_Z85_LEN + 1);
	sodium_memzero(line, sizeof line);
	return 0;
}

int
keys_generate(const char *dir, const char *name, char *public_z85, err_t *err)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	unsigned char *sk;
	char *sk_z85, path[4096];
	int rc = -1;

	if (sodium_init() < 0)
		return err_set(err, ERR_INTERNAL,
		    "keys: libsodium init failed");
	sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	sk_z85 = sodium_malloc(KEYS_Z85_LEN + 1);
	if (sk == NULL || sk_z85 == NULL)
		fatal("keys: out of secure memory");
	crypto_box_keypair(pk, sk);
	if (zmq_z85_encode(public_z85, pk, sizeof pk) == NULL ||
	    zmq_z85_encode(sk_z85, sk, crypto_box_SECRETKEYBYTES) == NULL) {
		err_set(err, ERR_INTERNAL, "keys: Z85 encoding failed");
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	if (s_write_file(path, sk_z85, 0600, err))
		goto out;
	snprintf(path, sizeof path, "%s/%s.pub", dir, name);
	if (s_write_file(path, public_z85, 0600, err))
		goto out;
	rc = 0;
out:
	sodium_free(sk);
	sodium_free(sk_z85);
	return rc;
}

int
keys_load(const char *dir, const char *name, keypair_t *kp, err_t *err)
{
	char path[4096];

	memset(kp, 0, sizeof *kp);
	if (sodium_init() < 0)
		return err_set(err, ERR_INTERNAL,
		    "keys: libsodium init failed");
	if (keys_load_public(dir, name, kp->public_z85, err))
		return -1;
	kp->secret_z85 = sodium_malloc(KEYS_Z85_LEN + 1);
	if (kp->secret_z85 == NULL)
		fatal("keys: out of secure memory");
	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	if (s_read_key(path, kp->secret_z85, err)) {
		keys_free(kp);
		return -1;
	}
	return 0;
}

int
keys_load_public(const char *dir, const char *name, char *public_z85,
    err_t *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s.pub", dir, name);
	return s_read_key(path, public_z85, err);
}

int
keys_save(const char *dir, const char *name, const keypair_t *kp, err_t *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	if (kp->secret_z85 == NULL)
		return err_set(err, ERR_INTERNAL, "write %s: no secret key",
		    path);
	if (s_write_file(path, kp->secret_z85, 0600, err))
		return -1;
	snprintf(path, sizeof path, "%s/%s.pub", dir, name);
	return s_write_file(path, kp->public_z85, 0600, err);
}

int
keys_pair_ok(const keypair_t *kp)
{
	uint8_t pk[crypto_box_PUBLICKEYBYTES];
	uint8_t derived[crypto_box_PUBLICKEYBYTES];
	uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	int ok = 0;

	if (sk == NULL)
		fatal("keys: out of secure memory");
	if (kp->secret_z85 != NULL &&
	    zmq_z85_decode(sk, kp->secret_z85) != NULL &&
	    zmq_z85_decode(pk, kp->public_z85) != NULL &&
	    crypto_scalarmult_base(derived, sk) == 0)
		ok = sodium_memcmp(derived, pk, sizeof pk) == 0;
	sodium_free(sk); /* wipes before freeing */
	return ok;
}

void
keys_free(keypair_t *kp)
{
	if (kp->secret_z85 != NULL)
		sodium_free(kp->secret_z85); /* wipes before freeing */
	memset(kp, 0, sizeof *kp);
}

int
keys_valid_z85(const char *text)
{
	uint8_t raw[32];

	if (strlen(text) != KEYS_Z85_LEN)
		return 0;
	return zmq_z85_decode(raw, text) != NULL;
}

int
keys_sign_pair(const keypair_t *kp, uint8_t pk[32], uint8_t **sk, err_t *err)
{
	uint8_t *curve = sodium_malloc(crypto_box_SECRETKEYBYTES);
	uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);
	static const uint8_t domain[crypto_generichash_KEYBYTES_MIN] =
	    "BL-SIGN-1-CURVE:"; /* 16 bytes, no NUL */
	int rc = -1;

	*sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (curve == NULL || seed == NULL || *sk == NULL)
		fatal("keys: out of secure memory");
	if (kp->secret_z85 == NULL ||
	    zmq_z85_decode(curve, kp->secret_z85) == NULL) {
		err_set(err, ERR_INTERNAL, "keys: the secret key is not Z85");
		sodium_free(*sk);
		*sk = NULL;
		goto out;
	}
	crypto_generichash(seed, crypto_sign_SEEDBYTES, curve,
	    crypto_box_SECRETKEYBYTES, domain, sizeof domain);
	crypto_sign_seed_keypair(pk, *sk, seed);
	rc = 0;
out:
	sodium_free(curve);
	sodium_free(seed);
	return rc;
}
