/*
 * chain: tamper evidence for each site's log.
 *
 * A site's ops, in seq order, form a BLAKE2b hash chain:
 *
 *   chain(0) = BLAKE2b-256("BL-CHAIN-1" || origin)
 *   chain(s) = BLAKE2b-256(chain(s - 1) || op_hash(op s))
 *
 * so one chain value vouches for every op of the site up to it: an op
 * altered, removed or put in between changes every value after it. A node
 * signs each batch it pushes, not each op (Ed25519 costs about 20 us to
 * sign and 50 us to verify), over
 *
 *   "BL-PUSH-1" || origin || 0x00 || be64(last seq) || chain(last seq)
 *
 * with a key derived from its CURVE secret (keys.h). The hub recomputes
 * the chain of what it receives, checks the signature before it commits,
 * and keeps both; `bl-hub audit` re-verifies everything it holds, naming
 * the first op that does not match.
 */
#ifndef BL_CHAIN_H
#define BL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define CHAIN_BYTES 32	   /* a chain value */
#define CHAIN_SIG_BYTES 64 /* an Ed25519 signature */
#define CHAIN_PK_BYTES 32  /* an Ed25519 public key */
#define CHAIN_SK_BYTES 64  /* an Ed25519 secret key */

/* chain(0) of origin into out. */
void chain_start(const char *origin, uint8_t out[CHAIN_BYTES]);

/* chain(s) into out, from chain(s - 1) (prev) and op s's exact bytes. out
 * may be prev. */
void chain_next(const uint8_t prev[CHAIN_BYTES], const uint8_t *body,
    size_t len, uint8_t out[CHAIN_BYTES]);

/* Signs that origin's log up to seq has chain value chain, with sk
 * (borrowed, CHAIN_SK_BYTES), into sig. */
void chain_sign(const uint8_t *sk, const char *origin, uint64_t seq,
    const uint8_t chain[CHAIN_BYTES], uint8_t sig[CHAIN_SIG_BYTES]);

/* Whether sig is pk's signature of origin's log up to seq at chain. */
int chain_verify(const uint8_t pk[CHAIN_PK_BYTES], const char *origin,
    uint64_t seq, const uint8_t chain[CHAIN_BYTES],
    const uint8_t sig[CHAIN_SIG_BYTES]);

#endif
