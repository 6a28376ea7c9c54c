/*
 * keys: CURVE key pairs on disk.
 *
 * A key pair is generated here with libsodium and stored as two Z85 files in
 * the data directory: NAME.pub and NAME.key (the secret), both 0600 as
 * everything in a data directory is (daemon.h), whatever the umask. The
 * secret never leaves the machine that generated it, but for the hub key
 * the hubs of a cluster share (keys_save writes a copy). In memory the secret
 * lives in sodium_malloc'd, guarded memory, wiped when freed.
 */
#ifndef BL_KEYS_H
#define BL_KEYS_H

#include <stdint.h>

#include "err.h"

#define KEYS_Z85_LEN 40 /* Z85 text of a 32-byte key */

typedef struct {
	char public_z85[KEYS_Z85_LEN + 1];
	char *secret_z85; /* sodium_malloc'd KEYS_Z85_LEN + 1 bytes */
} keypair_t;

/* Generates a new pair and writes DIR/NAME.pub and DIR/NAME.key; refuses to
 * overwrite existing files. Fills public_z85 (KEYS_Z85_LEN + 1 bytes). */
int keys_generate(const char *dir, const char *name, char *public_z85,
    err_t *err);

/* Loads DIR/NAME.pub and DIR/NAME.key into kp (free with keys_free). */
int keys_load(const char *dir, const char *name, keypair_t *kp, err_t *err);

/* Loads only the public key. */
int keys_load_public(const char *dir, const char *name, char *public_z85,
    err_t *err);

/* Writes kp (loaded elsewhere: another hub's pair, which all hubs of a
 * cluster share) as DIR/NAME.pub and DIR/NAME.key, 0600, refusing to
 * overwrite existing files, as keys_generate does. */
int keys_save(const char *dir, const char *name, const keypair_t *kp,
    err_t *err);

/* Whether kp's public key is its secret's (1) or not (0). */
int keys_pair_ok(const keypair_t *kp);

/* Wipes and frees the secret; accepts a zeroed kp. */
void keys_free(keypair_t *kp);

/* The pair that signs the batches a node pushes (chain.h), derived from
 * kp's CURVE secret (BLAKE2b-keyed, so neither key tells the other): pk
 * gets the public key (32 bytes); *sk a sodium_malloc'd secret (64 bytes)
 * the caller wipes and frees with sodium_free. -1 with err when kp's secret
 * is not a Z85 key. */
int keys_sign_pair(const keypair_t *kp, uint8_t pk[32], uint8_t **sk,
    err_t *err);

/* Whether text is a well-formed Z85 CURVE public key. */
int keys_valid_z85(const char *text);

#endif
